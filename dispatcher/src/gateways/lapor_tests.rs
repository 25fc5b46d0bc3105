//! Unit and property tests of the 1708 (LAPOR) format, replies, inbound JSON and reassembly.

use super::*;
use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

fn complaint(s: &str) -> LaporParse {
    LaporParse::Complaint(s.to_string())
}

fn rejected(r: LaporRejection) -> LaporParse {
    LaporParse::Rejected(r)
}

#[test]
fn keyword_variants_are_accepted() {
    let want = complaint("Lampu jalan mati di Jl. Raya Kuta");
    for text in [
        "BADUNG Lampu jalan mati di Jl. Raya Kuta",
        "badung  Lampu jalan mati di Jl. Raya Kuta",
        "Badung: Lampu jalan mati di Jl. Raya Kuta",
        "BADUNG,Lampu jalan mati di Jl. Raya Kuta",
        "BADUNG.Lampu jalan mati di Jl. Raya Kuta",
        "BADUNG-Lampu jalan mati di Jl. Raya Kuta",
        "BADUNG - Lampu jalan mati di Jl. Raya Kuta",
        "   BADUNG Lampu jalan mati di Jl. Raya Kuta  ",
        "\u{a0}BADUNG\u{a0}Lampu jalan mati di Jl. Raya Kuta\u{a0}",
        "BADUNG\nLampu jalan mati di Jl. Raya Kuta",
        "BADUNG\r\nLampu jalan mati di Jl. Raya Kuta\r\n",
        "\u{feff}bAdUnG :\tLampu jalan mati di Jl. Raya Kuta",
        "BADUNG\u{2013} Lampu jalan mati di Jl. Raya Kuta",
    ] {
        assert_eq!(parse_lapor(text), want, "{text:?}");
    }
    // Inner text is kept as written, multi-line included.
    assert_eq!(
        parse_lapor("BADUNG: Jalan berlubang\ndi Jl. Sunset Road, Seminyak"),
        complaint("Jalan berlubang\ndi Jl. Sunset Road, Seminyak")
    );
    assert_eq!(parse_lapor("BADUNG (darurat) banjir"), complaint("(darurat) banjir"));
}

#[test]
fn missing_keyword_and_empty_complaints_are_rejected() {
    for text in [
        "",
        "   ",
        "BADUNGKU lampu mati",
        "Badung2 lampu mati",
        "Denpasar lampu mati",
        "Lampu mati BADUNG",
        "BADUN",
        "BÄDUNG lampu",
        "BADUNGé lampu",
        "BAD\u{fc}NG",
        "😀BADUNG lampu",
    ] {
        assert_eq!(parse_lapor(text), rejected(LaporRejection::MissingKeyword), "{text:?}");
    }
    for text in [
        "BADUNG",
        "BADUNG :  ",
        "badung.",
        "BADUNG\n\n",
        "BADUNG -,:. ",
        "BADUNG\u{a0}\u{200b}",
    ] {
        assert_eq!(parse_lapor(text), rejected(LaporRejection::EmptyComplaint), "{text:?}");
    }
}

#[test]
fn complaint_length_limit_counts_characters() {
    let exact = "é".repeat(MAX_COMPLAINT_CHARS);
    assert_eq!(
        parse_lapor(&format!("BADUNG {exact}")),
        LaporParse::Complaint(exact.clone())
    );
    let over = format!("BADUNG {exact}x");
    assert_eq!(parse_lapor(&over), rejected(LaporRejection::TooLong));
    assert_eq!(LaporRejection::TooLong.code(), "too_long");
}

