//! The live feed end to end with a real websocket client: sequence, resume, snapshot, roles, slow consumers, leaks.

use std::time::Duration;

use e2e_tests::feed::FeedClient;
use e2e_tests::{fresh_settings, spawn_app, spawn_with, Db, TestApp};
use serde_json::json;

/// Posts `n` fire reports far enough apart (440 m) that none is a duplicate of another.
async fn post_reports(t: &TestApp, n: usize) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    for _ in 0..n {
        let k = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let (lat, lon) = spot(k);
        t.report(&format!("Kebakaran rumah nomor {k}"), lat, lon).await;
    }
}

/// The k-th point of a 440 m grid over Badung.
fn spot(k: usize) -> (f64, f64) {
    (-8.30 - (k / 40) as f64 * 0.004, 115.05 + (k % 40) as f64 * 0.004)
}

#[tokio::test]
async fn a_new_incident_arrives_with_its_sequence_and_units_can_act_over_the_socket() {
    let t = spawn_app(Db::Sqlite).await;
    t.seed_units().await;
    let (mut c, welcome) = FeedClient::connect(&t.url, &t.tokens.call_taker, &["console"], None).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    assert_eq!(welcome["role"], "call_taker");
    let snapshot = c.next().await.expect("snapshot");
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["reason"], "no_last_seq");
    assert_eq!(snapshot["units"].as_array().map(Vec::len), Some(54));
    let snap_seq = snapshot["seq"].as_i64().expect("seq");

    let r = t
        .report("Pohon tumbang menimpa rumah karena angin kencang", -8.55, 115.2)
        .await;
    let e = c.next_event().await.expect("event");
    assert_eq!(e["event"]["type"], "incident_created");
    assert_eq!(e["event"]["incident"]["id"], r["id"]);
    assert_eq!(e["seq"].as_i64(), Some(snap_seq + 1));
    let e2 = c.next_event().await.expect("event");
    assert_eq!(e2["seq"].as_i64(), Some(snap_seq + 2));

    // A unit acknowledges and changes status over its own socket.
    let id = r["id"].as_str().expect("id");
    let rec = t
        .get(&format!("/api/v1/incidents/{id}/recommendation"), &t.tokens.dispatcher)
        .await;
    let unit = rec.body["best"][0].as_str().expect("unit").to_owned();
    let unit_token = t.unit_token(&unit).await;
    let (mut u, welcome) = FeedClient::connect(&t.url, &unit_token, &[&format!("unit:{unit}")], None).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    assert_eq!(u.next().await.expect("snapshot")["type"], "snapshot");
    assert_eq!(
        t.post(
            &format!("/api/v1/incidents/{id}/dispatch"),
            &t.tokens.dispatcher,
            json!({"units": [unit]})
        )
        .await
        .status,
        200
    );
    let assigned = u.next_event().await.expect("assignment");
    assert_eq!(assigned["event"]["type"], "unit_assigned");
    u.send(json!({"type": "unit_status", "status": "acknowledged", "ref": "a1"}))
        .await;
    let mut saw_ack = false;
    let mut saw_event = false;
    while !(saw_ack && saw_event) {
        let m = u.next().await.expect("answer");
        saw_ack |= m["type"] == "ack" && m["ref"] == "a1";
        saw_event |= m["type"] == "event" && m["event"]["type"] == "assignment_acknowledged";
        assert_ne!(m["type"], "error", "{m}");
    }
    u.send(json!({"type": "unit_status", "unit_id": "SOMEONE-ELSE", "status": "en_route", "ref": "a2"}))
        .await;
    let refused = loop {
        let m = u.next().await.expect("answer");
        if m["type"] == "error" {
            break m;
        }
    };
    assert_eq!(refused["code"], "forbidden");
    assert_eq!(refused["ref"], "a2");
    c.close().await;
    u.close().await;
    t.stop().await;
}

