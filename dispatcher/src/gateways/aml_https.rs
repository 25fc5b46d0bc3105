//! AML HTTPS form parser (Android ELS style `location_latitude=...` fields) with optional HMAC-SHA256 check.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{
    check_coordinates, check_fix_time, check_radius, digits_field, is_digits, parse_decimal, AmlError, AmlFix,
    PositioningMethod, MAX_HTTPS_BYTES, MAX_HTTPS_FIELDS,
};

type HmacSha256 = Hmac<Sha256>;

/// The field carrying the signature; it is left out of the canonical string.
const HMAC_FIELD: &str = "hmac";

/// A Unix time at or above this is read as milliseconds (10^11 s is in the
/// year 5138; 10^11 ms is in 1973).
const MILLIS_THRESHOLD: i64 = 100_000_000_000;

fn get<'a>(fields: &'a [(String, String)], key: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim())
}

/// Percent-encodes every byte except the RFC 3986 unreserved characters
/// `A-Z a-z 0-9 - . _ ~`, with upper-case hex (`+` becomes `%2B`, a space `%20`).
fn percent_encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// The string the `hmac` field signs: every field except `hmac`, sorted by
/// name (then value) in byte order, each written as
/// `percent(name)=percent(value)` and joined with `&`. Values are the
/// decoded form values, as received, not trimmed.
pub fn https_canonical_string(fields: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = fields.iter().filter(|(k, _)| k != HMAC_FIELD).collect();
    sorted.sort();
    let mut out = String::new();
    for (i, (k, v)) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        percent_encode(k, &mut out);
        out.push('=');
        percent_encode(v, &mut out);
    }
    out
}

