//! Unit and property tests of the AML SMS and HTTPS parsers.

use super::*;
use chrono::TimeZone;
use proptest::prelude::*;

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single().unwrap_or_default()
}

/// 2026-12-03T10:00:00Z, the "now" of the Badung examples.
pub(super) fn now() -> DateTime<Utc> {
    at(2026, 12, 3, 10, 0, 0)
}

const BRIEF_V1: &str = "A\"ML=1;lt=+48.90296;lg=+2.51658;rd=1964;top=20220210134654;lc=95;pm=G;si=123456789012345;ei=1234567890123456;mcc=510;mnc=10;ml=131";
const ELS_COMPUTED: &str = "A\"ML=1;lt=+51.53321;lg=-0.12601;rd=14;top=20220131171748;lc=68;pm=W;si=234159000000000;ei=123456789012345;mcc=234;mnc=15;ml=126";
const ELS_NO_LOCATION: &str = "A\"ML=1;lt=+00.00000;lg=+000.00000;rd=N;top=20220131173734;lc=0;pm=N;si=234159000000000;ei=123456789012345;mcc=234;mnc=15;ml=127";
const SIX_DECIMALS: &str = "A\"ML=1;lt=+48.902963;lg=+2.516582;rd=1964;top=20220210134654;lc=95;pm=G;si=234302543446355;ei=357365093474415;mcc=208;mnc=01;ml=131";
const KUTA_V1: &str = "A\"ML=1;lt=-8.71850;lg=+115.16860;rd=20;top=20261203095930;lc=68;pm=G;si=510100000000000;ei=356938035643809;mcc=510;mnc=10;ml=128";
const JIMBARAN_V2: &str = "A\"ML=2;en=112;et=1796291990;lo=-8.79420,115.17080,15.5;lt=5;lc=68;lz=12.1,3.0;ls=G;ei=356938035643809;nc=51010;lg=id;ml=123";

/// The Kuta v1 fields, for building variants.
const KUTA_FIELDS: [(&str, &str); 11] = [
    ("lt", "-8.71850"),
    ("lg", "+115.16860"),
    ("rd", "20"),
    ("top", "20261203095930"),
    ("lc", "68"),
    ("pm", "G"),
    ("si", "510100000000000"),
    ("ei", "356938035643809"),
    ("mcc", "510"),
    ("mnc", "10"),
    ("xx", "ignored"),
];

/// Appends `;ml=N` with the right N.
fn with_ml(body: &str) -> String {
    let base = body.len() + 4;
    let ml = (1..=4).map(|d| base + d).find(|t| t.to_string().len() == t - base);
    format!("{body};ml={}", ml.unwrap_or(0))
}

/// The Kuta v1 message with `key` set to `value` (`None` removes it).
fn kuta_with(key: &str, value: Option<&str>) -> String {
    let mut body = String::from("A\"ML=1");
    for (k, v) in KUTA_FIELDS {
        let v = if k == key { value } else { Some(v) };
        if let Some(v) = v {
            body.push_str(&format!(";{k}={v}"));
        }
    }
    with_ml(&body)
}

fn sms_err(body: &str, now: DateTime<Utc>) -> (&'static str, String) {
    match parse_sms(body.as_bytes(), now) {
        Ok(fix) => (("unexpected ok"), format!("{fix:?}")),
        Err(e) => (e.code(), e.field().to_string()),
    }
}

#[test]
fn brief_example_parses() {
    let fix = parse_sms(BRIEF_V1.as_bytes(), at(2022, 2, 10, 14, 0, 0)).expect("valid");
    assert_eq!(fix.version, 1);
    assert_eq!((fix.lat, fix.lon), (48.90296, 2.51658));
    assert_eq!(fix.radius_m, Some(1964.0));
    assert_eq!(fix.confidence_pct, Some(95));
    assert_eq!(fix.positioning, PositioningMethod::Gnss);
    assert_eq!(fix.fix_time, Some(at(2022, 2, 10, 13, 46, 54)));
    assert_eq!(fix.imsi.as_deref(), Some("123456789012345"));
    assert_eq!(fix.imei.as_deref(), Some("1234567890123456"));
    assert_eq!((fix.mcc.as_deref(), fix.mnc.as_deref()), (Some("510"), Some("10")));
    assert_eq!(fix.caller, None);
}