#[tokio::test]
async fn reconnecting_with_the_last_sequence_replays_exactly_what_was_missed() {
    let t = spawn_app(Db::Sqlite).await;
    let (mut c, _) = FeedClient::connect(&t.url, &t.tokens.dispatcher, &["console"], None).await;
    c.next().await.expect("snapshot");
    post_reports(&t, 1).await;
    c.next_event().await.expect("incident_created");
    let last = c.next_event().await.expect("report_received")["seq"]
        .as_i64()
        .expect("seq");
    c.close().await;

    // 25 reports = 50 events while away.
    post_reports(&t, 25).await;
    let (mut c, welcome) = FeedClient::connect(&t.url, &t.tokens.dispatcher, &["console"], Some(last)).await;
    assert_eq!(welcome["head_seq"].as_i64(), Some(last + 50));
    let mut seqs = Vec::new();
    for _ in 0..50 {
        let e = c.next().await.expect("replayed event");
        assert_eq!(e["type"], "event", "a replay, not a snapshot: {e}");
        seqs.push(e["seq"].as_i64().expect("seq"));
    }
    assert_eq!(seqs, ((last + 1)..=(last + 50)).collect::<Vec<_>>());
    // Nothing extra: the next message is the next new event.
    post_reports(&t, 1).await;
    assert_eq!(c.next_event().await.expect("live")["seq"].as_i64(), Some(last + 51));
    c.close().await;
    t.stop().await;
}

#[tokio::test]
async fn a_sequence_older_than_the_history_gets_a_snapshot() {
    let (mut settings, dir) = fresh_settings(Db::Sqlite).await;
    settings.feed_history = 10;
    let t = spawn_with(settings, dir).await;
    post_reports(&t, 15).await;
    let (mut c, welcome) = FeedClient::connect(&t.url, &t.tokens.supervisor, &["console", "map"], Some(2)).await;
    let head = welcome["head_seq"].as_i64().expect("head");
    assert_eq!(head, 30);
    let snap = c.next().await.expect("snapshot");
    assert_eq!(snap["type"], "snapshot");
    assert_eq!(snap["reason"], "history_gap");
    assert_eq!(snap["seq"].as_i64(), Some(head));
    assert_eq!(snap["incidents"].as_array().map(Vec::len), Some(15));
    post_reports(&t, 1).await;
    assert_eq!(c.next_event().await.expect("live")["seq"].as_i64(), Some(head + 1));
    c.close().await;
    t.stop().await;
}

