//! AML SMS body parser and formatter (`A"ML=1;lt=...;ml=NNN` and the version-2 `lo=` form).

use chrono::{DateTime, NaiveDateTime, Utc};

use super::{
    check_coordinates, check_fix_time, check_radius, digits_field, is_digits, parse_confidence_pct, parse_decimal,
    AmlError, AmlFix, PositioningMethod, MAX_SMS_BYTES, ML_TOLERANCE,
};

/// The header key every AML SMS starts with.
const HEADER_KEY: &str = "A\"ML";

/// The key/value fields of one message, in order, without the header.
type Fields<'a> = Vec<(&'a str, &'a str)>;

fn get<'a>(fields: &[(&'a str, &'a str)], key: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// Parses an AML SMS body (the text after GSM 7-bit decoding).
///
/// Leading and trailing ASCII whitespace (a gateway's CR/LF) is ignored and
/// not counted by `ml`; one trailing `;` is accepted (and counted). Every
/// other byte must be printable ASCII. Unknown keys are ignored; a key given
/// twice is an error. See `docs/gateways.md`.
pub fn parse_sms(body: &[u8], now: DateTime<Utc>) -> Result<AmlFix, AmlError> {
    if body.len() > MAX_SMS_BYTES {
        return Err(AmlError::new(
            "aml_too_large",
            "body",
            format!("is {} bytes (max {MAX_SMS_BYTES})", body.len()),
        ));
    }
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return Err(AmlError::malformed("body", "is empty"));
    }
    if let Some((pos, b)) = trimmed.iter().enumerate().find(|(_, b)| !(0x20..=0x7e).contains(*b)) {
        return Err(AmlError::malformed(
            "body",
            format!("byte 0x{b:02x} at offset {pos} is not printable ASCII"),
        ));
    }
    let text = std::str::from_utf8(trimmed).map_err(|_| AmlError::malformed("body", "is not ASCII text"))?;
    let content = text.strip_suffix(';').unwrap_or(text);

    let mut parts = content.split(';');
    let header = parts.next().unwrap_or_default();
    let version = parse_header(header)?;

    let mut fields: Fields<'_> = Vec::new();
    for (n, part) in parts.enumerate() {
        let position = n.saturating_add(2);
        if part.is_empty() {
            return Err(AmlError::malformed(
                "body",
                format!("field {position} is empty (two ';' in a row)"),
            ));
        }
        let Some((key, value)) = part.split_once('=') else {
            return Err(AmlError::malformed("body", format!("field {position} has no '='")));
        };
        if key.is_empty() {
            return Err(AmlError::malformed(
                "body",
                format!("field {position} has an empty key"),
            ));
        }
        if key == HEADER_KEY || get(&fields, key).is_some() {
            return Err(AmlError::malformed(key, "appears more than once"));
        }
        fields.push((key, value));
    }

    check_length(&fields, text.len())?;
    match version {
        1 => parse_v1(&fields, now),
        _ => parse_v2(&fields, now),
    }
}

fn parse_header(header: &str) -> Result<u8, AmlError> {
    let Some((key, value)) = header.split_once('=') else {
        return Err(AmlError::malformed("header", "must start with A\"ML=<version>"));
    };
    if key != HEADER_KEY {
        return Err(AmlError::malformed("header", "must start with A\"ML=<version>"));
    }
    match value {
        "1" => Ok(1),
        "2" => Ok(2),
        v if is_digits(v, 1, 3) => Err(AmlError::new(
            "aml_unsupported_version",
            "header",
            format!("version {v} is not supported (1 or 2)"),
        )),
        _ => Err(AmlError::malformed("header", "version must be a number")),
    }
}

/// `ml` is the length of the whole message in characters, header and the
/// `ml=NNN` field included (ETSI TS 103 625), compared with [`ML_TOLERANCE`].
fn check_length(fields: &[(&str, &str)], actual: usize) -> Result<(), AmlError> {
    let Some(ml) = get(fields, "ml") else {
        return Err(AmlError::malformed("ml", "is missing"));
    };
    if !is_digits(ml, 1, 4) {
        return Err(AmlError::malformed("ml", "must be a number of characters"));
    }
    let declared: usize = ml
        .parse()
        .map_err(|_| AmlError::malformed("ml", "must be a number of characters"))?;
    if declared.abs_diff(actual) > ML_TOLERANCE {
        return Err(AmlError::new(
            "aml_length_mismatch",
            "ml",
            format!("says {declared} characters but the message has {actual}"),
        ));
    }
    Ok(())
}

