//! Unit tests of the classifier on hand-written reports (not from the dev set).

use incident_types::{Category, District, EvidenceKind, PlaceKind};

use super::Classifier;

fn c() -> Classifier {
    Classifier::embedded().unwrap_or_else(|e| panic!("embedded data: {e}"))
}

#[test]
fn embedded_data_loads() {
    let c = c();
    assert!(c.gazetteer().places().len() > 150);
}

fn check(c: &Classifier, text: &str, cat: Category, prio: Option<u8>) {
    let r = c.classify(text);
    assert_eq!(r.category, cat, "{text}: {:?}", r.evidence);
    assert_eq!(r.queue, r.category.queue());
    if let Some(p) = prio {
        assert_eq!(r.priority.level(), p, "{text}: {:?}", r.evidence);
    }
    if r.category == Category::General {
        assert_eq!(r.priority.level(), 4);
    }
    assert!((0.0..=1.0).contains(&r.confidence));
}

#[test]
fn sms_shorthand_and_typos() {
    let c = c();
    check(
        &c,
        "tlg ada kbakaran dkt pasar, org2 msh di dlm",
        Category::Fire,
        Some(1),
    );
    check(
        &c,
        "BADUNG: tolonggg ada org tenggelem di pantai",
        Category::WaterRescue,
        Some(1),
    );
    check(&c, "badung, bnjr udh msk rmh selutut", Category::Flood, Some(2));
    check(
        &c,
        "ada tabrakn motor sm mobil, 1 org gk sadar",
        Category::TrafficAccident,
        Some(1),
    );
    check(&c, "ibu2 pingsan di pasar, tdk bernafas", Category::Medical, Some(1));
}

#[test]
fn english_and_mixed() {
    let c = c();
    check(
        &c,
        "scooter crash near Canggu, the rider is bleeding a lot",
        Category::TrafficAccident,
        Some(1),
    );
    check(
        &c,
        "there is a huge snake under our bed in the villa",
        Category::Animal,
        Some(3),
    );
    check(
        &c,
        "Our kid went missing at the night market two hours ago",
        Category::MissingPerson,
        None,
    );
    check(
        &c,
        "strong smell of gas in the kitchen, we all went outside",
        Category::Hazmat,
        None,
    );
    check(
        &c,
        "ada fire di warung sebelah, apinya makin besar",
        Category::Fire,
        None,
    );
}

#[test]
fn negation_cancels_the_hazard() {
    let c = c();
    check(
        &c,
        "bukan kebakaran, cuma asap bakar sampah tetangga tiap sore",
        Category::General,
        Some(4),
    );
    check(&c, "tidak ada api, tapi bau gas kuat di dapur", Category::Hazmat, None);
    check(
        &c,
        "no fire, just a burning smell from the neighbour's bbq",
        Category::General,
        Some(4),
    );
    let r = c.classify("tidak ada api, tapi bau gas kuat di dapur");
    assert!(r.evidence.iter().any(|e| e.kind == EvidenceKind::Negation));
}

#[test]
fn harmless_idioms_are_general() {
    let c = c();
    for t in [
        "pedagang kebakaran jenggot karena harga naik terus",
        "toko online kami banjir diskon akhir tahun",
        "warung lagi banjir order, kurir kurang",
        "awas serangan fajar menjelang pemilihan kepala desa",
        "jalan rusak parah sudah lama di depan sekolah, mohon diperbaiki",
        // Drills, films, aftermath, telecom cables, spilled sand, asking the way, complaints.
        "pelatihan pemadam kebakaran untuk warga banjar minggu depan, mohon info pendaftaran",
        "mohon izin mengadakan simulasi gempa dan tsunami di sekolah kami",
        "film tentang tsunami Aceh diputar di balai banjar malam ini",
        "ada bekas kebakaran lahan minggu lalu, minta dibersihkan puingnya",
        "kabel internet menjuntai rendah di jalan, sudah lama tidak diperbaiki",
        "jalan licin karena tumpahan pasir dari truk proyek, mohon dibersihkan",
        "my phone died and I'm lost in Seminyak, which way to Legian?",
        "saya mau komplain, pelayanan ambulans kemarin lambat datangnya, ibu saya sudah sembuh",
    ] {
        check(&c, t, Category::General, Some(4));
    }
    // The same words in a real emergency still count.
    check(
        &c,
        "simulasi gempa selesai, tapi sekarang ada kebakaran sungguhan di dapur sekolah",
        Category::Fire,
        None,
    );
    check(
        &c,
        "im lost, my friend collapsed and is not breathing",
        Category::Medical,
        Some(1),
    );
    let r = c.classify("toko online kami banjir diskon akhir tahun");
    assert!(r.evidence.iter().any(|e| e.kind == EvidenceKind::Harmless));
}