#[test]
fn replies_are_indonesian_and_fit_one_sms() {
    let missing = reply_for_rejection(LaporRejection::MissingKeyword);
    assert_eq!(
        missing,
        "Format salah. Kirim: BADUNG <isi aduan>. Contoh: BADUNG Lampu jalan mati di Jl. Raya Kuta"
    );
    assert!(reply_for_rejection(LaporRejection::EmptyComplaint).starts_with("Isi aduan kosong."));
    assert!(reply_for_rejection(LaporRejection::TooLong).contains("4000"));
    let ok = reply_for_accepted("LPR-2026-000123", false);
    assert!(ok.contains("LPR-2026-000123") && !ok.contains("112"), "{ok}");
    let urgent = reply_for_accepted("LPR-2026-000124", true);
    assert!(
        urgent.contains("LPR-2026-000124") && urgent.contains("telepon 112"),
        "{urgent}"
    );
    assert_eq!(reply_for_accepted("A\nB\u{7}", false), reply_for_accepted("AB", false));
    let long_number = "9".repeat(100);
    for r in [
        missing,
        reply_for_rejection(LaporRejection::EmptyComplaint),
        reply_for_rejection(LaporRejection::TooLong),
        reply_for_accepted(&long_number, false),
        reply_for_accepted(&long_number, true),
    ] {
        assert!(r.chars().count() <= 160, "{} chars: {r}", r.chars().count());
        assert!(r.is_ascii(), "{r}");
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).single().unwrap_or_default()
}

fn secs(s: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(s)
}

fn part(from: &str, reference: u16, total: u8, seq: u8, text: &str, at: i64) -> SmsPart {
    SmsPart {
        from: from.to_string(),
        reference,
        total,
        seq,
        text: text.to_string(),
        received_at: secs(at),
    }
}

fn assembler() -> ConcatAssembler {
    ConcatAssembler::new(Duration::seconds(60), 8)
}

#[test]
fn parts_in_order_and_out_of_order_are_joined() {
    let mut a = assembler();
    assert_eq!(a.push(part("+62811", 42, 3, 1, "BADUNG Pohon ", 0), secs(0)), None);
    assert_eq!(a.push(part("+62811", 42, 3, 2, "tumbang di ", 1), secs(1)), None);
    let done = a.push(part("+62811", 42, 3, 3, "Jl. Bypass Ngurah Rai", 2), secs(2));
    let done = done.expect("complete");
    assert_eq!(done.text, "BADUNG Pohon tumbang di Jl. Bypass Ngurah Rai");
    assert!(done.complete);
    assert_eq!(
        (done.parts, done.received_at, done.from.as_str()),
        (3, secs(0), "+62811")
    );
    assert_eq!(a.pending(), 0);

    let mut a = assembler();
    assert_eq!(a.push(part("+62811", 7, 3, 3, "C", 5), secs(5)), None);
    assert_eq!(a.push(part("+62811", 7, 3, 1, "A", 3), secs(6)), None);
    let done = a.push(part("+62811", 7, 3, 2, "B", 4), secs(7)).expect("complete");
    assert_eq!((done.text.as_str(), done.received_at), ("ABC", secs(3)));
}

#[test]
fn duplicates_are_ignored_and_senders_are_kept_apart() {
    let mut a = assembler();
    assert_eq!(a.push(part("+62811", 42, 2, 1, "first ", 0), secs(0)), None);
    assert_eq!(a.push(part("+62811", 42, 2, 1, "DUPLICATE ", 1), secs(1)), None);
    // Another sender with the same reference.
    assert_eq!(a.push(part("+62822", 42, 2, 2, "other-2", 1), secs(1)), None);
    assert_eq!(a.pending(), 2);
    let one = a
        .push(part("+62811", 42, 2, 2, "second", 2), secs(2))
        .expect("complete");
    assert_eq!(one.text, "first second");
    assert_eq!(a.push(part("+62811", 42, 2, 2, "late duplicate", 3), secs(3)), None);
    let two = a
        .push(part("+62822", 42, 2, 1, "other-1 ", 3), secs(3))
        .expect("complete");
    assert_eq!((two.from.as_str(), two.text.as_str()), ("+62822", "other-1 other-2"));
    // Same sender and reference but a different total: a different message.
    assert_eq!(a.push(part("+62811", 9, 2, 1, "x", 4), secs(4)), None);
    assert_eq!(a.push(part("+62811", 9, 3, 1, "y", 4), secs(4)), None);
    assert_eq!(a.pending(), 3);
}

