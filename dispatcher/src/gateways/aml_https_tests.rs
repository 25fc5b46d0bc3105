//! Unit tests of the AML HTTPS form parser and its HMAC check.

use super::tests::now;
use super::*;

fn kuta_https() -> Vec<(String, String)> {
    [
        ("v", "1"),
        ("emergency_number", "112"),
        ("location_latitude", "-8.71850"),
        ("location_longitude", "115.16860"),
        ("location_accuracy", "12.5"),
        ("location_time", "1796291970250"),
        ("location_source", "gps"),
        ("location_confidence", "0.6827"),
        ("device_number", "+6281234567890"),
        ("device_model", "Samsung SM-A155F"),
        ("device_imei", "356938035643809"),
        ("device_imsi", "510100000000000"),
        ("cell_network_mcc", "510"),
        ("cell_network_mnc", "10"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

const KEY: &[u8] = b"badung-112-test-key";
/// Computed independently (Python `hmac` + `urllib.parse.quote(safe="-._~")`).
const KUTA_HMAC: &str = "7d9e2ae79f1831ecf12a1d83370755a8d8a1bd59a54f037c69cbbe1fa7e06952";

fn set(fields: &mut Vec<(String, String)>, key: &str, value: &str) {
    fields.retain(|(k, _)| k != key);
    fields.push((key.to_string(), value.to_string()));
}

fn https_err(fields: &[(String, String)], key: Option<&[u8]>) -> (&'static str, String) {
    match parse_https(fields, key, now()) {
        Ok(fix) => ("unexpected ok", format!("{fix:?}")),
        Err(e) => (e.code(), e.field().to_string()),
    }
}

#[test]
fn https_form_parses_without_key() {
    let fix = parse_https(&kuta_https(), None, now()).expect("valid");
    assert_eq!((fix.version, fix.lat, fix.lon), (1, -8.7185, 115.1686));
    assert_eq!(fix.radius_m, Some(12.5));
    assert_eq!(fix.confidence_pct, Some(68));
    assert_eq!(fix.positioning, PositioningMethod::Gnss);
    assert_eq!(fix.fix_time, DateTime::from_timestamp_millis(1_796_291_970_250));
    assert_eq!(fix.caller.as_deref(), Some("+6281234567890"));
    assert_eq!(fix.imsi.as_deref(), Some("510100000000000"));
    assert_eq!((fix.mcc.as_deref(), fix.mnc.as_deref()), (Some("510"), Some("10")));
    assert_eq!(fix.to_location().label.as_deref(), Some("AML GNSS ±12 m"));
}

#[test]
fn https_hmac_canonical_string_and_signature() {
    let fields = kuta_https();
    assert_eq!(
        https_canonical_string(&fields),
        "cell_network_mcc=510&cell_network_mnc=10&device_imei=356938035643809&device_imsi=510100000000000&device_model=Samsung%20SM-A155F&device_number=%2B6281234567890&emergency_number=112&location_accuracy=12.5&location_confidence=0.6827&location_latitude=-8.71850&location_longitude=115.16860&location_source=gps&location_time=1796291970250&v=1"
    );
    assert_eq!(sign_https(&fields, KEY), KUTA_HMAC);
    let mut signed = fields.clone();
    set(&mut signed, "hmac", KUTA_HMAC);
    assert!(parse_https(&signed, Some(KEY), now()).is_ok());
    set(&mut signed, "hmac", &KUTA_HMAC.to_uppercase());
    assert!(parse_https(&signed, Some(KEY), now()).is_ok());
    // Without a key the hmac field is ignored.
    assert!(parse_https(&signed, None, now()).is_ok());
}

#[test]
fn https_bad_or_missing_hmac_is_refused() {
    let bad_hmac = ("aml_bad_hmac", "hmac".to_string());
    assert_eq!(https_err(&kuta_https(), Some(KEY)), bad_hmac);
    let mut f = kuta_https();
    set(&mut f, "hmac", &KUTA_HMAC.replacen('7', "8", 1));
    assert_eq!(https_err(&f, Some(KEY)), bad_hmac);
    set(&mut f, "hmac", &KUTA_HMAC[..62]);
    assert_eq!(https_err(&f, Some(KEY)), bad_hmac);
    set(&mut f, "hmac", &KUTA_HMAC.replacen('7', "z", 1));
    assert_eq!(https_err(&f, Some(KEY)), bad_hmac);
    set(&mut f, "hmac", KUTA_HMAC);
    assert_eq!(https_err(&f, Some(b"another-key")), bad_hmac);
    assert_eq!(https_err(&f, Some(b"")), bad_hmac);
    // A changed field invalidates the signature.
    set(&mut f, "location_latitude", "-8.71851");
    assert_eq!(https_err(&f, Some(KEY)), bad_hmac);
}

#[test]
fn https_field_validation() {
    let n = now();
    let iso = "2026-12-03T17:59:30+08:00";
    let fix = |f: &[(String, String)]| parse_https(f, None, n);
    let mut f = kuta_https();
    set(&mut f, "location_time", "1796291970");
    assert_eq!(
        fix(&f).map(|x| x.fix_time).ok().flatten(),
        DateTime::from_timestamp(1_796_291_970, 0)
    );
    set(&mut f, "location_time", iso);
    assert_eq!(
        fix(&f).map(|x| x.fix_time).ok().flatten(),
        DateTime::from_timestamp(1_796_291_970, 0)
    );
    set(&mut f, "location_confidence", "68");
    set(&mut f, "location_accuracy", "0");
    set(&mut f, "location_source", "wifi");
    set(&mut f, "location_latitude", "-8.7185E0");
    let got = fix(&f).expect("valid");
    assert_eq!((got.confidence_pct, got.radius_m, got.lat), (Some(68), None, -8.7185));
    assert_eq!(got.positioning, PositioningMethod::Wifi);

    let cases: Vec<(&str, &str, &str, &str)> = vec![
        ("location_latitude", "", "aml_no_location", "location_latitude"),
        ("location_latitude", "abc", "aml_malformed", "location_latitude"),
        ("location_latitude", "NaN", "aml_malformed", "location_latitude"),
        ("location_longitude", "-180.5", "aml_out_of_range", "location_longitude"),
        ("location_accuracy", "-1", "aml_out_of_range", "location_accuracy"),
        ("location_accuracy", "1e9", "aml_out_of_range", "location_accuracy"),
        ("location_time", "1796299999000", "aml_future", "location_time"),
        ("location_time", "1696291970250", "aml_stale", "location_time"),
        ("location_time", "yesterday", "aml_malformed", "location_time"),
        ("location_confidence", "150", "aml_out_of_range", "location_confidence"),
        ("location_confidence", "high", "aml_malformed", "location_confidence"),
        ("location_source", "none", "aml_no_location", "location_source"),
        ("device_number", "0812-3456", "aml_malformed", "device_number"),
        ("device_imei", "35693803564380x", "aml_malformed", "device_imei"),
        ("v", "300", "aml_malformed", "v"),
    ];
    for (key, value, code, field) in cases {
        let mut f = kuta_https();
        set(&mut f, key, value);
        assert_eq!(https_err(&f, None), (code, field.to_string()), "{key}={value}");
    }
    let mut f = kuta_https();
    f.retain(|(k, _)| k != "location_longitude");
    assert_eq!(https_err(&f, None), ("aml_no_location", "location_longitude".into()));
    let mut f = kuta_https();
    f.push(("v".into(), "1".into()));
    assert_eq!(https_err(&f, None), ("aml_malformed", "v".into()));
    f.push((String::new(), "x".into()));
    assert_eq!(https_err(&f[1..], None), ("aml_malformed", "body".into()));
    let many: Vec<(String, String)> = (0..=MAX_HTTPS_FIELDS).map(|i| (format!("f{i}"), "1".into())).collect();
    assert_eq!(https_err(&many, None), ("aml_too_large", "body".into()));
}