/// Lower-case hex HMAC-SHA256 of [`https_canonical_string`] under `key`:
/// what a sender puts in the `hmac` field.
pub fn sign_https(fields: &[(String, String)], key: &[u8]) -> String {
    match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(https_canonical_string(fields).as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

fn verify_hmac(fields: &[(String, String)], key: &[u8]) -> Result<(), AmlError> {
    let bad = |message: &str| AmlError::new("aml_bad_hmac", HMAC_FIELD, message);
    if key.is_empty() {
        return Err(bad("the server's HMAC key is empty; refusing unauthenticated data"));
    }
    let given = get(fields, HMAC_FIELD).ok_or_else(|| bad("is missing"))?;
    if given.len() != 64 {
        return Err(bad("must be 64 hex digits (HMAC-SHA256)"));
    }
    let given = hex::decode(given).map_err(|_| bad("must be 64 hex digits (HMAC-SHA256)"))?;
    let mut mac = HmacSha256::new_from_slice(key).map_err(|_| bad("cannot be checked"))?;
    mac.update(https_canonical_string(fields).as_bytes());
    // `verify_slice` compares in constant time.
    mac.verify_slice(&given).map_err(|_| bad("does not match the message"))
}

/// Parses an AML HTTPS POST (`application/x-www-form-urlencoded`, already
/// decoded into name/value pairs).
///
/// With `hmac_key`, the `hmac` field must be the hex HMAC-SHA256 of
/// [`https_canonical_string`]; it is checked (in constant time) before any
/// other field is read. Unknown fields are ignored; a field given twice is
/// an error. `location_latitude` and `location_longitude` are required.
pub fn parse_https(
    fields: &[(String, String)],
    hmac_key: Option<&[u8]>,
    now: DateTime<Utc>,
) -> Result<AmlFix, AmlError> {
    let bytes = fields
        .iter()
        .fold(0usize, |n, (k, v)| n.saturating_add(k.len()).saturating_add(v.len()));
    if fields.len() > MAX_HTTPS_FIELDS || bytes > MAX_HTTPS_BYTES {
        return Err(AmlError::new(
            "aml_too_large",
            "body",
            format!("at most {MAX_HTTPS_FIELDS} fields and {MAX_HTTPS_BYTES} bytes"),
        ));
    }
    for (i, (k, _)) in fields.iter().enumerate() {
        if k.is_empty() {
            return Err(AmlError::malformed("body", "a field has an empty name"));
        }
        if fields.iter().take(i).any(|(other, _)| other == k) {
            return Err(AmlError::malformed(k, "appears more than once"));
        }
    }
    if let Some(key) = hmac_key {
        verify_hmac(fields, key)?;
    }

    let version = match get(fields, "v") {
        None | Some("") => 1,
        Some(v) => v
            .parse::<u8>()
            .ok()
            .filter(|_| is_digits(v, 1, 3))
            .ok_or_else(|| AmlError::malformed("v", "must be a version number"))?,
    };
    let lat = degrees(fields, "location_latitude")?;
    let lon = degrees(fields, "location_longitude")?;
    let positioning = get(fields, "location_source")
        .map(PositioningMethod::from_https_source)
        .unwrap_or(PositioningMethod::Unknown);
    if positioning == PositioningMethod::None {
        return Err(AmlError::new(
            "aml_no_location",
            "location_source",
            "the phone reported no position",
        ));
    }
    check_coordinates(lat, lon, "location_latitude", "location_longitude")?;
    let radius_m = match get(fields, "location_accuracy") {
        None | Some("") => None,
        Some(v) => {
            let r = parse_decimal(v, true)
                .ok_or_else(|| AmlError::malformed("location_accuracy", "must be a number of metres"))?;
            check_radius(r, "location_accuracy")?
        }
    };
    let fix_time = match get(fields, "location_time") {
        None | Some("") => None,
        Some(v) => {
            let t = parse_time(v).ok_or_else(|| {
                AmlError::malformed(
                    "location_time",
                    "must be Unix time in milliseconds (or seconds, or RFC 3339)",
                )
            })?;
            check_fix_time(t, now, "location_time")?;
            Some(t)
        }
    };
    let confidence_pct = match get(fields, "location_confidence") {
        None | Some("") => None,
        Some(v) => Some(parse_confidence(v)?),
    };
    let caller = match get(fields, "device_number") {
        None | Some("") => None,
        Some(v) if is_digits(v.strip_prefix('+').unwrap_or(v), 3, 20) => Some(v.to_string()),
        Some(_) => {
            return Err(AmlError::malformed(
                "device_number",
                "must be a phone number: optional '+' and 3 to 20 digits",
            ))
        }
    };
    Ok(AmlFix {
        version,
        lat,
        lon,
        radius_m,
        confidence_pct,
        positioning,
        fix_time,
        caller,
        imsi: digits_field("device_imsi", get(fields, "device_imsi"), 5, 15)?,
        imei: digits_field("device_imei", get(fields, "device_imei"), 14, 17)?,
        mcc: digits_field("cell_network_mcc", get(fields, "cell_network_mcc"), 3, 3)?,
        mnc: digits_field("cell_network_mnc", get(fields, "cell_network_mnc"), 2, 3)?,
    })
}

fn degrees(fields: &[(String, String)], key: &str) -> Result<f64, AmlError> {
    match get(fields, key) {
        None | Some("") => Err(AmlError::new("aml_no_location", key, "is missing")),
        Some(v) => {
            parse_decimal(v, true).ok_or_else(|| AmlError::malformed(key, "must be a decimal number of degrees"))
        }
    }
}

/// Unix milliseconds (what Android sends), Unix seconds (below
/// [`MILLIS_THRESHOLD`]) or an RFC 3339 date-time.
fn parse_time(v: &str) -> Option<DateTime<Utc>> {
    if is_digits(v, 1, 16) {
        let n: i64 = v.parse().ok()?;
        if n >= MILLIS_THRESHOLD {
            DateTime::from_timestamp_millis(n)
        } else {
            DateTime::from_timestamp(n, 0)
        }
    } else if v.len() <= 40 {
        DateTime::parse_from_rfc3339(v).ok().map(|t| t.with_timezone(&Utc))
    } else {
        None
    }
}

/// `location_confidence`: a fraction 0 to 1 (Android: `0.6827`) or a
/// percentage above 1 up to 100; `1` is read as the fraction (100 %).
fn parse_confidence(v: &str) -> Result<u8, AmlError> {
    let c = parse_decimal(v, true)
        .ok_or_else(|| AmlError::malformed("location_confidence", "must be a fraction 0-1 or a percentage"))?;
    let pct = if (0.0..=1.0).contains(&c) { c * 100.0 } else { c };
    if !(0.0..=100.0).contains(&pct) {
        return Err(AmlError::new(
            "aml_out_of_range",
            "location_confidence",
            "must be 0 to 1 (fraction) or 0 to 100 (percent)",
        ));
    }
    // In range 0..=100, so the cast neither truncates nor saturates.
    Ok(pct.round() as u8)
}