#[test]
fn symptoms_without_the_category_word() {
    let c = c();
    check(&c, "dia tidak bernafas, tolong cepat", Category::Medical, Some(1));
    check(
        &c,
        "air sudah masuk rumah sepinggang, nenek di kamar",
        Category::Flood,
        Some(1),
    );
    check(
        &c,
        "he's unconscious on the floor and barely breathing",
        Category::Medical,
        Some(1),
    );
}

#[test]
fn two_hazards_follow_the_taxonomy_rules() {
    let c = c();
    check(
        &c,
        "rumah tersambar petir lalu atapnya terbakar, api membesar",
        Category::Fire,
        None,
    );
    let r = c.classify("kecelakaan motor, pengendara pingsan, tidak sadar, sesak nafas, kejang");
    assert_eq!(r.category, Category::TrafficAccident);
    assert!(r.evidence.iter().any(|e| e.kind == EvidenceKind::Rule));
    check(
        &c,
        "tersambar petir di sawah, tidak ada api, petaninya luka",
        Category::Lightning,
        None,
    );
    check(
        &c,
        "kecelakaan motor, pengendara patah kaki dan berdarah",
        Category::TrafficAccident,
        Some(1),
    );
    check(
        &c,
        "angin kencang, pohon tumbang menutup jalan desa",
        Category::Storm,
        Some(3),
    );
    check(
        &c,
        "lapor pungli di kantor desa, petugas minta uang pelicin",
        Category::General,
        Some(4),
    );
}

#[test]
fn everyday_wordings_of_emergencies_are_not_general() {
    // Written for this test, in the ways callers and tourists actually put it.
    let c = c();
    use Category::*;
    for (text, cat, prio) in [
        (
            "BADUNG kbkrn gudang dkt terminal mengwi, asap item tebel bgt",
            Fire,
            None,
        ),
        (
            "help! my boyfriend was dragged out by the current at Dreamland beach",
            WaterRescue,
            Some(1),
        ),
        ("I smell gas strongly in the kitchen of our homestay", Hazmat, None),
        (
            "my daughter is having an asthma attack and her inhaler is empty",
            Medical,
            Some(1),
        ),
        ("my husband is having chest pains and sweating", Medical, Some(1)),
        (
            "our friend fell off a cliff while taking photos, he is bleeding a lot",
            Medical,
            Some(1),
        ),
        (
            "diver missing near Nusa Dua, his buddy surfaced alone 30 minutes ago",
            WaterRescue,
            Some(1),
        ),
        (
            "anak kecil kesetrum di kabel yang menjuntai depan rumah",
            Electrical,
            Some(1),
        ),
        (
            "motor nyungsep ke got di jalan raya sempidi, pengendaranya luka",
            TrafficAccident,
            None,
        ),
        ("tabung gas meledak di warung, ada yang terluka bakar", Fire, None),
        ("ada yang mau bunuh diri, mau lompat dari jembatan", Medical, Some(1)),
        ("penyelam belum naik ke permukaan sudah satu jam", WaterRescue, Some(1)),
        (
            "a big wave hit the beach, people are screaming, water is rushing inland",
            Tsunami,
            Some(1),
        ),
        (
            "an old man is wandering confused on the bypass, doesn't know where he lives",
            MissingPerson,
            None,
        ),
        (
            "there's a huge crack in the road and the hillside is moving",
            Landslide,
            None,
        ),
        (
            "ada kecelakaan kerja, buruh jatuh dari lantai 3 proyek hotel",
            Medical,
            None,
        ),
        // A longer cue decides over one inside it: a dog caught in a fence is not a person trapped.
        (
            "ada anjing terjepit di pagar, menggonggong terus kesakitan",
            Animal,
            Some(3),
        ),
        (
            "jukung nelayan hilang kontak sejak kemarin, belum kembali ke pantai",
            WaterRescue,
            Some(1),
        ),
        (
            "a jellyfish stung my son, his face is swelling and he struggles to breathe",
            Medical,
            Some(1),
        ),
        ("ada mayat mengapung di sungai dekat jembatan", WaterRescue, Some(2)),
        (
            "the ground shook really hard and part of the temple wall fell down",
            Earthquake,
            None,
        ),
        (
            "mobil masuk jurang di jalan menuju Pelaga, sopir belum dievakuasi",
            TrafficAccident,
            Some(1),
        ),
        (
            "we are stuck in the villa, the water outside is waist deep and rising",
            Flood,
            Some(1),
        ),
        (
            "ada perkelahian di depan bar, ada yang bawa botol pecah",
            Crime,
            Some(1),
        ),
        // "sepertinya" (it seems) is not the negator "seperti" (like).
        (
            "ada pria tergeletak bersimbah darah di gang, sepertinya ditusuk",
            Crime,
            Some(1),
        ),
        (
            "sepertinya ada kebocoran gas di restoran, pengunjung sudah dievakuasi",
            Hazmat,
            None,
        ),
        ("rmh sy kemasukan air, udh sebetis, hujan blm berhenti", Flood, None),
        (
            "my friend is stuck on the rocks at Uluwatu and the tide is coming in",
            WaterRescue,
            Some(1),
        ),
        (
            "tlg cpt, ad kcelakaan truk vs motor di simpang kuta, korbn ga gerak",
            TrafficAccident,
            Some(1),
        ),
    ] {
        check(&c, text, cat, prio);
    }
}