#[test]
fn published_els_and_etsi_style_examples() {
    let fix = parse_sms(ELS_COMPUTED.as_bytes(), at(2022, 1, 31, 17, 20, 0)).expect("valid");
    assert_eq!((fix.lat, fix.lon, fix.radius_m), (51.53321, -0.12601, Some(14.0)));
    assert_eq!(fix.positioning, PositioningMethod::Wifi);
    let fix = parse_sms(SIX_DECIMALS.as_bytes(), at(2022, 2, 10, 14, 0, 0)).expect("valid");
    assert_eq!(fix.lat, 48.902963);
    assert_eq!(fix.mnc.as_deref(), Some("01"));
    let e = parse_sms(ELS_NO_LOCATION.as_bytes(), at(2022, 1, 31, 17, 40, 0)).expect_err("must be refused");
    assert_eq!((e.code(), e.field()), ("aml_no_location", "pm"));
}

#[test]
fn kuta_v1_gives_a_badung_location() {
    let fix = parse_sms(KUTA_V1.as_bytes(), now()).expect("valid");
    assert_eq!((fix.lat, fix.lon), (-8.7185, 115.1686));
    let loc = fix.to_location();
    assert_eq!(loc.source, incident_types::LocationSource::Aml);
    assert_eq!(loc.accuracy_m, Some(20.0));
    assert_eq!(loc.label.as_deref(), Some("AML GNSS ±20 m"));
    assert!(loc.validate().is_ok());
    assert!(incident_types::location::is_in_badung(loc.lat, loc.lon));
    assert_eq!(KUTA_V1, kuta_with("xx", None));
}

#[test]
fn jimbaran_v2_reads_lo_and_never_lt_lg_as_coordinates() {
    let fix = parse_sms(JIMBARAN_V2.as_bytes(), now()).expect("valid");
    assert_eq!(fix.version, 2);
    assert_eq!((fix.lat, fix.lon, fix.radius_m), (-8.7942, 115.1708, Some(15.5)));
    assert_eq!(fix.fix_time, DateTime::from_timestamp(1_796_291_995, 0));
    assert_eq!((fix.mcc.as_deref(), fix.mnc.as_deref()), (Some("510"), Some("10")));
    assert_eq!(fix.to_location().label.as_deref(), Some("AML GNSS ±16 m"));
    // v2 with v1-looking coordinates but no `lo`: no location.
    let v2 = with_ml("A\"ML=2;et=1796291990;lt=-8;lg=115;ls=G");
    assert_eq!(sms_err(&v2, now()), ("aml_no_location", "lo".into()));
    // v2 `lt` is an offset in whole seconds, not degrees.
    let v2 = with_ml("A\"ML=2;et=1796291990;lo=-8.7942,115.1708,10;lt=-8.71850");
    assert_eq!(sms_err(&v2, now()), ("aml_malformed", "lt".into()));
    // v2 without accuracy, and with a negative offset.
    let v2 = with_ml("A\"ML=2;et=1796291990;lo=-8.7942,115.1708;lt=-20;ls=F");
    let fix = parse_sms(v2.as_bytes(), now()).expect("valid");
    assert_eq!(fix.radius_m, None);
    assert_eq!(fix.positioning, PositioningMethod::Fused);
    assert_eq!(fix.fix_time, DateTime::from_timestamp(1_796_291_970, 0));
}

