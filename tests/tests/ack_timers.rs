//! Acknowledgement deadlines through the whole server: flagged by the system,
//! the next-best unit recommended, and re-armed from the store after a restart.
//!
//! The timer logic itself is tested under tokio's paused clock in
//! `dispatcher::dispatch::ack`; here a 1 s deadline (from a response-plans
//! file) runs on real time, and the test waits for conditions, not for fixed times.

use std::time::Duration;

use e2e_tests::{fresh_settings, spawn_with, Db, TestApp};
use serde_json::{json, Value};

/// The shipped plans with a 1 s acknowledgement deadline.
fn short_deadline_plans(dir: &std::path::Path) -> std::path::PathBuf {
    let text = dispatcher::dispatch::plans::EMBEDDED.replace("ack_timeout_s = 30", "ack_timeout_s = 1");
    let path = dir.join("plans.toml");
    std::fs::write(&path, text).expect("write plans");
    path
}

async fn start() -> TestApp {
    let (mut settings, dir) = fresh_settings(Db::Sqlite).await;
    settings.response_plans = Some(short_deadline_plans(dir.path()));
    let t = spawn_with(settings, dir).await;
    t.seed_units().await;
    t
}

async fn overdue(t: &TestApp, incident: &str) -> Vec<Value> {
    let d = t
        .get(&format!("/api/v1/incidents/{incident}"), &t.tokens.dispatcher)
        .await;
    d.body["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["event"]["type"] == "assignment_ack_overdue")
        .cloned()
        .collect()
}

/// Polls until the incident has an overdue flag, for at most `limit`.
async fn wait_for_overdue(t: &TestApp, incident: &str, limit: Duration) -> Vec<Value> {
    let until = tokio::time::Instant::now() + limit;
    loop {
        let flagged = overdue(t, incident).await;
        if !flagged.is_empty() || tokio::time::Instant::now() > until {
            return flagged;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn dispatch_nearest(t: &TestApp, text: &str, lat: f64, lon: f64) -> (String, String, Value) {
    let id = t.report(text, lat, lon).await["id"].as_str().expect("id").to_owned();
    let rec = t
        .get(&format!("/api/v1/incidents/{id}/recommendation"), &t.tokens.dispatcher)
        .await
        .body;
    let unit = rec["best"][0].as_str().expect("a unit").to_owned();
    let sent = t
        .post(
            &format!("/api/v1/incidents/{id}/dispatch"),
            &t.tokens.dispatcher,
            json!({"units": [unit]}),
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    (id, unit, rec)
}

#[tokio::test]
async fn missed_acknowledgement_is_flagged_and_the_next_best_unit_recommended() {
    let t = start().await;
    let (id, unit, rec) = dispatch_nearest(&t, "Ada orang sesak napas berat di rumah", -8.7250, 115.1760).await;
    let second = rec["types"][0]["candidates"][1]["unit_id"]
        .as_str()
        .expect("second nearest")
        .to_owned();
    let flagged = wait_for_overdue(&t, &id, Duration::from_secs(15)).await;
    assert_eq!(flagged.len(), 1, "flagged once");
    assert_eq!(flagged[0]["event"]["unit_id"], unit);
    assert_eq!(flagged[0]["actor"]["role"], "system");
    assert_eq!(flagged[0]["event"]["next_best"], second);
    let again = t
        .get(&format!("/api/v1/incidents/{id}/recommendation"), &t.tokens.dispatcher)
        .await;
    assert_eq!(
        again.body["best"],
        json!([second]),
        "a replacement of the same type is proposed"
    );
    t.stop().await;
}

#[tokio::test]
async fn deadlines_survive_a_restart() {
    let t = start().await;
    let (id, _, _) = dispatch_nearest(&t, "Kabel listrik putus menjuntai ke jalan", -8.7100, 115.1800).await;
    // Stop at once, before the deadline; the next server must still flag it.
    let settings = t.settings.clone();
    let TestApp { app, _dir: dir, .. } = t;
    app.shutdown().await.expect("shutdown");
    let restarted = spawn_with(settings, dir).await;
    let flagged = wait_for_overdue(&restarted, &id, Duration::from_secs(15)).await;
    assert_eq!(
        flagged.len(),
        1,
        "the restarted server re-armed the timer from the store"
    );
    restarted.stop().await;
}
