//! Durable ingest: `POST /api/v1/reports` on a real in-process `App` (embedded SQLite:
//! WAL + synchronous=FULL, group commit) against two baselines measured in the same run
//! with the same HTTP client:
//!
//! * **hello-world**: a bare axum `POST` route that reads the body and answers a small JSON
//!   (the ceiling of HTTP + client on this machine);
//! * **naive writer**: an axum `POST` route that parses the report and does one SQLite
//!   transaction (`BEGIN; INSERT; COMMIT`, WAL + synchronous=FULL, so one fsync) per request
//!   through one connection behind a mutex: the same durability without batching.
//!
//! Beside them, two floors (`support/floors.rs`): batched writers with our durability and
//! none of our logic, one storing a row in one table, one running our schema's statements.
//! They show what bounds the ratios: what group commit alone reaches on this machine, and
//! what the data model's own writes cost.
//!
//! Then an open-loop run at a fixed rate (default 1,000 reports/s) measures latency from each
//! request's *scheduled* send time, so a stalled server cannot hide its stall (no coordinated
//! omission); the same open loop then runs against both baselines, so that the machine's own
//! tail (hello-world's p99) is measured beside ours.
//!
//! The servers run on their own multi-threaded tokio runtime (`server-*` threads); the load
//! client runs on a second runtime (`client-*` threads) in the same process. Both share the
//! machine's cores, so the client's own cost is inside every figure, equally for all targets.
//!
//! `cargo bench -p dispatcher --bench ingest`. Knobs (environment): `BENCH_CONNECTIONS` (64),
//! `BENCH_WARMUP_S` (2), `BENCH_SECONDS` (10), `BENCH_OPEN_RATE` (1000), `BENCH_OPEN_SECONDS`
//! (10), `BENCH_SERVER_THREADS` / `BENCH_CLIENT_THREADS` (2 / 2), `BENCH_TMPDIR` (where the
//! SQLite files go; must be a real disk for fsync to mean anything), `BENCH_BASELINES=0` (ours
//! only, no ratios: for profiling), `RUST_LOG` (the servers' log, e.g. `warn`; none by default).

#[path = "support/floors.rs"]
mod floors;
#[path = "support/http.rs"]
mod http;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use dispatcher::app::{App, Settings};
use http::{connect, post_json, Sender};
use incident_types::wire::NewReport;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::sync::Mutex;

const TEXTS: &[&str] = &[
    "Tolong ada kebakaran rumah di Legian, ada orang di dalam",
    "Kecelakaan motor di Jalan Sunset Road, korban luka parah berdarah",
    "Ada orang pingsan tidak sadar di pantai Kuta, tolong ambulans",
    "Banjir setinggi lutut masuk rumah warga di Kerobokan",
    "Pohon tumbang menutup jalan di Mengwi, kabel listrik putus",
    "Ada pencurian di toko, pelaku kabur naik motor ke arah Jimbaran",
    "Wisatawan terseret arus di pantai Canggu, tolong cepat",
    "Asap tebal dan api dari gudang di Dalung",
];

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A report somewhere in Badung, so most reports open their own incident.
fn report_body(rng: &mut StdRng, n: u64) -> Bytes {
    let text = TEXTS[rng.gen_range(0..TEXTS.len())];
    let body = serde_json::json!({
        "channel": "app",
        "text": format!("{text} (laporan {n})"),
        "location": {
            "lat": rng.gen_range(-8.85..-8.35),
            "lon": rng.gen_range(115.10..115.25),
            "accuracy_m": 10,
            "source": "gnss",
        },
    });
    Bytes::from(serde_json::to_vec(&body).expect("json"))
}

/// One line of the closed-loop table.
struct Row {
    name: &'static str,
    rate: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
    duplicates: u64,
    answered: usize,
    first_error: Option<String>,
    cpu_us: f64,
    writer_us: f64,
    writer_kib: f64,
}

#[derive(Clone)]
struct Target {
    name: &'static str,
    addr: SocketAddr,
    path: String,
    auth: Option<String>,
}

#[derive(Default)]
struct Stats {
    latencies: Vec<Duration>,
    errors: u64,
    duplicates: u64,
    first_error: Option<String>,
    window: Duration,
    /// CPU time of the whole process (servers + client) during the measured window.
    cpu: Duration,
    /// CPU time and bytes written of the SQLite writer thread during the measured window.
    writer: WriterUsage,
}