#[test]
fn malformed_sms_are_rejected_with_code_and_field() {
    let n = now();
    let cases: Vec<(String, &str, &str)> = vec![
        (String::new(), "aml_malformed", "body"),
        (" \r\n".into(), "aml_malformed", "body"),
        ("A".repeat(MAX_SMS_BYTES + 1), "aml_too_large", "body"),
        (KUTA_V1.replacen("A\"ML", "AML", 1), "aml_malformed", "header"),
        (
            KUTA_V1.replacen("A\"ML=1", "A\"ML=3", 1),
            "aml_unsupported_version",
            "header",
        ),
        (KUTA_V1.replacen("A\"ML=1", "A\"ML=x", 1), "aml_malformed", "header"),
        (KUTA_V1.replacen("lc=68", "lc68", 1), "aml_malformed", "body"),
        (KUTA_V1.replacen("lc=68", "=68", 1), "aml_malformed", "body"),
        (kuta_with("lt", Some("abc")), "aml_malformed", "lt"),
        (kuta_with("lt", Some("NaN")), "aml_malformed", "lt"),
        (kuta_with("lt", Some("inf")), "aml_malformed", "lt"),
        (kuta_with("lt", Some("-8.7e0")), "aml_malformed", "lt"),
        (kuta_with("lt", Some("")), "aml_malformed", "lt"),
        (kuta_with("lt", None), "aml_malformed", "lt"),
        (kuta_with("lg", Some("115,16860")), "aml_malformed", "lg"),
        (kuta_with("lt", Some("-91.00000")), "aml_out_of_range", "lt"),
        (kuta_with("lg", Some("+181.00000")), "aml_out_of_range", "lg"),
        (kuta_with("rd", Some("-5")), "aml_out_of_range", "rd"),
        (kuta_with("rd", Some("200000")), "aml_out_of_range", "rd"),
        (kuta_with("rd", Some("N")), "aml_no_location", "rd"),
        (kuta_with("top", Some("2026120309593")), "aml_malformed", "top"),
        (kuta_with("top", Some("20261303095930")), "aml_malformed", "top"),
        (kuta_with("top", Some("20261203251000")), "aml_malformed", "top"),
        (kuta_with("top", Some("20261203101000")), "aml_future", "top"),
        (kuta_with("top", Some("20261202085959")), "aml_stale", "top"),
        (kuta_with("lc", Some("101")), "aml_out_of_range", "lc"),
        (kuta_with("lc", Some("6.8")), "aml_malformed", "lc"),
        (kuta_with("pm", Some("GW")), "aml_malformed", "pm"),
        (kuta_with("si", Some("51010abc")), "aml_malformed", "si"),
        (kuta_with("mcc", Some("5100")), "aml_malformed", "mcc"),
        (
            with_ml(&format!("{};lt=-8.7", &KUTA_V1[..KUTA_V1.len() - 7])),
            "aml_malformed",
            "lt",
        ),
        (with_ml("A\"ML=1;A\"ML=1;lt=-8.7;lg=115.1"), "aml_malformed", "A\"ML"),
        (format!("{KUTA_V1};;"), "aml_malformed", "body"),
        (KUTA_V1.replacen(";lc=68", ";;lc=68", 1), "aml_malformed", "body"),
        (KUTA_V1.replacen("ml=128", "ml=200", 1), "aml_length_mismatch", "ml"),
        (KUTA_V1.replacen("ml=128", "ml=125", 1), "aml_length_mismatch", "ml"),
        (KUTA_V1.replacen(";ml=128", "", 1), "aml_malformed", "ml"),
        (KUTA_V1.replacen("ml=128", "ml=12x", 1), "aml_malformed", "ml"),
        (KUTA_V1.replacen("ml=128", "ml=", 1), "aml_malformed", "ml"),
        (with_ml("A\"ML=1;lt=0;lg=0;rd=10;pm=G"), "aml_no_location", "lt"),
        (with_ml("A\"ML=2;lo=-8.7,115.1,5,9"), "aml_malformed", "lo"),
        (with_ml("A\"ML=2;lo=-8.7;ls=G"), "aml_malformed", "lo"),
        (with_ml("A\"ML=2;lo=-8.7,115.1;ls=N"), "aml_no_location", "ls"),
        (with_ml("A\"ML=2;lo=-8.7,115.1;nc=5101"), "aml_malformed", "nc"),
        (
            with_ml("A\"ML=2;lo=-8.7,115.1;et=17962919901234"),
            "aml_malformed",
            "et",
        ),
        (with_ml("A\"ML=2;lo=-8.7,115.1;et=1596291990"), "aml_stale", "et"),
    ];
    for (body, code, field) in cases {
        assert_eq!(sms_err(&body, n), (code, field.to_string()), "input: {body:?}");
    }
}

#[test]
fn bytes_that_are_not_printable_ascii_are_rejected() {
    for bad in [0xffu8, 0x00, 0x1b, 0x7f, 0xc3] {
        let mut body = KUTA_V1.as_bytes().to_vec();
        body.insert(10, bad);
        let e = parse_sms(&body, now()).expect_err("must be refused");
        assert_eq!((e.code(), e.field()), ("aml_malformed", "body"), "byte {bad:#x}");
        assert!(e.message().contains("offset 10"), "{e}");
    }
    // UTF-8 multi-byte text is not an AML body either.
    let e = parse_sms("A\"ML=1;lt=−8.7".as_bytes(), now()).expect_err("must be refused");
    assert_eq!(e.code(), "aml_malformed");
}

#[test]
fn tolerated_variants() {
    // One trailing ';' (counted by ml), surrounding CR/LF (not counted).
    let trailing = with_ml(&KUTA_V1.replacen(";ml=128", "", 1)).replace("ml=128", "ml=129") + ";";
    assert!(parse_sms(trailing.as_bytes(), now()).is_ok(), "{trailing}");
    let crlf = format!("\r\n{KUTA_V1}\r\n");
    assert!(parse_sms(crlf.as_bytes(), now()).is_ok());
    // ml off by up to ML_TOLERANCE either way.
    for ml in ["126", "127", "129", "130"] {
        let body = KUTA_V1.replacen("ml=128", &format!("ml={ml}"), 1);
        assert!(parse_sms(body.as_bytes(), now()).is_ok(), "{body}");
    }
    // Optional fields may go; empty identifiers (no SIM) are absent.
    let minimal = with_ml("A\"ML=1;lt=-8.7185;lg=115.1686;si=");
    let fix = parse_sms(minimal.as_bytes(), now()).expect("valid");
    assert_eq!((fix.radius_m, fix.fix_time, fix.imsi.as_deref()), (None, None, None));
    assert_eq!(fix.positioning, PositioningMethod::Unknown);
    assert_eq!(fix.to_location().label.as_deref(), Some("AML unknown method"));
    // rd=0 is unknown accuracy; a fix 5 minutes ahead is still fine.
    let fix = parse_sms(kuta_with("rd", Some("0")).as_bytes(), now()).expect("valid");
    assert_eq!(fix.radius_m, None);
    assert!(parse_sms(kuta_with("top", Some("20261203100500")).as_bytes(), now()).is_ok());
    assert!(parse_sms(kuta_with("pm", Some("w")).as_bytes(), now()).is_ok());
}

