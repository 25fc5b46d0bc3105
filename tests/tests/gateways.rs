//! Intake gateways end to end: SMS to 1708, AML caller locations, duplicates and repeat callers.

use chrono::Utc;
use dispatcher::gateways::aml::{format_sms, sign_https, AmlFix, PositioningMethod};
use e2e_tests::{fresh_settings, spawn_app, spawn_with, Db, TestApp};
use serde_json::{json, Value};

fn sms(from: &str, text: &str) -> Value {
    json!({"from": from, "to": "1708", "text": text, "received_at": Utc::now()})
}

#[tokio::test]
async fn sms_to_1708_becomes_a_numbered_report_or_gets_the_format_explained() {
    let t = spawn_app(Db::Sqlite).await;
    let ok = t
        .post(
            "/api/v1/sms/inbound",
            &t.tokens.integrator,
            sms(
                "+6281337000111",
                "badung:  tlg ada kbakaran rumah dkt pasar Mengwi, asap tebal",
            ),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    assert_eq!(ok.body["status"], "accepted");
    let number = ok.body["report"]["number"].as_str().expect("number");
    assert!(
        ok.body["reply"].as_str().is_some_and(|r| r.contains(number)),
        "the reply gives the number: {}",
        ok.body["reply"]
    );
    assert_eq!(ok.body["report"]["category"], "fire");
    assert_eq!(ok.body["report"]["queue"], "emergency");
    let id = ok.body["report"]["id"].as_str().expect("id");
    let d = t.get(&format!("/api/v1/incidents/{id}"), &t.tokens.call_taker).await;
    assert_eq!(d.body["reports"][0]["channel"], "sms");
    assert_eq!(
        d.body["reports"][0]["reporter"]["phone"], "+6281337000111",
        "staff see the sender"
    );
    assert_eq!(d.body["incident"]["district"], "mengwi");

    for (text, code) in [
        ("Lampu jalan mati di Kuta", "missing_keyword"),
        ("BADUNG", "empty_complaint"),
        ("BADUNGKU lampu mati", "missing_keyword"),
        ("BADUNG :  ", "empty_complaint"),
    ] {
        let r = t
            .post("/api/v1/sms/inbound", &t.tokens.integrator, sms("+6281337000222", text))
            .await;
        assert_eq!(r.status, 200, "{text}: {}", r.body);
        assert_eq!(r.body["status"], "rejected");
        assert_eq!(r.body["code"], code);
        assert!(
            r.body["reply"].as_str().is_some_and(|m| m.contains("BADUNG")),
            "the reply explains the format"
        );
    }
    let all = t.get("/api/v1/incidents", &t.tokens.call_taker).await;
    assert_eq!(
        all.body.as_array().map(Vec::len),
        Some(1),
        "rejected messages store nothing"
    );

    // A long SMS in two parts is joined.
    let part = |seq: u8, text: &str| json!({"from": "+6281337000333", "to": "1708", "text": text, "received_at": Utc::now(), "concat": {"ref": 77, "total": 2, "seq": seq}});
    let second_first = t
        .post(
            "/api/v1/sms/inbound",
            &t.tokens.integrator,
            part(2, " sudah dua minggu, mohon diperbaiki"),
        )
        .await;
    assert_eq!(second_first.status, 202);
    assert_eq!(second_first.body["status"], "waiting_for_parts");
    let done = t
        .post(
            "/api/v1/sms/inbound",
            &t.tokens.integrator,
            part(1, "BADUNG Jalan berlubang besar di Jalan Raya Sempidi"),
        )
        .await;
    assert_eq!(done.status, 201, "{}", done.body);
    assert_eq!(done.body["report"]["queue"], "general");
    let d = t
        .get(
            &format!("/api/v1/incidents/{}", done.body["report"]["id"].as_str().expect("id")),
            &t.tokens.call_taker,
        )
        .await;
    let text = d.body["reports"][0]["text"].as_str().expect("text");
    assert!(
        text.starts_with("Jalan berlubang") && text.ends_with("mohon diperbaiki"),
        "{text}"
    );

    let bad = t
        .post(
            "/api/v1/sms/inbound",
            &t.tokens.integrator,
            json!({"from": "+62", "to": "1708", "text": "BADUNG x", "received_at": "yesterday"}),
        )
        .await;
    assert_eq!((bad.status, bad.error_field()), (400, Some("received_at")));
    t.stop().await;
}

fn fix(lat: f64, lon: f64) -> AmlFix {
    AmlFix {
        version: 1,
        lat,
        lon,
        radius_m: Some(18.0),
        confidence_pct: Some(68),
        positioning: PositioningMethod::Gnss,
        fix_time: Some(Utc::now()),
        caller: None,
        imsi: Some("510101234567890".into()),
        imei: Some("3520990012345678".into()),
        mcc: Some("510".into()),
        mnc: Some("10".into()),
    }
}

async fn aml_sms(t: &TestApp, from: &str, body: String) -> e2e_tests::Answer {
    let resp = t
        .http
        .post(format!("{}/api/v1/aml/sms", t.url))
        .bearer_auth(&t.tokens.integrator)
        .header("X-AML-From", from)
        .body(body)
        .send()
        .await
        .expect("send");
    let status = resp.status().as_u16();
    e2e_tests::Answer {
        status,
        body: resp.json().await.unwrap_or(Value::Null),
    }
}

async fn call_event(t: &TestApp, call: &str, kind: &str, caller: &str, extra: Value) -> Value {
    let mut body = json!({"call_id": call, "kind": kind, "caller": caller, "at": Utc::now()});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let a = t.post("/api/v1/calls/events", &t.tokens.integrator, body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body
}

#[tokio::test]
async fn aml_fixes_attach_to_the_callers_call_or_wait_for_it() {
    let t = spawn_app(Db::Sqlite).await;
    let caller = "+6281234500001";
    call_event(&t, "aml-1", "offered", caller, json!({})).await;
    call_event(
        &t,
        "aml-1",
        "transcript",
        caller,
        json!({"text": "tolong ada kecelakaan motor, korban berdarah"}),
    )
    .await;
    let a = aml_sms(&t, caller, format_sms(&fix(-8.6593, 115.1302))).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["status"], "attached");
    let calls = t
        .get(
            &format!("/api/v1/calls?caller={}", "%2B6281234500001"),
            &t.tokens.call_taker,
        )
        .await;
    assert_eq!(calls.body[0]["location"]["source"], "aml");
    assert_eq!(calls.body[0]["location"]["accuracy_m"], 18.0);
    // The call's incident moved to the AML fix.
    let incident = calls.body[0]["incident_id"].as_str().expect("incident");
    let d = t
        .get(&format!("/api/v1/incidents/{incident}"), &t.tokens.call_taker)
        .await;
    assert_eq!(d.body["incident"]["location"]["source"], "aml");

    // A fix that comes before its call is held, then attached when the call is offered.
    let early = "+6281234500002";
    let held = aml_sms(&t, early, format_sms(&fix(-8.7185, 115.1686))).await;
    assert_eq!(held.body["status"], "held");
    let call = call_event(&t, "aml-2", "offered", early, json!({})).await;
    assert_eq!(call["location"]["source"], "aml");

    // Malformed AML: a clear 400 naming the field.
    for (body, field) in [
        (
            "A\"ML=1;lt=+-8.7;lg=115.1;rd=10;top=20261203101010;lc=68;pm=G;ml=66".to_owned(),
            "lt",
        ),
        (
            "A\"ML=1;lt=-8.7;lg=115.1;rd=10;top=20261203101010;lc=68;pm=G;ml=9".to_owned(),
            "ml",
        ),
        ("garbage \u{1}\u{2}".to_owned(), "body"),
    ] {
        let r = aml_sms(&t, caller, body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.error_field(), Some(field), "{body}: {}", r.body);
    }
    let no_sender = t
        .http
        .post(format!("{}/api/v1/aml/sms", t.url))
        .bearer_auth(&t.tokens.integrator)
        .body(format_sms(&fix(-8.7, 115.17)))
        .send()
        .await
        .expect("send");
    assert_eq!(no_sender.status().as_u16(), 400);
    t.stop().await;
}

#[tokio::test]
async fn aml_over_https_checks_the_hmac() {
    let (mut settings, dir) = fresh_settings(Db::Sqlite).await;
    settings.aml_hmac_key = Some("shared-secret".into());
    let t = spawn_with(settings, dir).await;
    let mut fields: Vec<(String, String)> = [
        ("v", "3"),
        ("emergency_number", "112"),
        ("location_latitude", "-8.7967"),
        ("location_longitude", "115.2345"),
        ("location_accuracy", "12.5"),
        ("location_source", "gps"),
        ("device_number", "+6281234500003"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    fields.push(("location_time".into(), Utc::now().timestamp_millis().to_string()));
    let hmac = sign_https(&fields, b"shared-secret");
    let post = |fields: Vec<(String, String)>| {
        let http = t.http.clone();
        let url = format!("{}/api/v1/aml/https", t.url);
        let token = t.tokens.integrator.clone();
        async move {
            let resp = http
                .post(url)
                .bearer_auth(token)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(serde_urlencoded_body(&fields))
                .send()
                .await
                .expect("send");
            (
                resp.status().as_u16(),
                resp.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let mut good = fields.clone();
    good.push(("hmac".into(), hmac.clone()));
    let (status, body) = post(good).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["location"]["source"], "aml");
    let mut forged = fields.clone();
    forged.push(("hmac".into(), hmac.replace(&hmac[..2], "00")));
    let (status, body) = post(forged).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "aml_bad_hmac");
    let (status, body) = post(fields).await;
    assert_eq!((status, body["error"]["field"].as_str()), (400, Some("hmac")));
    t.stop().await;
}

fn serde_urlencoded_body(fields: &[(String, String)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn five_reports_of_one_fire_become_one_incident_with_five_callers() {
    let t = spawn_app(Db::Sqlite).await;
    let spots = [
        (-8.71850, 115.16860),
        (-8.71900, 115.16900),
        (-8.71780, 115.16820),
        (-8.71700, 115.16950),
        (-8.71950, 115.16750),
    ];
    let texts = [
        "Kebakaran toko di dekat pantai Kuta",
        "fire near Kuta beach, big smoke",
        "ada api besar dkt Beachwalk",
        "Toko terbakar, asap tebal",
        "kebakaran, tolong cepat",
    ];
    let mut ids = Vec::new();
    for (i, ((lat, lon), text)) in spots.iter().zip(texts).enumerate() {
        let a = t.post("/api/v1/reports", &t.tokens.integrator, json!({"channel": "app", "text": text, "location": {"lat": lat, "lon": lon, "accuracy_m": 15, "source": "gnss"}, "reporter": {"phone": format!("+62811000000{i}")}})).await;
        assert_eq!(a.status, 201, "{}", a.body);
        assert_eq!(a.body["duplicate"], i > 0);
        ids.push(a.body["id"].as_str().expect("id").to_owned());
    }
    assert!(ids.iter().all(|id| *id == ids[0]), "one incident: {ids:?}");
    let d = t
        .get(&format!("/api/v1/incidents/{}", ids[0]), &t.tokens.call_taker)
        .await;
    assert_eq!(d.body["incident"]["reports"], 5);
    let phones: Vec<&str> = d.body["reports"]
        .as_array()
        .expect("reports")
        .iter()
        .filter_map(|r| r["reporter"]["phone"].as_str())
        .collect();
    assert_eq!(phones.len(), 5, "each caller's details kept");
    // A fire 2 km away is its own incident.
    let other = t.report("Kebakaran rumah", -8.7000, 115.1700).await;
    assert_ne!(other["id"].as_str(), Some(ids[0].as_str()));
    t.stop().await;
}

#[tokio::test]
async fn repeat_callers_are_marked() {
    let t = spawn_app(Db::Sqlite).await;
    let caller = "+6285700000009";
    for n in 0..3 {
        let call = call_event(&t, &format!("rep-{n}"), "offered", caller, json!({})).await;
        assert_eq!(call["previous_calls"], n, "{call}");
    }
    let history = t
        .get("/api/v1/calls?caller=%2B6285700000009", &t.tokens.call_taker)
        .await;
    assert_eq!(history.body.as_array().map(Vec::len), Some(3));
    t.stop().await;
}

#[tokio::test]
async fn call_takers_merge_and_unlink_duplicates_with_the_timeline_kept() {
    let t = spawn_app(Db::Sqlite).await;
    // Two reports of one crash, 900 m apart (too far to be joined automatically).
    let a = t
        .report("Tabrakan mobil dan motor di bypass, korban luka", -8.7700, 115.1850)
        .await;
    let b = t
        .report("kecelakaan di jalan bypass dekat lampu merah", -8.7780, 115.1870)
        .await;
    let (a_id, b_id) = (a["id"].as_str().expect("a"), b["id"].as_str().expect("b"));
    assert_ne!(a_id, b_id);
    let dups = t
        .get(&format!("/api/v1/incidents/{b_id}/duplicates"), &t.tokens.call_taker)
        .await;
    assert!(
        dups.body.as_array().is_some_and(|d| d.iter().any(|i| i["id"] == a_id)),
        "offered as a possible duplicate: {}",
        dups.body
    );

    let merged = t
        .post(
            &format!("/api/v1/incidents/{b_id}/merge"),
            &t.tokens.call_taker,
            json!({"into": a_id}),
        )
        .await;
    assert_eq!(merged.status, 200, "{}", merged.body);
    assert_eq!(merged.body["reports"], 2);
    let b_now = t.get(&format!("/api/v1/incidents/{b_id}"), &t.tokens.call_taker).await;
    assert_eq!(b_now.body["incident"]["status"], "duplicate");
    let a_now = t.get(&format!("/api/v1/incidents/{a_id}"), &t.tokens.call_taker).await;
    assert!(a_now.body["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .any(|e| e["event"]["type"] == "report_moved" && e["actor"]["role"] == "call_taker"));
    let moved_report = a_now.body["reports"][1]["id"].as_str().expect("report").to_owned();

    // It was not the same crash after all: unlink it into an incident of its own.
    let unlinked = t
        .post(
            &format!("/api/v1/reports/{moved_report}/unlink"),
            &t.tokens.call_taker,
            json!({}),
        )
        .await;
    assert_eq!(unlinked.status, 201, "{}", unlinked.body);
    assert_eq!(unlinked.body["reports"], 1);
    assert_eq!(unlinked.body["category"], "traffic_accident");
    let a_after = t.get(&format!("/api/v1/incidents/{a_id}"), &t.tokens.call_taker).await;
    assert_eq!(a_after.body["incident"]["reports"], 1);
    let only = a_after.body["reports"][0]["id"].as_str().expect("report").to_owned();
    let refused = t
        .post(
            &format!("/api/v1/reports/{only}/unlink"),
            &t.tokens.call_taker,
            json!({}),
        )
        .await;
    assert_eq!(refused.status, 409);
    let itself = t
        .post(
            &format!("/api/v1/incidents/{a_id}/merge"),
            &t.tokens.call_taker,
            json!({"into": a_id}),
        )
        .await;
    assert_eq!((itself.status, itself.error_field()), (400, Some("into")));
    t.stop().await;
}