fn required_degrees(fields: &[(&str, &str)], key: &str) -> Result<f64, AmlError> {
    let value = get(fields, key).ok_or_else(|| AmlError::malformed(key, "is missing"))?;
    parse_decimal(value, false).ok_or_else(|| AmlError::malformed(key, "must be a decimal number of degrees"))
}

fn method(fields: &[(&str, &str)], key: &str) -> Result<PositioningMethod, AmlError> {
    match get(fields, key) {
        None => Ok(PositioningMethod::Unknown),
        Some(v) => PositioningMethod::from_sms_code(v)
            .ok_or_else(|| AmlError::malformed(key, "must be one letter (G, W, C, F, N, U)")),
    }
}

fn confidence(fields: &[(&str, &str)]) -> Result<Option<u8>, AmlError> {
    get(fields, "lc").map(|v| parse_confidence_pct(v, "lc")).transpose()
}

fn parse_v1(fields: &[(&str, &str)], now: DateTime<Utc>) -> Result<AmlFix, AmlError> {
    let lat = required_degrees(fields, "lt")?;
    let lon = required_degrees(fields, "lg")?;
    let positioning = method(fields, "pm")?;
    if positioning == PositioningMethod::None {
        return Err(AmlError::new(
            "aml_no_location",
            "pm",
            "the phone reported no position (pm=N)",
        ));
    }
    let radius_m = match get(fields, "rd") {
        None => None,
        Some("N") => {
            return Err(AmlError::new(
                "aml_no_location",
                "rd",
                "the phone reported no position (rd=N)",
            ))
        }
        Some(v) => {
            let r = parse_decimal(v, false).ok_or_else(|| AmlError::malformed("rd", "must be a number of metres"))?;
            check_radius(r, "rd")?
        }
    };
    check_coordinates(lat, lon, "lt", "lg")?;
    let fix_time = match get(fields, "top") {
        None => None,
        Some(v) => {
            let t = parse_top(v)?;
            check_fix_time(t, now, "top")?;
            Some(t)
        }
    };
    Ok(AmlFix {
        version: 1,
        lat,
        lon,
        radius_m,
        confidence_pct: confidence(fields)?,
        positioning,
        fix_time,
        caller: None,
        imsi: digits_field("si", get(fields, "si"), 5, 15)?,
        imei: digits_field("ei", get(fields, "ei"), 14, 17)?,
        mcc: digits_field("mcc", get(fields, "mcc"), 3, 3)?,
        mnc: digits_field("mnc", get(fields, "mnc"), 2, 3)?,
    })
}

/// `top`: `YYYYMMDDhhmmss` in UTC, exactly 14 digits.
fn parse_top(value: &str) -> Result<DateTime<Utc>, AmlError> {
    if !is_digits(value, 14, 14) {
        return Err(AmlError::malformed("top", "must be YYYYMMDDhhmmss (14 digits, UTC)"));
    }
    NaiveDateTime::parse_from_str(value, "%Y%m%d%H%M%S")
        .map(|t| t.and_utc())
        .map_err(|_| AmlError::malformed("top", "is not a valid date and time"))
}

