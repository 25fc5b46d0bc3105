//! Advanced Mobile Location (ETSI TS 103 625): the fix type, its errors and checks shared by the SMS and HTTPS forms.
//!
//! A phone that dials 112 sends its own position either as an SMS body
//! (`A"ML=1;lt=...;ml=NNN`, parsed by [`parse_sms`]) or as an HTTPS form
//! POST (parsed by [`parse_https`]). Both give an [`AmlFix`] or an
//! [`AmlError`] with a stable machine code. No function here panics, on any
//! input: see `docs/gateways.md` for the accepted formats field by field.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[path = "aml_https.rs"]
mod https;
#[cfg(test)]
#[path = "aml_https_tests.rs"]
mod https_tests;
#[path = "aml_sms.rs"]
mod sms;
#[cfg(test)]
#[path = "aml_tests.rs"]
mod tests;

pub use https::{https_canonical_string, parse_https, sign_https};
pub use sms::{format_sms, parse_sms};

/// Largest accepted SMS body, in bytes (an AML SMS is at most 160 characters).
pub const MAX_SMS_BYTES: usize = 1024;
/// Largest accepted HTTPS form: number of fields and total bytes of names and values.
pub const MAX_HTTPS_FIELDS: usize = 64;
/// See [`MAX_HTTPS_FIELDS`].
pub const MAX_HTTPS_BYTES: usize = 8192;
/// A fix older than this (seconds before `now`) is rejected as `aml_stale`.
pub const MAX_FIX_AGE_SECS: i64 = 24 * 60 * 60;
/// A fix further than this (seconds) ahead of `now` is rejected as `aml_future`.
pub const MAX_FUTURE_SKEW_SECS: i64 = 5 * 60;
/// `ml` may differ from the counted message length by at most this many
/// characters: published examples (Google ELS, ETSI-derived test vectors)
/// are off by one or two in both directions.
pub const ML_TOLERANCE: usize = 2;
/// Largest accepted uncertainty radius, in metres (as `Location::validate`).
pub const MAX_RADIUS_M: f64 = 100_000.0;

/// How the phone computed its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositioningMethod {
    /// Satellite (GPS, Galileo, ...): SMS `G`, HTTPS `gps`.
    Gnss,
    /// Wi-Fi access points: SMS `W`, HTTPS `wifi`.
    Wifi,
    /// Cell towers: SMS `C`, HTTPS `cell`.
    Cell,
    /// A combination computed by the phone: SMS v2 `F`, HTTPS `fused`.
    Fused,
    /// The phone had no position: SMS `N`.
    None,
    /// Anything else, or not given: SMS `U` or an unknown letter.
    Unknown,
}

impl PositioningMethod {
    /// Maps an SMS letter (`pm` in v1, `ls` in v2), case-insensitively.
    pub fn from_sms_code(code: &str) -> Option<Self> {
        let mut chars = code.chars();
        let c = chars.next()?;
        if chars.next().is_some() || !c.is_ascii_alphabetic() {
            return None;
        }
        Some(match c.to_ascii_uppercase() {
            'G' => Self::Gnss,
            'W' => Self::Wifi,
            'C' => Self::Cell,
            'F' | 'H' => Self::Fused,
            'N' => Self::None,
            _ => Self::Unknown,
        })
    }

    /// Maps an HTTPS `location_source` value, case-insensitively.
    pub fn from_https_source(source: &str) -> Self {
        match source.trim().to_ascii_lowercase().as_str() {
            "gps" | "gnss" | "satellite" => Self::Gnss,
            "wifi" | "wi-fi" | "wlan" => Self::Wifi,
            "cell" | "cellular" | "network" => Self::Cell,
            "fused" | "hybrid" => Self::Fused,
            "none" | "null" => Self::None,
            _ => Self::Unknown,
        }
    }

    /// The SMS letter this method is written as.
    pub fn sms_code(self) -> char {
        match self {
            Self::Gnss => 'G',
            Self::Wifi => 'W',
            Self::Cell => 'C',
            Self::Fused => 'F',
            Self::None => 'N',
            Self::Unknown => 'U',
        }
    }

    /// A short human name, used in location labels.
    pub fn label(self) -> &'static str {
        match self {
            Self::Gnss => "GNSS",
            Self::Wifi => "Wi-Fi",
            Self::Cell => "cell",
            Self::Fused => "fused",
            Self::None => "no fix",
            Self::Unknown => "unknown method",
        }
    }
}

/// One position report from a phone in an emergency call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AmlFix {
    /// Format version (`A"ML=1` / `A"ML=2`, HTTPS `v`).
    pub version: u8,
    /// WGS84 latitude in degrees.
    pub lat: f64,
    /// WGS84 longitude in degrees.
    pub lon: f64,
    /// Uncertainty radius in metres; `None` when unknown (0 is read as unknown).
    pub radius_m: Option<f64>,
    /// Level of confidence of the radius, 0 to 100 %.
    pub confidence_pct: Option<u8>,
    pub positioning: PositioningMethod,
    /// When the position was computed (UTC).
    pub fix_time: Option<DateTime<Utc>>,
    /// The caller's MSISDN (HTTPS `device_number`; SMS: `None`, the gateway
    /// knows the originating address).
    pub caller: Option<String>,
    pub imsi: Option<String>,
    pub imei: Option<String>,
    /// Mobile country code of the serving network.
    pub mcc: Option<String>,
    /// Mobile network code of the serving network.
    pub mnc: Option<String>,
}

