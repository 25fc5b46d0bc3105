//! The HTTP API end to end: intake, timeline, lifecycle, corrections, auth, bad input, idempotency.

use e2e_tests::{both_backends, spawn_app, spawn_with, Db, TestApp};
use serde_json::{json, Value};

async fn report_becomes_incident_with_timeline(db: Db) {
    let t = spawn_app(db).await;
    let r = t
        .report(
            "Tolong ada kebakaran rumah di Legian, ada orang terjebak di dalam",
            -8.705,
            115.172,
        )
        .await;
    assert_eq!(r["category"], "fire");
    assert_eq!(r["queue"], "emergency");
    assert_eq!(r["priority"], 1);
    assert!(
        r["number"]
            .as_str()
            .is_some_and(|n| n.starts_with("BDG-") && n.len() == "BDG-2026-000001".len()),
        "{r}"
    );
    let id = r["id"].as_str().expect("id");

    let d = t.get(&format!("/api/v1/incidents/{id}"), &t.tokens.call_taker).await;
    assert_eq!(d.status, 200);
    let kinds: Vec<&str> = d.body["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|e| e["event"]["type"].as_str())
        .collect();
    assert_eq!(kinds, ["incident_created", "report_received"]);
    let seqs: Vec<i64> = d.body["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|e| e["seq"].as_i64())
        .collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "gap-free: {seqs:?}");
    assert_eq!(d.body["timeline"][0]["actor"]["role"], "integrator");

    // A complaint goes to the general queue with priority 4.
    let g = t
        .report("Lampu jalan di depan rumah saya mati sudah dua minggu", -8.60, 115.18)
        .await;
    assert_eq!(g["queue"], "general");
    assert_eq!(g["priority"], 4);
    let general = t.get("/api/v1/incidents?queue=general", &t.tokens.call_taker).await;
    assert_eq!(general.body.as_array().map(Vec::len), Some(1));
    t.stop().await;
}
both_backends!(
    report_becomes_incident_with_timeline_on,
    report_becomes_incident_with_timeline
);

/// Incidents stored before migration 0003 have NULL in its columns; the store
/// fills them from the body at start, and duplicates can then join them.
async fn incidents_from_before_the_counter_columns_are_filled_at_start(db: Db) {
    let t = spawn_app(db).await;
    let text = "Kebakaran gudang di Dalung, api besar";
    let first = t.report(text, -8.6270, 115.1840).await;
    let id = first["id"].as_str().expect("id").to_owned();
    let settings = t.settings.clone();
    let TestApp { app, _dir: dir, .. } = t;
    app.shutdown().await.expect("shutdown");

    let url = settings
        .database_url
        .clone()
        .unwrap_or_else(|| dispatcher::store::sqlite_url(&settings.data_dir));
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.expect("connect");
    sqlx::query("UPDATE incidents SET reports = NULL, category = NULL, outside_badung = NULL")
        .execute(&pool)
        .await
        .expect("as before migration 0003");
    pool.close().await;

    let t = spawn_with(settings, dir).await;
    let again = t.report(text, -8.6271, 115.1841).await;
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(again["id"], id.as_str());
    assert_eq!(again["category"], "fire");
    let d = t.get(&format!("/api/v1/incidents/{id}"), &t.tokens.call_taker).await;
    assert_eq!(d.body["incident"]["reports"], 2, "{}", d.body);
    assert_eq!(d.body["reports"].as_array().map(Vec::len), Some(2));
    t.stop().await;
}
both_backends!(
    incidents_from_before_the_counter_columns_are_filled_at_start_on,
    incidents_from_before_the_counter_columns_are_filled_at_start
);

async fn lifecycle_is_enforced_and_corrections_are_kept(db: Db) {
    let t = spawn_app(db).await;
    let r = t
        .report("Ada orang pingsan di pasar, tidak sadarkan diri", -8.548, 115.171)
        .await;
    let id = r["id"].as_str().expect("id");
    let path = format!("/api/v1/incidents/{id}");

    let bad = t
        .post(
            &format!("{path}/transition"),
            &t.tokens.call_taker,
            json!({"to": "closed"}),
        )
        .await;
    assert_eq!(bad.status, 409);
    assert_eq!(bad.error_code(), Some("illegal_transition"));
    let allowed: Vec<&str> = bad.body["error"]["allowed"]
        .as_array()
        .expect("allowed")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        allowed.contains(&"triaged") && allowed.contains(&"cancelled"),
        "{allowed:?}"
    );

    let ok = t
        .post(
            &format!("{path}/transition"),
            &t.tokens.call_taker,
            json!({"to": "triaged", "note": "confirmed by phone"}),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["status"], "triaged");
    // A second caller joins it; the stored row's columns (which the list
    // filters on) follow the transition, and the duplicate leaves them so.
    let again = t
        .report("Orang pingsan di pasar, belum sadar juga", -8.548, 115.171)
        .await;
    assert_eq!(again["duplicate"], true, "{again}");
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("list")
            .iter()
            .filter_map(|i| i["id"].as_str().map(str::to_owned))
            .collect()
    };
    let triaged = t.get("/api/v1/incidents?status=triaged", &t.tokens.call_taker).await;
    assert_eq!(ids(&triaged.body), vec![id.to_owned()]);
    assert_eq!(triaged.body[0]["reports"], 2);
    let new = t.get("/api/v1/incidents?status=new", &t.tokens.call_taker).await;
    assert!(ids(&new.body).is_empty(), "{}", new.body);

    let patched = t.call("PATCH", &path, &t.tokens.dispatcher, Some(json!({"priority": 2, "location": {"lat": -8.55, "lon": 115.17, "source": "manual", "label": "Pasar Mengwi"}}))).await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["priority"], 2);
    assert_eq!(patched.body["location"]["source"], "manual");
    assert_eq!(
        patched.body["reports"], 2,
        "a correction keeps the joined report's count"
    );

    let d = t.get(&path, &t.tokens.supervisor).await;
    let corrected = d.body["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .find(|e| e["event"]["type"] == "incident_corrected")
        .cloned()
        .expect("correction in timeline");
    assert_eq!(corrected["event"]["priority"]["from"], 1);
    assert_eq!(corrected["event"]["priority"]["to"], 2);
    assert_eq!(corrected["actor"]["role"], "dispatcher");

    // General items are always priority 4.
    let wrong = t
        .call(
            "PATCH",
            &path,
            &t.tokens.dispatcher,
            Some(json!({"category": "general", "priority": 2})),
        )
        .await;
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.error_field(), Some("priority"));
    t.stop().await;
}
both_backends!(
    lifecycle_is_enforced_and_corrections_are_kept_on,
    lifecycle_is_enforced_and_corrections_are_kept
);