#[test]
fn place_names_written_as_one_word_and_a_bare_river_is_no_place() {
    let c = c();
    let g = c.gazetteer();
    let p = g.find_in_text("anak jatuh ke sumur di Sibangkaja").map(|p| p.name);
    assert_eq!(p.as_deref(), Some("Sibang Kaja"));
    let p = g.find_in_text("banjir di kerobokankelod").map(|p| p.district);
    assert_eq!(p, Some(District::KutaUtara));
    // "Badung" starts an SMS, not the name of a river: "the river" alone names no place.
    let p = g.find_in_text("the river is overflowing and our street in Kerobokan is under water");
    assert_eq!(p.map(|p| p.name).as_deref(), Some("Kerobokan"));
}

#[test]
fn priority_cues() {
    let c = c();
    check(
        &c,
        "perampokan di toko emas, pelaku bawa pisau",
        Category::Crime,
        Some(1),
    );
    check(
        &c,
        "ada ular kobra di gudang, tidak ada yang digigit",
        Category::Animal,
        Some(3),
    );
    check(&c, "kebakaran lahan kosong di pinggir desa", Category::Fire, Some(2));
}

#[test]
fn locations_prefer_specific_places_and_respect_ambiguity() {
    let c = c();
    let g = c.gazetteer();
    let p = g
        .find_in_text("kecelakaan di jln legian dekat Kuta")
        .unwrap_or_else(|| panic!("no place"));
    assert_eq!(p.name, "Jalan Legian");
    assert_eq!(p.kind, PlaceKind::Road);
    let p = g
        .find_in_text("ada yang tenggelam di kuta beach")
        .unwrap_or_else(|| panic!("no place"));
    assert_eq!(p.kind, PlaceKind::Beach);
    assert_eq!(p.district, District::Kuta);
    let p = g
        .find_in_text("banjir di smnyak, eh Seminyk maksudnya")
        .map(|p| p.district);
    assert_eq!(p, Some(District::Kuta));
    assert_eq!(
        g.find_in_text("sedang hujan deras, taman kota banjir").map(|p| p.name),
        None
    );
    assert_eq!(
        g.find_in_text("Gardu meledak di desa Sedang").map(|p| p.district),
        Some(District::Abiansemal)
    );
    assert_eq!(
        g.find_in_text("kebakaran di Kerobokn Kelod").map(|p| p.district),
        Some(District::KutaUtara)
    );
    // A name inside a longer one names the longer place: the district, not the village of Kuta.
    for (text, district) in [
        ("pohon tumbang menutup jalan di Kuta Utara", District::KutaUtara),
        ("pabrik di Kuta Selatan bocor bahan kimia", District::KutaSelatan),
        ("kebakaran di kecamatan kuta utara", District::KutaUtara),
    ] {
        let p = g.find_in_text(text).unwrap_or_else(|| panic!("no place in {text:?}"));
        assert_eq!((p.kind, p.district), (PlaceKind::District, district), "{text}");
    }
    let r = c.classify("tabrakan di Jl. Raya Sempidi, sopir terjepit");
    assert_eq!(r.location.map(|l| l.district), Some(District::Mengwi));
    assert!(r.evidence.iter().any(|e| e.kind == EvidenceKind::Place));
}