impl Stats {
    fn merge(&mut self, other: Stats) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        self.duplicates += other.duplicates;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.window.as_secs_f64()
    }
    fn pct(&mut self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        self.latencies.sort_unstable();
        let i = ((self.latencies.len() as f64 - 1.0) * q).round() as usize;
        self.latencies[i]
    }
}

/// CPU time (user + system) this process has used so far, from `/proc/self/stat`.
///
/// Throughput on a shared machine moves with whatever else runs; the CPU spent
/// per request does much less, so the report shows both.
fn process_cpu() -> Duration {
    stat_cpu(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default())
}

/// What the dispatcher's SQLite writer thread has used so far (zero while there is none).
#[derive(Debug, Default, Clone, Copy)]
struct WriterUsage {
    /// utime + stime: the single writer is what limits ingest, so its time per
    /// report is the figure to watch.
    cpu: Duration,
    /// Bytes it handed to `write`/`pwrite` (`wchar` in `/proc/.../io`): almost
    /// all WAL frames, so this counts the pages a commit dirties. Unlike time,
    /// it does not move with the machine's load.
    written: u64,
}

impl WriterUsage {
    fn now() -> WriterUsage {
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return WriterUsage::default();
        };
        tasks
            .flatten()
            .filter(|t| {
                std::fs::read_to_string(t.path().join("comm"))
                    .is_ok_and(|c| c.trim() == dispatcher::core::WRITER_THREAD)
            })
            .map(|t| WriterUsage {
                cpu: stat_cpu(&std::fs::read_to_string(t.path().join("stat")).unwrap_or_default()),
                written: io_field(
                    &std::fs::read_to_string(t.path().join("io")).unwrap_or_default(),
                    "wchar",
                ),
            })
            .fold(WriterUsage::default(), |a, b| WriterUsage {
                cpu: a.cpu + b.cpu,
                written: a.written + b.written,
            })
    }

    fn since(self, before: WriterUsage) -> WriterUsage {
        WriterUsage {
            cpu: self.cpu.saturating_sub(before.cpu),
            written: self.written.saturating_sub(before.written),
        }
    }
}

/// One `name: value` line of a `/proc/.../io` file.
fn io_field(io: &str, name: &str) -> u64 {
    io.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim() == name)
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

/// utime + stime of a `/proc/.../stat` line.
fn stat_cpu(stat: &str) -> Duration {
    // Fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    // utime and stime are fields 14 and 15 of the line, 11 and 12 after the name.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    // Linux reports them in USER_HZ, which is 100 on every architecture it runs on here.
    Duration::from_millis(ticks * 10)
}

/// Sends one request; returns (status ok, response body).
async fn send(sender: &mut Sender, t: &Target, body: Bytes) -> (bool, Bytes) {
    post_json(sender, &t.path, t.auth.as_deref(), body).await
}

fn note(stats: &mut Stats, ok: bool, body: &Bytes) {
    if !ok {
        stats.errors += 1;
        if stats.first_error.is_none() {
            stats.first_error = Some(String::from_utf8_lossy(body).chars().take(300).collect());
        }
    } else if body.windows(16).any(|w| w == b"\"duplicate\":true") {
        stats.duplicates += 1;
    }
}

/// Closed loop: `conns` keep-alive connections, each sending its next request as soon as
/// the previous one is answered. Counts requests sent after the warm-up and answered
/// before the end.
async fn closed_loop(t: Target, conns: usize, warmup: Duration, measure: Duration) -> Stats {
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let from = start + warmup;
    let end = from + measure;
    let cpu_window = tokio::spawn(async move {
        tokio::time::sleep_until(from.into()).await;
        let before = (process_cpu(), WriterUsage::now());
        tokio::time::sleep_until(end.into()).await;
        (
            process_cpu().saturating_sub(before.0),
            WriterUsage::now().since(before.1),
        )
    });
    let mut tasks = Vec::new();
    for c in 0..conns {
        let t = t.clone();
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(t.addr).await;
            let mut rng = StdRng::seed_from_u64(c as u64 * 7919 + 1);
            let mut stats = Stats::default();
            loop {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let body = report_body(&mut rng, n);
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let (ok, resp) = send(&mut sender, &t, body).await;
                let done = Instant::now();
                if sent >= from && done <= end {
                    if ok {
                        stats.latencies.push(done - sent);
                    }
                    note(&mut stats, ok, &resp);
                }
                if !ok && resp.as_ref() == b"connection closed" {
                    sender = connect(t.addr).await;
                }
            }
            stats
        }));
    }
    let mut all = Stats {
        window: measure,
        ..Default::default()
    };
    for task in tasks {
        all.merge(task.await.expect("client task"));
    }
    (all.cpu, all.writer) = cpu_window.await.expect("cpu window");
    all
}

