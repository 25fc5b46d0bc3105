//! Recommendation, dispatch, the unit status flow and the no-double-assignment guarantee.

use std::collections::{HashMap, HashSet};

use e2e_tests::{both_backends, fresh_settings, spawn_app, spawn_with, Db, TestApp};
use serde_json::{json, Value};

async fn units(t: &TestApp) -> Vec<Value> {
    t.get("/api/v1/units", &t.tokens.dispatcher)
        .await
        .body
        .as_array()
        .cloned()
        .expect("units")
}

async fn recommends_nearest_units_and_refuses_a_unit_held_elsewhere(db: Db) {
    let t = spawn_app(db).await;
    assert_eq!(t.seed_units().await, 54);
    // A house fire with people inside in Kuta: plan fire p1 = 2 fire + 1 ambulance.
    let fire = t
        .report("Kebakaran rumah, ada anak terjebak di dalam", -8.7205, 115.1760)
        .await;
    let id = fire["id"].as_str().expect("id");
    let rec = t
        .get(&format!("/api/v1/incidents/{id}/recommendation"), &t.tokens.dispatcher)
        .await;
    assert_eq!(rec.status, 200, "{}", rec.body);
    let best: Vec<&str> = rec.body["best"]
        .as_array()
        .expect("best")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(best.len(), 3, "{best:?}");
    assert_eq!(
        best.iter().filter(|u| u.starts_with("DMK-KTA")).count(),
        2,
        "the Kuta fire post is nearest: {best:?}"
    );
    assert_eq!(best.iter().filter(|u| u.starts_with("AMB-KTA")).count(), 1, "{best:?}");
    for t in rec.body["types"].as_array().expect("types") {
        let d: Vec<f64> = t["candidates"]
            .as_array()
            .expect("candidates")
            .iter()
            .filter_map(|c| c["distance_m"].as_f64())
            .collect();
        assert!(d.windows(2).all(|w| w[0] <= w[1]), "nearest first: {d:?}");
        assert!(t["candidates"][0]["eta_s"].as_f64().is_some_and(|e| e > 0.0));
    }
    let sent = t
        .post(
            &format!("/api/v1/incidents/{id}/dispatch"),
            &t.tokens.dispatcher,
            json!({"units": best}),
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert_eq!(sent.body["incident"]["status"], "dispatched");

    // The same unit for another incident: 409 naming the incident that holds it.
    let other = t.report("Kebakaran gudang kosong", -8.7300, 115.1800).await;
    let other_id = other["id"].as_str().expect("id");
    let clash = t
        .post(
            &format!("/api/v1/incidents/{other_id}/dispatch"),
            &t.tokens.dispatcher,
            json!({"units": [best[0]]}),
        )
        .await;
    assert_eq!(clash.status, 409, "{}", clash.body);
    assert_eq!(clash.error_code(), Some("unit_unavailable"));
    assert_eq!(clash.body["error"]["incident_id"], id);
    // And the next recommendation skips the busy units.
    let rec2 = t
        .get(
            &format!("/api/v1/incidents/{other_id}/recommendation"),
            &t.tokens.dispatcher,
        )
        .await;
    let best2: Vec<&str> = rec2.body["best"]
        .as_array()
        .expect("best")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(best2.iter().all(|u| !best.contains(u)), "{best2:?} vs {best:?}");
    t.stop().await;
}
both_backends!(
    recommendation_on,
    recommends_nearest_units_and_refuses_a_unit_held_elsewhere
);

async fn incident_follows_its_units_and_units_stay_on_their_own_incident(db: Db) {
    let t = spawn_app(db).await;
    t.seed_units().await;
    let a = t
        .report("Tabrakan motor, korban berdarah tidak sadar", -8.6400, 115.1350)
        .await;
    let b = t
        .report("Ada maling di toko, pelaku bawa pisau", -8.6600, 115.1700)
        .await;
    let (a_id, b_id) = (a["id"].as_str().expect("a"), b["id"].as_str().expect("b"));
    // Priority 1 traffic accidents are auto-dispatched by the plan; the crime is not.
    let detail = t.get(&format!("/api/v1/incidents/{a_id}"), &t.tokens.dispatcher).await;
    assert_eq!(
        detail.body["incident"]["status"], "dispatched",
        "{}",
        detail.body["incident"]
    );
    let auto = detail.body["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .find(|e| e["event"]["type"] == "unit_assigned")
        .cloned()
        .expect("assigned");
    assert_eq!(auto["actor"]["role"], "system");
    assert_eq!(auto["event"]["automatic"], true);

    let rec = t
        .get(
            &format!("/api/v1/incidents/{b_id}/recommendation"),
            &t.tokens.dispatcher,
        )
        .await;
    let police = rec.body["best"][0].as_str().expect("a police unit").to_owned();
    let sent = t
        .post(
            &format!("/api/v1/incidents/{b_id}/dispatch"),
            &t.tokens.dispatcher,
            json!({"units": [police]}),
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    let unit = t.unit_token(&police).await;
    let status_path = format!("/api/v1/units/{police}/status");
    let status = |s: &'static str| json!({"status": s});
    let ack = t.post(&status_path, &unit, status("acknowledged")).await;
    assert_eq!(ack.status, 200, "{}", ack.body);
    assert_eq!(t.post(&status_path, &unit, status("en_route")).await.status, 200);
    let inc = t.get(&format!("/api/v1/incidents/{b_id}"), &t.tokens.dispatcher).await;
    assert_eq!(inc.body["incident"]["status"], "en_route");
    assert_eq!(t.post(&status_path, &unit, status("on_scene")).await.status, 200);
    assert_eq!(
        t.get(&format!("/api/v1/incidents/{b_id}"), &t.tokens.dispatcher)
            .await
            .body["incident"]["status"],
        "on_scene"
    );
    // Illegal unit steps are 409s with the allowed ones.
    let bad = t.post(&status_path, &unit, status("en_route")).await;
    assert_eq!(bad.status, 409);
    assert!(bad.body["error"]["allowed"]
        .as_array()
        .is_some_and(|a| a.contains(&json!("returning"))));
    // Returning releases the unit from b only; a's status is untouched.
    let before_a = t
        .get(&format!("/api/v1/incidents/{a_id}"), &t.tokens.dispatcher)
        .await
        .body["incident"]
        .clone();
    assert_eq!(t.post(&status_path, &unit, status("returning")).await.status, 200);
    let after_b = t
        .get(&format!("/api/v1/incidents/{b_id}"), &t.tokens.dispatcher)
        .await
        .body["incident"]
        .clone();
    assert_eq!(after_b["status"], "on_scene");
    assert_eq!(after_b["units"], json!([]));
    let after_a = t
        .get(&format!("/api/v1/incidents/{a_id}"), &t.tokens.dispatcher)
        .await
        .body["incident"]
        .clone();
    assert_eq!(before_a["status"], after_a["status"]);
    assert_eq!(before_a["units"], after_a["units"]);
    // Returning units can take a new job (the plan allows it).
    let c = t
        .report("Perkelahian di banjar, satu orang luka", -8.6610, 115.1710)
        .await;
    let c_id = c["id"].as_str().expect("c");
    let again = t
        .post(
            &format!("/api/v1/incidents/{c_id}/dispatch"),
            &t.tokens.dispatcher,
            json!({"units": [police]}),
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    t.stop().await;
}
both_backends!(
    unit_flow_on,
    incident_follows_its_units_and_units_stay_on_their_own_incident
);

/// Fires many dispatches at once (at two dispatcher nodes on PostgreSQL) and
/// checks that no unit ever ends up on two incidents.
async fn concurrent_dispatches_never_double_assign(db: Db) {
    let t = spawn_app(db).await;
    t.seed_units().await;
    let second = if db == Db::Postgres {
        // A second dispatcher process on the same database.
        let (mut settings, dir) = fresh_settings(Db::Sqlite).await;
        settings.database_url = t.settings.database_url.clone();
        Some(spawn_with(settings, dir).await)
    } else {
        None
    };
    let mut incidents = Vec::new();
    for i in 0..12 {
        let lat = -8.60 - f64::from(i) * 0.01;
        incidents.push(
            t.report(
                "Kebakaran rumah kosong, asap tebal",
                lat,
                115.17 + f64::from(i % 3) * 0.01,
            )
            .await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let pool = [
        "DMK-KTA-1",
        "DMK-KTA-2",
        "DMK-KTA-3",
        "DMK-MGW-1",
        "DMK-MGW-2",
        "DMK-KTU-1",
    ];
    let mut tasks = Vec::new();
    for n in 0..120usize {
        let incident = incidents[n % incidents.len()].clone();
        let units = vec![pool[n % pool.len()], pool[(n * 7 + 3) % pool.len()]];
        let (http, url, token) = match (&second, n % 2) {
            (Some(s), 1) => (s.http.clone(), s.url.clone(), s.tokens.dispatcher.clone()),
            _ => (t.http.clone(), t.url.clone(), t.tokens.dispatcher.clone()),
        };
        tasks.push(tokio::spawn(async move {
            let resp = http
                .post(format!("{url}/api/v1/incidents/{incident}/dispatch"))
                .bearer_auth(token)
                .json(&json!({"units": units}))
                .send()
                .await
                .expect("send");
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.expect("json"))
        }));
    }
    let mut ok = 0;
    for task in tasks {
        let (status, body) = task.await.expect("task");
        assert!(status == 200 || status == 409, "{status} {body}");
        ok += usize::from(status == 200);
    }
    assert!(ok > 0);
    // Every pooled unit is on at most one incident, and the incidents agree.
    let mut holder: HashMap<String, String> = HashMap::new();
    for incident in &incidents {
        let i = t
            .get(&format!("/api/v1/incidents/{incident}"), &t.tokens.dispatcher)
            .await
            .body["incident"]
            .clone();
        for u in i["units"].as_array().expect("units") {
            let u = u.as_str().expect("unit").to_owned();
            assert!(
                holder.insert(u.clone(), incident.clone()).is_none(),
                "unit {u} is on two incidents"
            );
        }
    }
    let assigned: HashSet<&str> = pool.iter().copied().filter(|u| holder.contains_key(*u)).collect();
    for u in units(&t).await {
        let id = u["id"].as_str().expect("id");
        if pool.contains(&id) {
            assert_eq!(
                u["incident_id"].as_str(),
                holder.get(id).map(String::as_str),
                "unit row and incident agree for {id}"
            );
            assert_eq!(u["status"] == "dispatched", assigned.contains(id));
        }
    }
    if let Some(s) = second {
        s.stop().await;
    }
    t.stop().await;
}
both_backends!(concurrency_on, concurrent_dispatches_never_double_assign);

#[tokio::test]
async fn avl_jitter_is_filtered_and_history_kept() {
    let t = spawn_app(Db::Sqlite).await;
    t.seed_units().await;
    let tok = t.unit_token("AMB-KTA-1").await;
    let now = chrono::Utc::now();
    let pos = |lat: f64, secs: i64| json!({"lat": lat, "lon": 115.176, "accuracy_m": 8, "at": now + chrono::Duration::seconds(secs)});
    let first = t.post("/api/v1/units/AMB-KTA-1/position", &tok, pos(-8.7300, 1)).await;
    assert_eq!(first.status, 200, "{}", first.body);
    // 5 m away two seconds later: jitter, the stored position does not move.
    let jitter = t.post("/api/v1/units/AMB-KTA-1/position", &tok, pos(-8.73004, 3)).await;
    assert_eq!(jitter.body["position"]["lat"], -8.73);
    // 300 m away: a real move.
    let moved = t.post("/api/v1/units/AMB-KTA-1/position", &tok, pos(-8.7327, 5)).await;
    assert_eq!(moved.body["position"]["lat"], -8.7327);
    let bad = t
        .post(
            "/api/v1/units/AMB-KTA-1/position",
            &tok,
            json!({"lat": -8.7, "lon": 115.1, "heading_deg": 400, "at": now}),
        )
        .await;
    assert_eq!((bad.status, bad.error_field()), (400, Some("heading_deg")));
    t.stop().await;
}