#[test]
fn search_is_tolerant() {
    let c = c();
    let g = c.gazetteer();
    assert_eq!(g.search("semin", 5).first().map(|p| p.name.as_str()), Some("Seminyak"));
    assert!(g.search("uluwatu", 10).iter().any(|p| p.name == "Pura Luhur Uluwatu"));
    assert!(g.search("kerobokn", 5).iter().any(|p| p.name.starts_with("Kerobokan")));
    assert!(g.search("", 5).is_empty());
    assert!(g.search("bingin", 3).len() <= 3);
}

#[test]
fn never_panics_and_empty_is_general() {
    let c = c();
    for t in [
        "",
        " ",
        "!!!",
        "2222",
        "🔥🔥🔥",
        "\u{0}\u{1}",
        &"a".repeat(10_000),
        &"kebakaran ".repeat(500),
    ] {
        let r = c.classify(t);
        assert_eq!(r.queue, r.category.queue());
    }
    assert_eq!(c.classify("").category, Category::General);
}

#[test]
fn precomputed_word_resolution_matches_the_full_lookup() {
    // `resolve` answers known words from a table and skips the exact lookups for the rest;
    // both shortcuts must give what the full lookup gives, for known words, typos and noise.
    let c = c();
    let mut words: Vec<String> = c.known.keys().map(|w| w.to_string()).collect();
    let typos: Vec<String> = words
        .iter()
        .flat_map(|w| {
            let mut dropped = w.clone();
            dropped.pop();
            [
                format!("{w}nya"),
                format!("di{w}"),
                format!("ke{w}an"),
                dropped,
                format!("{w}x"),
            ]
        })
        .collect();
    words.extend(typos);
    words.extend(["", "2", "x", "qwertyuiop", "kebakran", "tenggelem", "kerobokn"].map(String::from));
    for w in &words {
        assert_eq!(c.resolve(w), c.resolve_uncached(w), "{w}");
    }
}

#[test]
fn bad_data_names_file_and_line() {
    let mut src = super::DataSources::embedded();
    let broken = "name,kind,district,lat,lon,aliases\nFoo,village,kuta,-8.7,115.1,\nBar,moon,kuta,-8.7,115.1,\n";
    src.gazetteer_csv = broken;
    let e = Classifier::from_sources(src)
        .err()
        .unwrap_or_else(|| panic!("accepted bad data"));
    assert_eq!(e.line(), Some(3));
    assert!(e.to_string().contains("gazetteer.csv:3"), "{e}");
}

#[test]
fn stream_reports_bad_lines_in_order() {
    let c = c();
    let mut input: Vec<u8> = Vec::new();
    input.extend_from_slice(b"{\"text\": \"kebakaran di Legian\"}\n");
    input.extend_from_slice(b"not json\n");
    input.extend_from_slice(b"{\"text\": 5}\n");
    input.extend_from_slice(b"{\"text\": \"\"}\n");
    input.extend_from_slice(b"{\"text\": \"\xff\xfe\"}\n");
    input.extend_from_slice(format!("{{\"text\": \"{}\"}}\n", "a".repeat(4001)).as_bytes());
    input.extend_from_slice(b"{\"text\": \"ular masuk rumah\"}");
    let mut out = Vec::new();
    let stats = super::eval::classify_stream(&c, &input[..], &mut out).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((stats.lines, stats.classified, stats.errors), (7, 2, 5));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    assert_eq!(lines.len(), 7);
    assert_eq!(lines[0]["category"], "fire");
    let codes: Vec<&str> = lines[1..6]
        .iter()
        .map(|l| l["error"]["code"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        codes,
        [
            "invalid_json",
            "missing_text",
            "empty_text",
            "invalid_utf8",
            "text_too_long"
        ]
    );
    assert_eq!(lines[4]["error"]["line"], 5);
    assert_eq!(lines[6]["category"], "animal");
}

#[test]
fn classifier_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Classifier>();
}