async fn idempotency_key_returns_the_first_answer(db: Db) {
    let t = spawn_app(db).await;
    let body = json!({"channel": "web", "text": "Banjir masuk rumah di Kerobokan setinggi lutut"});
    let key = [("Idempotency-Key", "retry-me-1")];
    let first = t
        .send(
            "POST",
            "/api/v1/reports",
            &t.tokens.integrator,
            Some(body.clone()),
            &key,
        )
        .await
        .expect("first");
    let second = t
        .send(
            "POST",
            "/api/v1/reports",
            &t.tokens.integrator,
            Some(body.clone()),
            &key,
        )
        .await
        .expect("second");
    assert_eq!(first.status, 201);
    assert_eq!(second.status, 201);
    assert_eq!(first.body, second.body, "a retry returns the first answer");
    let all = t.get("/api/v1/incidents", &t.tokens.call_taker).await;
    assert_eq!(all.body.as_array().map(Vec::len), Some(1), "no second record");

    let other = t
        .send(
            "POST",
            "/api/v1/reports",
            &t.tokens.integrator,
            Some(json!({"channel": "web", "text": "something else"})),
            &key,
        )
        .await
        .expect("reuse");
    assert_eq!(other.status, 409);
    assert_eq!(other.error_code(), Some("idempotency_key_reused"));

    // Call events are idempotent by (call_id, kind, at).
    let ev = json!({"call_id": "c-1", "kind": "offered", "caller": "+6281234567890", "at": "2026-12-03T10:00:00Z"});
    let a = t.post("/api/v1/calls/events", &t.tokens.integrator, ev.clone()).await;
    let b = t.post("/api/v1/calls/events", &t.tokens.integrator, ev).await;
    assert_eq!((a.status, b.status), (200, 200));
    let d = t.get("/api/v1/calls?active=true", &t.tokens.call_taker).await;
    assert_eq!(d.body.as_array().map(Vec::len), Some(1));
    t.stop().await;
}
both_backends!(
    idempotency_key_returns_the_first_answer_on,
    idempotency_key_returns_the_first_answer
);