#[test]
fn error_is_displayable_and_converts_to_field_error() {
    let e = parse_sms(b"hello", now()).expect_err("must be refused");
    assert!(e.to_string().starts_with("aml_malformed (header): "));
    let fe: incident_types::FieldError = e.into();
    assert_eq!(fe.field, "header");
    let _: &dyn std::error::Error = &fe;
}

fn digits(min: usize, max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(0u8..10, min..=max).prop_map(|d| d.into_iter().map(|x| char::from(b'0' + x)).collect())
}

prop_compose! {
    fn arb_fix()(
        version in 1u8..=2,
        lat_e5 in -9_000_000i64..=9_000_000,
        lon_e5 in -18_000_000i64..=18_000_000,
        radius_dm in proptest::option::of(1u32..=1_000_000),
        confidence_pct in proptest::option::of(0u8..=100),
        method in 0usize..5,
        age in proptest::option::of(-300i64..=86_000),
        imsi in proptest::option::of(digits(5, 15)),
        imei in proptest::option::of(digits(14, 17)),
        network in proptest::option::of((digits(3, 3), digits(2, 3))),
    ) -> AmlFix {
        let methods = [
            PositioningMethod::Gnss,
            PositioningMethod::Wifi,
            PositioningMethod::Cell,
            PositioningMethod::Fused,
            PositioningMethod::Unknown,
        ];
        let (mcc, mnc) = network.map_or((None, None), |(a, b)| (Some(a), Some(b)));
        AmlFix {
            version,
            lat: lat_e5 as f64 / 1e5,
            lon: lon_e5 as f64 / 1e5,
            radius_m: radius_dm.map(|r| f64::from(r) / 10.0),
            confidence_pct,
            positioning: methods.get(method).copied().unwrap_or(PositioningMethod::Unknown),
            fix_time: age.map(|a| now() - chrono::Duration::seconds(a)),
            caller: None,
            imsi,
            imei,
            mcc,
            mnc,
        }
    }
}

/// What every accepted fix must satisfy, whatever the input.
fn assert_sane(fix: &AmlFix) {
    assert!(fix.to_location().validate().is_ok(), "{fix:?}");
    assert!(fix.confidence_pct.is_none_or(|c| c <= 100));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1200)) {
        if let Ok(fix) = parse_sms(&bytes, now()) {
            assert_sane(&fix);
        }
    }

    #[test]
    fn ascii_soup_never_panics(s in "[A\"ML=0-9;.,+\\-ltgrdopcsiemn ]{0,200}") {
        if let Ok(fix) = parse_sms(s.as_bytes(), now()) {
            assert_sane(&fix);
        }
    }

    #[test]
    fn arbitrary_https_fields_never_panic(
        fields in proptest::collection::vec((".{0,24}", ".{0,40}"), 0..20),
        keyed in any::<bool>(),
    ) {
        let key: Option<&[u8]> = if keyed { Some(b"k") } else { None };
        if let Ok(fix) = parse_https(&fields, key, now()) {
            assert_sane(&fix);
        }
    }

    #[test]
    fn well_formed_fixes_round_trip(fix in arb_fix()) {
        prop_assume!(fix.lat != 0.0 || fix.lon != 0.0);
        let sms = format_sms(&fix);
        let parsed = parse_sms(sms.as_bytes(), now());
        prop_assert_eq!(parsed, Ok(fix), "{}", sms);
    }

    #[test]
    fn mutated_messages_never_panic(
        fix in arb_fix(),
        ops in proptest::collection::vec((0u8..4, any::<usize>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = format_sms(&fix).into_bytes();
        for (op, pos, byte) in ops {
            let i = pos % (bytes.len() + 1);
            match op {
                0 => bytes.insert(i, byte),
                1 if i < bytes.len() => { bytes.remove(i); }
                2 if i < bytes.len() => bytes[i] ^= 1 << (byte % 8),
                _ => bytes.truncate(i),
            }
        }
        if let Ok(fix) = parse_sms(&bytes, now()) {
            assert_sane(&fix);
        }
    }
}