/// Open loop: requests are scheduled at a fixed rate whatever the answers; latency runs
/// from the scheduled time (so queueing behind a slow answer counts).
async fn open_loop(t: Target, conns: usize, rate: u64, warmup: Duration, measure: Duration) -> (Stats, u64) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, u64)>();
    let rx = Arc::new(Mutex::new(rx));
    let period = Duration::from_secs_f64(1.0 / rate as f64);
    let t0 = Instant::now() + Duration::from_millis(100);
    let from = t0 + warmup;
    let mut tasks = Vec::new();
    for c in 0..conns {
        let t = t.clone();
        let rx = rx.clone();
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(t.addr).await;
            let mut rng = StdRng::seed_from_u64(c as u64 * 104_729 + 17);
            let mut stats = Stats::default();
            loop {
                let next = rx.lock().await.recv().await;
                let Some((scheduled, n)) = next else { break };
                let body = report_body(&mut rng, 1_000_000_000 + n);
                let (ok, resp) = send(&mut sender, &t, body).await;
                let done = Instant::now();
                if scheduled >= from {
                    if ok {
                        stats.latencies.push(done - scheduled);
                    }
                    note(&mut stats, ok, &resp);
                }
                if !ok && resp.as_ref() == b"connection closed" {
                    sender = connect(t.addr).await;
                }
            }
            stats
        }));
    }
    let total = rate * (warmup + measure).as_secs_f64() as u64;
    let mut late_sends = 0u64;
    for k in 0..total {
        let at = t0 + period * k as u32;
        tokio::time::sleep_until(at.into()).await;
        if Instant::now() > at + Duration::from_millis(2) {
            late_sends += 1;
        }
        tx.send((at, k)).expect("workers alive");
    }
    drop(tx);
    let mut all = Stats {
        window: measure,
        ..Default::default()
    };
    for task in tasks {
        all.merge(task.await.expect("client task"));
    }
    (all, late_sends)
}

// ---------------------------------------------------------------- baseline servers

async fn serve(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

async fn hello_server() -> SocketAddr {
    serve(Router::new().route(
        "/hello",
        post(|_body: Bytes| async { Json(serde_json::json!({"ok": true})) }),
    ))
    .await
}

struct Naive {
    conn: Mutex<SqliteConnection>,
}

/// A report as the baselines store it, with a new id.
struct Parsed {
    id: String,
    channel: &'static str,
    text: String,
    lat: Option<f64>,
    lon: Option<f64>,
}

/// The baselines' parsing of a report: serde only, no validation.
fn parse_report(body: &[u8]) -> Result<Parsed, (StatusCode, Json<serde_json::Value>)> {
    let report: NewReport = serde_json::from_slice(body).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": e.to_string()})),
        )
    })?;
    let (lat, lon) = report
        .location
        .as_ref()
        .map_or((None, None), |l| (Some(l.lat), Some(l.lon)));
    Ok(Parsed {
        id: uuid::Uuid::now_v7().to_string(),
        channel: report.channel.as_str(),
        text: report.text,
        lat,
        lon,
    })
}

async fn naive_report(State(s): State<Arc<Naive>>, body: Bytes) -> (StatusCode, Json<serde_json::Value>) {
    let report = match parse_report(&body) {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    let mut conn = s.conn.lock().await;
    let stored = async {
        let mut tx = conn.begin().await?;
        sqlx::query("INSERT INTO reports (id, channel, text, lat, lon, received_at) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(&report.id)
            .bind(report.channel)
            .bind(&report.text)
            .bind(report.lat)
            .bind(report.lon)
            .bind(chrono::Utc::now().to_rfc3339())
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }
    .await;
    drop(conn);
    match stored {
        Ok(()) => (StatusCode::CREATED, Json(serde_json::json!({"id": report.id}))),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({"error": e.to_string()})),
        ),
    }
}