/// Version 2 (Google ELS "beta"): `lo=lat,lon,acc`; `lt` is the location
/// time in seconds relative to `et`; `lg` is the language, never a longitude.
fn parse_v2(fields: &[(&str, &str)], now: DateTime<Utc>) -> Result<AmlFix, AmlError> {
    let Some(lo) = get(fields, "lo") else {
        return Err(AmlError::new("aml_no_location", "lo", "is missing"));
    };
    let mut parts = lo.split(',');
    let lat = parts.next().and_then(|v| parse_decimal(v, false));
    let lon = parts.next().and_then(|v| parse_decimal(v, false));
    let acc = match parts.next() {
        None => Some(0.0),
        Some(v) => parse_decimal(v, false),
    };
    let (Some(lat), Some(lon), Some(acc), None) = (lat, lon, acc, parts.next()) else {
        return Err(AmlError::malformed(
            "lo",
            "must be latitude,longitude[,accuracy] in decimal degrees and metres",
        ));
    };
    let positioning = method(fields, "ls")?;
    if positioning == PositioningMethod::None {
        return Err(AmlError::new(
            "aml_no_location",
            "ls",
            "the phone reported no position (ls=N)",
        ));
    }
    let radius_m = check_radius(acc, "lo")?;
    check_coordinates(lat, lon, "lo", "lo")?;

    let call_time = match get(fields, "et") {
        None => None,
        Some(v) if is_digits(v, 1, 12) => v.parse::<i64>().ok().and_then(|s| DateTime::from_timestamp(s, 0)),
        Some(_) => return Err(AmlError::malformed("et", "must be Unix time in seconds")),
    };
    let offset = match get(fields, "lt") {
        None => 0,
        Some(v) => {
            parse_offset(v).ok_or_else(|| AmlError::malformed("lt", "must be whole seconds relative to et (v2)"))?
        }
    };
    let fix_time = match call_time {
        None => None,
        Some(t) => {
            let fix = t
                .checked_add_signed(chrono::Duration::seconds(offset))
                .ok_or_else(|| AmlError::new("aml_out_of_range", "lt", "is out of range"))?;
            let field = if get(fields, "lt").is_some() { "lt" } else { "et" };
            check_fix_time(fix, now, field)?;
            Some(fix)
        }
    };
    let (mcc, mnc) = match get(fields, "nc").map(str::trim) {
        None | Some("") => (None, None),
        Some(nc) if is_digits(nc, 5, 6) => (nc.get(..3).map(str::to_string), nc.get(3..).map(str::to_string)),
        Some(_) => return Err(AmlError::malformed("nc", "must be MCC+MNC, 5 or 6 digits")),
    };
    Ok(AmlFix {
        version: 2,
        lat,
        lon,
        radius_m,
        confidence_pct: confidence(fields)?,
        positioning,
        fix_time,
        caller: None,
        imsi: digits_field("si", get(fields, "si"), 5, 15)?,
        imei: digits_field("ei", get(fields, "ei"), 14, 17)?,
        mcc,
        mnc,
    })
}

/// A signed whole number of seconds, at most 6 digits.
fn parse_offset(v: &str) -> Option<i64> {
    let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
    if !is_digits(digits, 1, 6) {
        return None;
    }
    v.parse::<i64>().ok()
}

/// Writes a fix as an AML SMS body of its `version` (2 gives the `lo=`
/// form, anything else version 1), `ml` included. Latitude and longitude
/// are written with 5 decimals as the standard asks.
pub fn format_sms(fix: &AmlFix) -> String {
    let mut s = String::new();
    if fix.version == 2 {
        s.push_str("A\"ML=2;en=112");
        if let Some(t) = fix.fix_time {
            s.push_str(&format!(";et={};lt=0", t.timestamp()));
        }
        let acc = fix.radius_m.unwrap_or(0.0);
        s.push_str(&format!(";lo={:.5},{:.5},{acc}", fix.lat, fix.lon));
        push_opt(&mut s, "lc", fix.confidence_pct.map(|c| c.to_string()));
        s.push_str(&format!(";ls={}", fix.positioning.sms_code()));
        push_opt(&mut s, "ei", fix.imei.clone());
        push_opt(&mut s, "si", fix.imsi.clone());
        if let (Some(mcc), Some(mnc)) = (&fix.mcc, &fix.mnc) {
            s.push_str(&format!(";nc={mcc}{mnc}"));
        }
    } else {
        s.push_str(&format!("A\"ML=1;lt={:+.5};lg={:+.5}", fix.lat, fix.lon));
        push_opt(&mut s, "rd", fix.radius_m.map(|r| r.to_string()));
        push_opt(
            &mut s,
            "top",
            fix.fix_time.map(|t| t.format("%Y%m%d%H%M%S").to_string()),
        );
        push_opt(&mut s, "lc", fix.confidence_pct.map(|c| c.to_string()));
        s.push_str(&format!(";pm={}", fix.positioning.sms_code()));
        push_opt(&mut s, "si", fix.imsi.clone());
        push_opt(&mut s, "ei", fix.imei.clone());
        push_opt(&mut s, "mcc", fix.mcc.clone());
        push_opt(&mut s, "mnc", fix.mnc.clone());
    }
    s.push_str(";ml=");
    let base = s.len();
    let ml = (1..=5usize)
        .map(|digits| base.saturating_add(digits))
        .find(|total| total.to_string().len() == total.saturating_sub(base))
        .unwrap_or(base);
    s.push_str(&ml.to_string());
    s
}

fn push_opt(s: &mut String, key: &str, value: Option<String>) {
    if let Some(v) = value {
        s.push(';');
        s.push_str(key);
        s.push('=');
        s.push_str(&v);
    }
}