#[test]
fn single_and_invalid_parts_come_back_at_once() {
    let mut a = assembler();
    let single = a
        .push(part("+62811", 0, 1, 1, "BADUNG banjir", 0), secs(0))
        .expect("single");
    assert!(single.complete && single.parts == 1 && single.text == "BADUNG banjir");
    for (total, seq) in [(3, 0), (3, 4), (0, 0), (0, 1)] {
        let got = a
            .push(part("+62811", 1, total, seq, "stray", 0), secs(0))
            .expect("passed on");
        assert!(!got.complete && got.text == "stray", "{total}/{seq}");
    }
    assert_eq!(a.pending(), 0);
    let long = "é".repeat(MAX_PART_CHARS + 10);
    let cut = a.push(part("+62811", 0, 1, 1, &long, 0), secs(0)).expect("single");
    assert_eq!(cut.text.chars().count(), MAX_PART_CHARS);
}

#[test]
fn expiry_returns_what_arrived_with_markers() {
    let mut a = assembler();
    assert_eq!(a.push(part("+62811", 42, 4, 1, "BADUNG Air ", 0), secs(0)), None);
    assert_eq!(a.push(part("+62811", 42, 4, 3, "meluap", 1), secs(1)), None);
    assert_eq!(a.push(part("+62833", 5, 2, 2, "baru", 50), secs(50)), None);
    assert!(a.expire(secs(60)).is_empty(), "exactly the window is still on time");
    let gone = a.expire(secs(61));
    assert_eq!(gone.len(), 1);
    let g = &gone[0];
    assert_eq!(
        g.text,
        format!("BADUNG Air {MISSING_PART_MARKER}meluap{MISSING_PART_MARKER}")
    );
    assert!(!g.complete);
    assert_eq!((g.parts, g.received_at), (2, secs(0)));
    assert_eq!(a.pending(), 1);
    // A part after its message's window starts a fresh message; the old one
    // comes out of the next expire().
    assert_eq!(a.push(part("+62833", 5, 2, 1, "lama ", 200), secs(200)), None);
    let old = a.expire(secs(200));
    assert_eq!(old.len(), 1);
    assert_eq!(old[0].text, format!("{MISSING_PART_MARKER}baru"));
    let fresh = a
        .push(part("+62833", 5, 2, 2, "lagi", 201), secs(201))
        .expect("complete");
    assert_eq!(fresh.text, "lama lagi");
}

#[test]
fn memory_is_bounded_by_evicting_the_oldest() {
    let mut a = ConcatAssembler::new(Duration::seconds(600), 3);
    for i in 0..5u16 {
        assert_eq!(
            a.push(
                part("+62811", i, 2, 1, &format!("m{i} "), i64::from(i)),
                secs(i64::from(i))
            ),
            None
        );
        assert!(a.pending() <= 3);
    }
    let evicted = a.expire(secs(10));
    let texts: Vec<&str> = evicted.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        [format!("m0 {MISSING_PART_MARKER}"), format!("m1 {MISSING_PART_MARKER}")]
    );
    // The kept ones still complete.
    let done = a.push(part("+62811", 4, 2, 2, "end", 11), secs(11)).expect("complete");
    assert_eq!(done.text, "m4 end");
    // The hand-over queue itself is bounded too.
    let mut a = ConcatAssembler::new(Duration::seconds(600), 2);
    for i in 0..50u16 {
        let _ = a.push(part("+62811", i, 2, 1, "x", 0), secs(0));
    }
    assert!(a.expire(secs(1)).len() <= 2);
    assert_eq!(ConcatAssembler::new(Duration::seconds(1), 0).pending(), 0);
}