#[tokio::test]
async fn roles_decide_the_topics() {
    let t = spawn_app(Db::Sqlite).await;
    t.seed_units().await;
    let unit = t.unit_token("DMK-KTA-1").await;
    for (topics, expected) in [
        (vec!["console"], "topic_forbidden"),
        (vec!["unit:DMK-KTA-2"], "topic_forbidden"),
        (vec!["incident:01a23ce6-d3ed-763c-999d-34ca50119794"], "topic_forbidden"),
    ] {
        let (mut c, first) = FeedClient::connect(&t.url, &unit, &topics, None).await;
        assert_eq!(first["type"], "error", "{topics:?}: {first}");
        assert_eq!(first["code"], expected);
        assert!(c.next().await.is_none(), "closed after refusal");
    }
    let (_, ok) = FeedClient::connect(&t.url, &unit, &["unit:DMK-KTA-1", "map"], None).await;
    assert_eq!(ok["type"], "welcome");
    let (_, bad) = FeedClient::connect(&t.url, "bdg_wrong", &["map"], None).await;
    assert_eq!(bad["code"], "unauthorized");
    let (_, integrator) = FeedClient::connect(&t.url, &t.tokens.integrator, &["map"], None).await;
    assert_eq!(integrator["code"], "topic_forbidden");
    t.stop().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_and_the_others_keep_up() {
    let (mut settings, dir) = fresh_settings(Db::Sqlite).await;
    settings.feed_channel = 1024;
    let t = spawn_with(settings, dir).await;
    let (mut fast, _) = FeedClient::connect(&t.url, &t.tokens.dispatcher, &["console"], None).await;
    fast.next().await.expect("snapshot");
    let (slow, _) = FeedClient::connect(&t.url, &t.tokens.dispatcher, &["console"], None).await;
    // The slow client never reads again. Large reports fill its socket buffers quickly.
    let text = format!("Kebakaran gudang besar, {}", "asap tebal menutupi jalan ".repeat(140));
    let reader = tokio::spawn(async move {
        let mut n = 0;
        while let Some(e) = fast.next_event().await {
            n += 1;
            if n == 2 * 1500 {
                break;
            }
            let _ = e;
        }
        n
    });
    let mut tasks = Vec::new();
    for chunk in 0..10usize {
        let http = t.http.clone();
        let url = format!("{}/api/v1/reports", t.url);
        let token = t.tokens.integrator.clone();
        let text = text.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..150 {
                let (lat, lon) = spot(10_000 + chunk * 150 + i);
                let body = json!({"channel": "app", "text": text, "location": {"lat": lat, "lon": lon, "accuracy_m": 10, "source": "gnss"}});
                let r = http.post(&url).bearer_auth(&token).json(&body).send().await.expect("post");
                assert_eq!(r.status().as_u16(), 201);
            }
        }));
    }
    for task in tasks {
        task.await.expect("poster");
    }
    let received = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("the fast client keeps up")
        .expect("reader");
    assert_eq!(received, 3000, "the fast client got every event");
    // The slow one was told it lags (or timed out on send) and dropped.
    let dropped = tokio::time::timeout(Duration::from_secs(30), t.app.state.connections.all_closed()).await;
    assert!(dropped.is_ok(), "the slow client was not disconnected");
    drop(slow);
    t.stop().await;
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_connect_disconnect_cycles_leave_nothing_behind() {
    let t = spawn_app(Db::Sqlite).await;
    // Warm up pools so they do not count as leaks.
    let (c, _) = FeedClient::connect(&t.url, &t.tokens.supervisor, &["map"], None).await;
    c.close().await;
    let fds_before = open_fds();
    let tasks_before = tokio::runtime::Handle::current().metrics().num_alive_tasks();
    let feed_tasks_before = t.app.feed_tasks();
    for i in 0..1000 {
        let (mut c, welcome) = FeedClient::connect(&t.url, &t.tokens.supervisor, &["map"], None).await;
        assert_eq!(welcome["type"], "welcome");
        if i % 2 == 0 {
            c.next().await.expect("snapshot");
            c.close().await;
        } else {
            drop(c); // vanish without a close frame
        }
    }
    let closed = tokio::time::timeout(Duration::from_secs(30), t.app.state.connections.all_closed()).await;
    assert!(
        closed.is_ok(),
        "{} connections still open",
        t.app.state.connections.open()
    );
    let settle = tokio::time::Instant::now() + Duration::from_secs(10);
    while (open_fds() > fds_before + 4
        || tokio::runtime::Handle::current().metrics().num_alive_tasks() > tasks_before + 4
        || t.app.feed_tasks() > feed_tasks_before)
        && tokio::time::Instant::now() < settle
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        open_fds() <= fds_before + 4,
        "file descriptors: {} before, {} after",
        fds_before,
        open_fds()
    );
    let tasks_after = tokio::runtime::Handle::current().metrics().num_alive_tasks();
    assert!(
        tasks_after <= tasks_before + 4,
        "tasks: {tasks_before} before, {tasks_after} after"
    );
    // Connection tasks run on the feed's own runtime: none may be left there either.
    assert!(
        t.app.feed_tasks() <= feed_tasks_before,
        "connection tasks on the feed runtime: {feed_tasks_before} before, {} after",
        t.app.feed_tasks()
    );
    t.stop().await;
}

/// The upgrade is checked like any request (a JSON 400 naming the header),
/// websocket-level pings are answered, and messages of every size (a
/// snapshot past 64 KiB takes the 64-bit length) reach a standard client
/// intact, in order with the connection's own messages.
#[tokio::test]
async fn the_socket_speaks_plain_rfc6455_to_a_standard_client() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let t = spawn_app(Db::Sqlite).await;
    let plain = t.get("/ws", &t.tokens.call_taker).await;
    assert_eq!(plain.status, 400, "{}", plain.body);
    assert_eq!(plain.body["error"]["field"], "connection", "{}", plain.body);

    post_reports(&t, 200).await;
    let (mut c, welcome) = FeedClient::connect(&t.url, &t.tokens.call_taker, &["console"], None).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let snapshot = c.next().await.expect("snapshot");
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["incidents"].as_array().map(Vec::len), Some(200));
    let size = snapshot.to_string().len();
    assert!(size > 65_536, "the snapshot ({size} bytes) must take the 64-bit length");

    c.socket
        .send(Message::Ping(b"are you there".to_vec().into()))
        .await
        .expect("ping");
    loop {
        match tokio::time::timeout(Duration::from_secs(10), c.socket.next()).await {
            Ok(Some(Ok(Message::Pong(p)))) => {
                assert_eq!(&p[..], b"are you there");
                break;
            }
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a pong, got {other:?}"),
        }
    }
    post_reports(&t, 1).await;
    let e = c.next_event().await.expect("an event after the pong");
    assert_eq!(e["event"]["type"], "incident_created", "{e}");
    assert_eq!(e["seq"].as_i64(), snapshot["seq"].as_i64().map(|s| s + 1));
}