impl AmlFix {
    /// The fix as a dispatcher location: source `aml`, accuracy = radius,
    /// label such as `AML GNSS ±20 m`.
    pub fn to_location(&self) -> incident_types::Location {
        let method = self.positioning.label();
        let label = match self.radius_m {
            Some(r) => format!("AML {method} ±{r:.0} m"),
            None => format!("AML {method}"),
        };
        incident_types::Location {
            lat: self.lat,
            lon: self.lon,
            accuracy_m: self.radius_m,
            source: incident_types::LocationSource::Aml,
            label: Some(label),
        }
    }
}

/// Why an AML message was refused: a stable `code`, the `field` at fault and
/// a human `message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmlError {
    code: &'static str,
    field: String,
    message: String,
}

impl AmlError {
    pub(crate) fn new(code: &'static str, field: &str, message: impl Into<String>) -> Self {
        Self {
            code,
            field: field.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn malformed(field: &str, message: impl Into<String>) -> Self {
        Self::new("aml_malformed", field, message)
    }

    /// The field at fault: an SMS key (`lt`, `ml`, `top`, ...), an HTTPS
    /// field name, `header` or `body`.
    pub fn field(&self) -> &str {
        &self.field
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// One of `aml_malformed`, `aml_too_large`, `aml_unsupported_version`,
    /// `aml_length_mismatch`, `aml_out_of_range`, `aml_no_location`,
    /// `aml_stale`, `aml_future`, `aml_bad_hmac`.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl std::fmt::Display for AmlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.field, self.message)
    }
}

impl std::error::Error for AmlError {}

impl From<AmlError> for incident_types::FieldError {
    fn from(e: AmlError) -> Self {
        incident_types::FieldError::new(e.field, e.message)
    }
}

/// Parses a plain decimal number: optional sign, digits, optional fraction;
/// with `allow_exp`, an optional `e`/`E` exponent too. Never `inf`/`NaN`.
pub(crate) fn parse_decimal(s: &str, allow_exp: bool) -> Option<f64> {
    if s.is_empty() || s.len() > 32 {
        return None;
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    let mut int_digits = 0;
    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
        int_digits += 1;
    }
    let mut frac_digits = 0;
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
            frac_digits += 1;
        }
    }
    if int_digits == 0 && frac_digits == 0 {
        return None;
    }
    if allow_exp && matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let mut exp_digits = 0;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
            exp_digits += 1;
        }
        if exp_digits == 0 || exp_digits > 3 {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// True when `s` is 1 to `max` ASCII digits.
pub(crate) fn is_digits(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// An optional identifier (IMSI, IMEI, MCC, MNC): empty means absent; else
/// `min..=max` digits.
pub(crate) fn digits_field(
    field: &str,
    value: Option<&str>,
    min: usize,
    max: usize,
) -> Result<Option<String>, AmlError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if is_digits(v, min, max) => Ok(Some(v.to_string())),
        Some(_) => Err(AmlError::malformed(field, format!("must be {min} to {max} digits"))),
    }
}

/// Checks latitude and longitude (finite, WGS84 ranges) and refuses the
/// null island (0, 0) that phones send when they have no position.
pub(crate) fn check_coordinates(lat: f64, lon: f64, lat_field: &str, lon_field: &str) -> Result<(), AmlError> {
    if let Err(e) = incident_types::location::check_lat_lon(lat, lon) {
        let field = if e.field == "lat" { lat_field } else { lon_field };
        return Err(AmlError::new("aml_out_of_range", field, e.message));
    }
    if lat == 0.0 && lon == 0.0 {
        return Err(AmlError::new(
            "aml_no_location",
            lat_field,
            "0,0 is the null location sent when the phone has no fix",
        ));
    }
    Ok(())
}

/// Checks a radius in metres; 0 means unknown and gives `None`.
pub(crate) fn check_radius(radius: f64, field: &str) -> Result<Option<f64>, AmlError> {
    if !radius.is_finite() || !(0.0..=MAX_RADIUS_M).contains(&radius) {
        return Err(AmlError::new(
            "aml_out_of_range",
            field,
            format!("must be 0 to {MAX_RADIUS_M} metres"),
        ));
    }
    Ok(if radius == 0.0 { None } else { Some(radius) })
}

/// Checks a confidence percentage (integer 0 to 100).
pub(crate) fn parse_confidence_pct(value: &str, field: &str) -> Result<u8, AmlError> {
    if !is_digits(value, 1, 3) {
        return Err(AmlError::malformed(field, "must be an integer percentage"));
    }
    match value.parse::<u8>() {
        Ok(v) if v <= 100 => Ok(v),
        _ => Err(AmlError::new("aml_out_of_range", field, "must be 0 to 100")),
    }
}

/// Refuses a fix time too far in the future or too old, relative to `now`.
pub(crate) fn check_fix_time(t: DateTime<Utc>, now: DateTime<Utc>, field: &str) -> Result<(), AmlError> {
    let ahead = t.signed_duration_since(now).num_seconds();
    if ahead > MAX_FUTURE_SKEW_SECS {
        return Err(AmlError::new(
            "aml_future",
            field,
            format!("is {ahead} s ahead of the server clock (max {MAX_FUTURE_SKEW_SECS} s)"),
        ));
    }
    let age = now.signed_duration_since(t).num_seconds();
    if age > MAX_FIX_AGE_SECS {
        return Err(AmlError::new(
            "aml_stale",
            field,
            format!("is {age} s old (max {MAX_FIX_AGE_SECS} s)"),
        ));
    }
    Ok(())
}