#[test]
fn inbound_json_is_validated() {
    let json = r#"{"from": "+6281234567890", "to": "1708", "text": "BADUNG Jalan rusak", "received_at": "2026-12-03T10:00:00Z", "concat": {"ref": 42, "total": 3, "seq": 1}, "smsc": "ignored"}"#;
    let sms = parse_inbound(json).expect("valid");
    assert_eq!(
        sms.concat,
        Some(ConcatHeader {
            reference: 42,
            total: 3,
            seq: 1
        })
    );
    assert_eq!(sms.received_at, t0());
    let p = sms.into_part();
    assert_eq!(
        (p.reference, p.total, p.seq, p.from.as_str()),
        (42, 3, 1, "+6281234567890")
    );
    let plain =
        r#"{"from": "+6281234567890", "to": "1708", "text": "BADUNG x", "received_at": "2026-12-03T18:00:00+08:00"}"#;
    let p = parse_inbound(plain).expect("valid").into_part();
    assert_eq!((p.total, p.seq, p.received_at), (1, 1, t0()));

    let bad = |concat: &str, field: &str| {
        let j = format!(
            r#"{{"from": "+62811", "to": "1708", "text": "x", "received_at": "2026-12-03T10:00:00Z", "concat": {concat}}}"#
        );
        assert_eq!(
            parse_inbound(&j).map_err(|e| e.field),
            Err(field.to_string()),
            "{concat}"
        );
    };
    bad(r#"{"ref": 42, "total": 3, "seq": 0}"#, "concat.seq");
    bad(r#"{"ref": 42, "total": 3, "seq": 4}"#, "concat.seq");
    bad(r#"{"ref": 42, "total": 0, "seq": 0}"#, "concat.total");
    bad(r#"{"ref": 70000, "total": 3, "seq": 1}"#, "body");
    bad(r#"{"ref": 1, "total": 256, "seq": 1}"#, "body");
    for (json, field) in [
        (
            r#"{"to": "1708", "text": "x", "received_at": "2026-12-03T10:00:00Z"}"#,
            "from",
        ),
        (
            r#"{"from": "", "to": "1708", "text": "x", "received_at": "2026-12-03T10:00:00Z"}"#,
            "from",
        ),
        (
            r#"{"from": "+62811", "to": " ", "text": "x", "received_at": "2026-12-03T10:00:00Z"}"#,
            "to",
        ),
        (
            r#"{"from": "+62811", "to": "1708", "text": "x", "received_at": "kemarin"}"#,
            "body",
        ),
        ("not json", "body"),
    ] {
        assert_eq!(
            parse_inbound(json).map_err(|e| e.field),
            Err(field.to_string()),
            "{json}"
        );
    }
    let long = format!(
        r#"{{"from": "+62811", "to": "1708", "text": "{}", "received_at": "2026-12-03T10:00:00Z"}}"#,
        "a".repeat(MAX_PART_CHARS + 1)
    );
    assert_eq!(parse_inbound(&long).map_err(|e| e.field), Err("text".to_string()));
}

proptest! {
    #[test]
    fn parse_lapor_never_panics(s in "\\PC{0,60}", prefix in "[ \u{a0}\n]{0,3}(BADUNG|badung|Badung)?[:,.\\- ]{0,3}") {
        let text = format!("{prefix}{s}");
        match parse_lapor(&text) {
            LaporParse::Complaint(c) => prop_assert!(!c.is_empty() && c.trim() == c),
            LaporParse::Rejected(r) => prop_assert!(!reply_for_rejection(r).is_empty()),
        }
    }

    #[test]
    fn parse_inbound_never_panics(s in "\\PC{0,200}") {
        let _ = parse_inbound(&s);
    }

    #[test]
    fn any_order_of_parts_reassembles(
        texts in proptest::collection::vec("[a-z ]{0,10}", 2..8),
        order in any::<u64>(),
        dup in any::<bool>(),
    ) {
        let total = u8::try_from(texts.len()).unwrap_or(2);
        let mut seqs: Vec<u8> = (1..=total).collect();
        // A deterministic shuffle from `order`.
        let mut o = order;
        for i in (1..seqs.len()).rev() {
            seqs.swap(i, (o % (i as u64 + 1)) as usize);
            o /= i as u64 + 1;
        }
        let mut a = assembler();
        let mut result = None;
        for (n, seq) in seqs.iter().enumerate() {
            let text = &texts[usize::from(*seq) - 1];
            let got = a.push(part("+62811", 1, total, *seq, text, 0), secs(0));
            if dup && n == 0 {
                prop_assert_eq!(a.push(part("+62811", 1, total, *seq, "dup", 0), secs(0)), None);
            }
            if n + 1 < seqs.len() {
                prop_assert_eq!(got, None);
            } else {
                result = got;
            }
        }
        let done = result.expect("complete after the last part");
        prop_assert_eq!(done.text, texts.concat());
        prop_assert_eq!(a.pending(), 0);
    }
}