async fn naive_server(dir: &Path) -> SocketAddr {
    let options = SqliteConnectOptions::new()
        .filename(dir.join("naive.sqlite"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let mut conn = SqliteConnection::connect_with(&options).await.expect("naive sqlite");
    sqlx::query(
        "CREATE TABLE reports (id TEXT PRIMARY KEY, channel TEXT NOT NULL, text TEXT NOT NULL, \
         lat REAL, lon REAL, received_at TEXT NOT NULL)",
    )
    .execute(&mut conn)
    .await
    .expect("naive schema");
    let mode: (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .expect("pragma");
    let sync: (i64,) = sqlx::query_as("PRAGMA synchronous")
        .fetch_one(&mut conn)
        .await
        .expect("pragma");
    assert_eq!(mode.0, "wal");
    assert_eq!(sync.0, 2, "synchronous=FULL");
    let state = Arc::new(Naive { conn: Mutex::new(conn) });
    serve(Router::new().route("/naive", post(naive_report)).with_state(state)).await
}

// ---------------------------------------------------------------- report

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT MET"
    }
}

fn main() {
    if let Ok(filter) = std::env::var("RUST_LOG") {
        let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
    }
    let conns: usize = env_or("BENCH_CONNECTIONS", 64);
    let warmup = Duration::from_secs_f64(env_or("BENCH_WARMUP_S", 2.0));
    let measure = Duration::from_secs_f64(env_or("BENCH_SECONDS", 10.0));
    let open_rate: u64 = env_or("BENCH_OPEN_RATE", 1000);
    let open_measure = Duration::from_secs_f64(env_or("BENCH_OPEN_SECONDS", 10.0));
    let server_threads: usize = env_or("BENCH_SERVER_THREADS", 2);
    let client_threads: usize = env_or("BENCH_CLIENT_THREADS", 2);
    let tmp_parent = std::env::var("BENCH_TMPDIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir());

    let server_rt: Runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(server_threads)
        .thread_name("server")
        .enable_all()
        .build()
        .expect("server runtime");
    let client_rt: Runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(client_threads)
        .thread_name("client")
        .enable_all()
        .build()
        .expect("client runtime");

    let dir = tempfile::Builder::new()
        .prefix("ingest-bench-")
        .tempdir_in(&tmp_parent)
        .expect("temp dir");
    let data_dir = dir.path().join("data");

    let (app, token, hello, naive, floor, schema) = server_rt.block_on(async {
        let settings = Settings::new("127.0.0.1:0".parse().expect("addr"), data_dir.clone());
        let token = dispatcher::cli::create_token(&settings, "integrator", None, Some("bench"))
            .await
            .expect("token");
        let app = App::start(settings).await.expect("app");
        (
            app,
            token,
            hello_server().await,
            naive_server(dir.path()).await,
            serve(floors::router(dir.path(), floors::Floor::OneTable)).await,
            serve(floors::router(dir.path(), floors::Floor::OurSchema)).await,
        )
    });

    println!("# Durable ingest benchmark");
    println!(
        "closed loop: {conns} keep-alive HTTP/1.1 connections, {:.0} s warm-up + {:.0} s measured per target; \
         server runtime {server_threads} threads, client runtime {client_threads} threads, same process; nproc {}",
        warmup.as_secs_f64(),
        measure.as_secs_f64(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    println!("data: {}", dir.path().display());
    println!();

    let targets = [
        Target {
            name: "hello-world (bare axum POST)",
            addr: hello,
            path: "/hello".into(),
            auth: None,
        },
        Target {
            name: "naive writer (1 txn+fsync/request)",
            addr: naive,
            path: "/naive".into(),
            auth: None,
        },
        Target {
            name: "floor: group commit, one table",
            addr: floor,
            path: "/floor".into(),
            auth: None,
        },
        Target {
            name: "floor: group commit, our schema",
            addr: schema,
            path: "/floor".into(),
            auth: None,
        },
        Target {
            name: "dispatcher POST /api/v1/reports",
            addr: app.addr,
            path: "/api/v1/reports".into(),
            auth: Some(format!("Bearer {token}")),
        },
    ];
    // `BENCH_BASELINES=0` measures only ours (for profiling; no ratios then).
    let with_baselines = env_or("BENCH_BASELINES", 1u8) != 0;
    let mut results = Vec::new();
    let ours = targets.len() - 1;
    for t in targets.iter().skip(if with_baselines { 0 } else { ours }) {
        let mut s = client_rt.block_on(closed_loop(t.clone(), conns, warmup, measure));
        let answered = s.latencies.len().max(1) as f64;
        results.push(Row {
            name: t.name,
            rate: s.rate(),
            p50: s.pct(0.50),
            p99: s.pct(0.99),
            errors: s.errors,
            duplicates: s.duplicates,
            answered: s.latencies.len(),
            first_error: s.first_error.clone(),
            cpu_us: s.cpu.as_secs_f64() * 1e6 / answered,
            writer_us: s.writer.cpu.as_secs_f64() * 1e6 / answered,
            writer_kib: s.writer.written as f64 / 1024.0 / answered,
        });
    }

    println!(
        "| {:<36} | {:>10} | {:>10} | {:>10} | {:>8} | {:>12} | {:>15} | {:>16} |",
        "target (closed loop)", "req/s", "p50", "p99", "errors", "CPU µs/req", "writer µs/req", "writer KiB/req"
    );
    println!(
        "|{:-<38}|{:->12}|{:->12}|{:->12}|{:->10}|{:->14}|{:->17}|{:->18}|",
        "", "", "", "", "", "", "", ""
    );
    for r in &results {
        let (writer_us, writer_kib) = if r.writer_us > 0.0 {
            (format!("{:.0}", r.writer_us), format!("{:.1}", r.writer_kib))
        } else {
            ("-".into(), "-".into())
        };
        println!(
            "| {:<36} | {:>10.0} | {:>10} | {:>10} | {:>8} | {:>12.0} | {:>15} | {:>16} |",
            r.name,
            r.rate,
            ms(r.p50),
            ms(r.p99),
            r.errors,
            r.cpu_us,
            writer_us,
            writer_kib
        );
    }
    println!("(CPU µs/req: user + system time of the whole process, servers and client, per answered request;");
    println!(" writer µs/req and KiB/req: CPU time of the dispatcher's single SQLite writer thread alone, and the");
    println!(" bytes it wrote, nearly all WAL frames, per report)");
    for r in &results {
        if let Some(e) = &r.first_error {
            println!("first error from {}: {e}", r.name);
        }
    }
    let ingest = results.last().expect("ours was measured");
    println!(
        "ingest: {} reports answered in the window, {:.1}% joined an existing incident as duplicates",
        ingest.answered,
        100.0 * ingest.duplicates as f64 / (ingest.answered.max(1)) as f64
    );
    if with_baselines {
        let r_hello = ingest.rate / results[0].rate;
        let r_naive = ingest.rate / results[1].rate;
        println!();
        println!("| ratio | value | target | verdict |");
        println!("|---|---|---|---|");
        println!(
            "| ingest / hello-world | {:.2} | >= 0.40 | {} |",
            r_hello,
            verdict(r_hello >= 0.40)
        );
        println!(
            "| ingest / naive writer | {:.1}x | >= 10x | {} |",
            r_naive,
            verdict(r_naive >= 10.0)
        );
        // What bounds those ratios: the floors against hello-world and the naive writer.
        println!();
        println!("| floor | / hello-world | / naive writer | ingest / floor |");
        println!("|---|---|---|---|");
        for floor in &results[2..ours] {
            println!(
                "| {} | {:.2} | {:.1}x | {:.2} |",
                floor.name,
                floor.rate / results[0].rate,
                floor.rate / results[1].rate,
                ingest.rate / floor.rate
            );
        }
    }

    // Open loop on the same App (its database already holds the closed-loop reports), then
    // on the baselines: hello-world's tail is the machine's own (timers, scheduling, the
    // VM), which our p99 cannot be better than.
    let open_warmup = Duration::from_secs(1);
    let mut open_targets = vec![targets[ours].clone()];
    if with_baselines {
        open_targets.extend([targets[0].clone(), targets[1].clone()]);
    }
    println!();
    println!(
        "open loop: {open_rate} requests/s scheduled for {:.0} s (+1 s warm-up), latency from the scheduled send time",
        open_measure.as_secs_f64()
    );
    println!("| target (open loop) | answered | errors | sends >2 ms late | p50 | p99 | max |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut ours_p99_ok = false;
    for (i, t) in open_targets.into_iter().enumerate() {
        let name = t.name;
        let (mut open, late) = client_rt.block_on(open_loop(t, conns, open_rate, open_warmup, open_measure));
        let (o50, o99, omax) = (open.pct(0.50), open.pct(0.99), open.pct(1.0));
        println!(
            "| {name} | {} | {} | {late} | {} | {} | {} |",
            open.latencies.len(),
            open.errors,
            ms(o50),
            ms(o99),
            ms(omax)
        );
        if let Some(e) = &open.first_error {
            println!("first error from {name}: {e}");
        }
        if i == 0 {
            // Nothing answered (a zero-second run) is nothing measured, not a target met.
            ours_p99_ok = !open.latencies.is_empty() && o99 < Duration::from_millis(20) && open.errors == 0;
        }
    }
    println!("dispatcher p99 < 20 ms at {open_rate}/s: {}", verdict(ours_p99_ok));

    server_rt.block_on(async {
        app.shutdown().await.expect("shutdown");
    });
    drop(client_rt);
    server_rt.shutdown_timeout(Duration::from_secs(2));
}