#[tokio::test]
async fn every_bad_input_gets_a_4xx_naming_the_field_and_writes_nothing() {
    let t = spawn_app(Db::Sqlite).await;
    let tok = t.tokens.integrator.clone();
    let cases: Vec<(Value, u16, Option<&str>)> = vec![
        (json!({"channel": "fax", "text": "x"}), 400, Some("channel")),
        (json!({"text": "x"}), 400, Some("channel")),
        (json!({"channel": "app"}), 400, Some("text")),
        (json!({"channel": "app", "text": "   "}), 400, Some("text")),
        (json!({"channel": "app", "text": "x".repeat(4001)}), 400, Some("text")),
        (
            json!({"channel": "app", "text": "x", "location": {"lat": 91.0, "lon": 115.0, "source": "gnss"}}),
            400,
            Some("location.lat"),
        ),
        (
            json!({"channel": "app", "text": "x", "location": {"lat": -8.7, "lon": 181.0, "source": "gnss"}}),
            400,
            Some("location.lon"),
        ),
        (
            json!({"channel": "app", "text": "x", "location": {"lat": -8.7, "lon": 115.1, "source": "radar"}}),
            400,
            Some("location.source"),
        ),
        (
            json!({"channel": "app", "text": "x", "location": {"lat": -8.7, "source": "gnss"}}),
            400,
            Some("location.lon"),
        ),
        (
            json!({"channel": "app", "text": "x", "location": {"lat": "north", "lon": 115.1, "source": "gnss"}}),
            400,
            Some("location.lat"),
        ),
        (
            json!({"channel": "app", "text": "x", "colour": "red"}),
            400,
            Some("colour"),
        ),
        (
            json!({"channel": "app", "text": "x", "reporter": {"phone": "call me maybe"}}),
            400,
            Some("reporter.phone"),
        ),
    ];
    for (body, status, field) in cases {
        let a = t.post("/api/v1/reports", &tok, body.clone()).await;
        assert_eq!(a.status, status, "{body} -> {}", a.body);
        assert_eq!(a.error_field(), field, "{body} -> {}", a.body);
        assert!(a.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Not JSON at all, non-finite numbers (JSON has none: `NaN` is a syntax error), wrong media type, too big.
    let raw = |body: &'static str, ct: &'static str| {
        let http = t.http.clone();
        let url = format!("{}/api/v1/reports", t.url);
        let tok = tok.clone();
        async move {
            http.post(url)
                .bearer_auth(tok)
                .header("content-type", ct)
                .body(body)
                .send()
                .await
                .expect("send")
                .status()
                .as_u16()
        }
    };
    assert_eq!(raw("{\"channel\": \"app\", \"text\": ", "application/json").await, 400);
    assert_eq!(
        raw(
            "{\"channel\":\"app\",\"text\":\"x\",\"location\":{\"lat\":NaN,\"lon\":1,\"source\":\"gnss\"}}",
            "application/json"
        )
        .await,
        400
    );
    assert_eq!(raw("channel=app", "application/x-www-form-urlencoded").await, 415);
    let huge = t
        .http
        .post(format!("{}/api/v1/reports", t.url))
        .bearer_auth(&tok)
        .header("content-type", "application/json")
        .body(vec![b' '; 200_000])
        .send()
        .await
        .expect("send");
    assert_eq!(huge.status().as_u16(), 413);
    // Outside Badung is accepted but flagged.
    let very_far = t.report("Kebakaran gudang", -6.2, 106.8).await;
    assert_eq!(very_far["outside_badung"], true);
    let all = t.get("/api/v1/incidents", &t.tokens.call_taker).await;
    assert_eq!(all.body.as_array().map(Vec::len), Some(1), "bad input wrote nothing");

    // Bad query parameters and ids.
    let q = t.get("/api/v1/incidents?queue=urgent", &t.tokens.call_taker).await;
    assert_eq!((q.status, q.error_field()), (400, Some("queue")));
    let q = t.get("/api/v1/incidents?limit=0", &t.tokens.call_taker).await;
    assert_eq!((q.status, q.error_field()), (400, Some("limit")));
    assert_eq!(
        t.get("/api/v1/incidents/not-a-uuid", &t.tokens.call_taker).await.status,
        404
    );
    t.stop().await;
}

#[tokio::test]
async fn roles_decide_what_a_token_may_do() {
    let t = spawn_app(Db::Sqlite).await;
    let health = t.http.get(format!("{}/healthz", t.url)).send().await.expect("health");
    assert_eq!(health.status().as_u16(), 200, "healthz needs no token");
    assert_eq!(t.get("/api/v1/incidents", "bdg_not_a_token").await.status, 401);
    let none = t
        .http
        .get(format!("{}/api/v1/incidents", t.url))
        .send()
        .await
        .expect("send");
    assert_eq!(none.status().as_u16(), 401);
    assert_eq!(
        t.get("/api/v1/incidents", &t.tokens.integrator).await.status,
        403,
        "integrators only post"
    );
    let me = t.get("/api/v1/me", &t.tokens.supervisor).await;
    assert_eq!(me.body["role"], "supervisor");
    t.seed_units().await;
    let unit = t.unit_token("DMK-KTA-1").await;
    let own = t
        .post(
            "/api/v1/units/DMK-KTA-1/position",
            &unit,
            json!({"lat": -8.72, "lon": 115.18, "at": chrono::Utc::now()}),
        )
        .await;
    assert_eq!(own.status, 200, "{}", own.body);
    let other = t
        .post(
            "/api/v1/units/DMK-KTA-2/position",
            &unit,
            json!({"lat": -8.72, "lon": 115.18, "at": chrono::Utc::now()}),
        )
        .await;
    assert_eq!(other.status, 403);
    assert_eq!(
        t.post("/api/v1/reports", &unit, json!({"channel": "app", "text": "x"}))
            .await
            .status,
        403
    );
    t.stop().await;
}

#[tokio::test]
async fn openapi_document_is_served_and_lists_every_route() {
    let t = spawn_app(Db::Sqlite).await;
    let doc = t
        .http
        .get(format!("{}/api/v1/openapi.json", t.url))
        .send()
        .await
        .expect("doc")
        .json::<Value>()
        .await
        .expect("json");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    for (method, path, _) in dispatcher::http::api_routes() {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing from the served document"
        );
    }
    t.stop().await;
}

#[tokio::test]
async fn classify_endpoint_stores_nothing() {
    let t = spawn_app(Db::Sqlite).await;
    let c = t
        .post(
            "/api/v1/classify",
            &t.tokens.supervisor,
            json!({"text": "scooter crash near Canggu, guy bleeding"}),
        )
        .await;
    assert_eq!(c.status, 200, "{}", c.body);
    assert_eq!(c.body["category"], "traffic_accident");
    assert_eq!(c.body["location"]["district"], "kuta_utara");
    assert!(c.body["evidence"].as_array().is_some_and(|e| !e.is_empty()));
    let empty = t
        .post("/api/v1/classify", &t.tokens.supervisor, json!({"text": ""}))
        .await;
    assert_eq!((empty.status, empty.error_field()), (400, Some("text")));
    assert_eq!(
        t.get("/api/v1/incidents", &t.tokens.call_taker)
            .await
            .body
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    t.stop().await;
}
