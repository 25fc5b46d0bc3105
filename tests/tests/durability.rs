//! Durability of the real binary: what was answered 201 survives SIGKILL; SIGTERM drains and exits 0.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

fn binary() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    let bin = target.join("debug/dispatcher");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p dispatcher` first (tests/run-all.sh does)",
        bin.display()
    );
    bin
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn token(dir: &std::path::Path, role: &str) -> String {
    let out = Command::new(binary())
        .args(["token", "create", "--role", role, "--data-dir"])
        .arg(dir)
        .output()
        .expect("token create runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf8").trim().to_owned()
}

struct Server {
    child: Child,
    url: String,
}

async fn serve(dir: &std::path::Path) -> Server {
    let port = free_port();
    let mut child = Command::new(binary())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client
            .get(format!("{url}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Server { child, url };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server did not become healthy");
}

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

async fn post_many(url: &str, token: &str, n: usize) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for i in 0..n {
        let client = client.clone();
        let url = format!("{url}/api/v1/reports");
        let token = token.to_owned();
        tasks.push(tokio::spawn(async move {
            let lat = -8.30 - (i / 20) as f64 * 0.004;
            let lon = 115.05 + (i % 20) as f64 * 0.004;
            let body = json!({"channel": "app", "text": format!("Kebakaran rumah nomor {i}"), "location": {"lat": lat, "lon": lon, "source": "gnss", "accuracy_m": 10}});
            let resp = client.post(url).bearer_auth(token).json(&body).send().await.ok()?;
            (resp.status().as_u16() == 201).then_some(())?;
            resp.json::<Value>().await.ok()?["id"].as_str().map(str::to_owned)
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        if let Ok(Some(id)) = t.await {
            ids.push(id);
        }
    }
    ids
}

/// Starts the server again on the same data and checks every acknowledged report is there.
async fn restart_and_find_all(dir: &std::path::Path, reader: &str, acknowledged: &[String]) {
    let mut again = serve(dir).await;
    let client = reqwest::Client::new();
    for id in acknowledged {
        let url = format!("{}/api/v1/incidents/{id}", again.url);
        let r = client.get(url).bearer_auth(reader).send().await.expect("get");
        assert_eq!(
            r.status().as_u16(),
            200,
            "report {id} was acknowledged and must survive"
        );
    }
    signal(&again.child, "-KILL");
    let _ = again.child.wait();
}

#[tokio::test]
async fn every_report_answered_201_survives_sigkill() {
    let dir = tempfile::tempdir().expect("dir");
    let integrator = token(dir.path(), "integrator");
    let reader = token(dir.path(), "supervisor");
    let mut server = serve(dir.path()).await;
    let acknowledged = post_many(&server.url, &integrator, 40).await;
    assert_eq!(acknowledged.len(), 40);
    // Killed right after the last answer: no chance to flush anything more.
    signal(&server.child, "-KILL");
    let _ = server.child.wait();

    restart_and_find_all(dir.path(), &reader, &acknowledged).await;
}

#[tokio::test]
async fn sigterm_finishes_in_flight_requests_and_exits_cleanly() {
    let dir = tempfile::tempdir().expect("dir");
    let integrator = token(dir.path(), "integrator");
    let reader = token(dir.path(), "supervisor");
    let mut server = serve(dir.path()).await;
    let url = server.url.clone();
    let load = tokio::spawn({
        let integrator = integrator.clone();
        async move { post_many(&url, &integrator, 200).await }
    });
    // Terminate once the server has committed some of the load, with the rest in flight.
    let client = reqwest::Client::new();
    loop {
        let health: Value = client
            .get(format!("{}/healthz", server.url))
            .send()
            .await
            .expect("health")
            .json()
            .await
            .expect("json");
        if health["seq"].as_i64().unwrap_or(0) >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    signal(&server.child, "-TERM");
    let status = tokio::task::spawn_blocking(move || server.child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(status.success(), "exit status {status:?}");
    let acknowledged = load.await.expect("load");

    restart_and_find_all(dir.path(), &reader, &acknowledged).await;
}
