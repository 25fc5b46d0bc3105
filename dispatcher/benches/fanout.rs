//! Live-feed fan-out benchmark: N websocket subscribers on loopback, reports posted over HTTP.
//!
//! `cargo bench -p dispatcher --bench fanout` (figures in docs/benchmarks.md).
//!
//! For each N (default 1,000 and 10,000) and for each server, ours and a bare
//! tokio-tungstenite broadcast server (the baseline), the bench:
//!
//! 1. starts the server as a child process (this binary re-executed with
//!    `FANOUT_CHILD=dispatcher|bare`; ours runs `App::start` exactly as
//!    `dispatcher serve` does, on a fresh SQLite folder, with tokens made by
//!    `cli::create_token`), so server RSS and CPU are its own;
//! 2. connects N subscribers (topic `console`, `last_seq: null`) and waits for
//!    every snapshot; RSS per idle connection = (RSS after - RSS before) / N;
//! 3. saturation: posts reports as fast as the fan-out delivers them
//!    (16 posters, paused while subscribers are more than 256 frames behind)
//!    and counts frames delivered per second across all subscribers;
//! 4. latency: posts reports open-loop at 1,000/s for 10 s (`POST /api/v1/reports`
//!    with the integrator token; each at a distinct location, so each opens an
//!    incident: `incident_created` + `report_received`), and for every
//!    subscriber x event records receipt time - POST send time. The report's
//!    text carries a marker `FX<k>X` that both events repeat. Events not
//!    received within the drain deadline after the last POST count as lost.
//!
//! The baseline broadcasts, per POST, two frames padded to the average size of
//! ours, through a `tokio::sync::broadcast` channel, one task per connection.
//!
//! Environment knobs: `FANOUT_SUBS` (e.g. `1000,10000`), `FANOUT_RATE` (reports/s,
//! 1000), `FANOUT_SECS` (10), `FANOUT_SAT_SECS` (5), `FANOUT_DRAIN_SECS` (10),
//! `FANOUT_SERVERS` (`ours,bare`), `FANOUT_FEED_THREADS` (our server's feed threads;
//! default as `dispatcher serve`: half the cores, at least one).
//!
//! Each latency line also gives the POSTs' own latency (send to 201): what the
//! fan-out load costs 112 intake.

use std::io::{BufRead, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::{SinkExt, StreamExt};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

/// Frames each subscriber may be behind before the saturation posters pause.
const SAT_BACKLOG: u64 = 256;
const SAT_POSTERS: usize = 16;
/// Broadcast capacity of both servers: larger than every frame the bench posts.
const FEED_CHANNEL: usize = 1 << 17;
/// Marker k >= this is a saturation report (no latency recorded).
const SAT_BASE: usize = 1_000_000;
/// Subscribers connecting at once.
const CONNECT_CONCURRENCY: usize = 128;

fn main() -> anyhow::Result<()> {
    match std::env::var("FANOUT_CHILD").as_deref() {
        Ok("dispatcher") => return child_dispatcher(),
        Ok("bare") => return child_bare(),
        _ => {}
    }
    // `cargo test --benches` runs bench binaries without `--bench`: skip the heavy run.
    if !std::env::args().any(|a| a == "--bench") && std::env::var("FANOUT_FORCE").is_err() {
        println!("fanout: run with `cargo bench -p dispatcher --bench fanout`; skipping");
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(driver())
}

// ---------------------------------------------------------------------------
// Configuration, fd limit, machine
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Config {
    subs: Vec<usize>,
    rate: u64,
    secs: u64,
    sat_secs: u64,
    drain_secs: u64,
    servers: Vec<Server>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    Ours,
    Bare,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::Ours => "dispatcher",
            Server::Bare => "bare-tungstenite",
        }
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

impl Config {
    fn from_env() -> anyhow::Result<Config> {
        let subs = std::env::var("FANOUT_SUBS").unwrap_or_else(|_| "1000,10000".into());
        let subs = subs
            .split(',')
            .map(|s| s.trim().parse::<usize>().context("FANOUT_SUBS"))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let servers = std::env::var("FANOUT_SERVERS").unwrap_or_else(|_| "ours,bare".into());
        let servers = servers
            .split(',')
            .map(|s| match s.trim() {
                "ours" => Ok(Server::Ours),
                "bare" => Ok(Server::Bare),
                other => bail!("FANOUT_SERVERS: unknown server {other}"),
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Config {
            subs,
            rate: env_u64("FANOUT_RATE", 1000).max(1),
            secs: env_u64("FANOUT_SECS", 10).max(1),
            sat_secs: env_u64("FANOUT_SAT_SECS", 5).max(1),
            drain_secs: env_u64("FANOUT_DRAIN_SECS", 10),
            servers,
        })
    }
}

/// Raises the open-files soft limit as far as allowed; fails if it stays below `need`.
fn raise_fd_limit(need: u64) -> anyhow::Result<u64> {
    let got = rlimit::increase_nofile_limit(u64::MAX).context("raising RLIMIT_NOFILE")?;
    if got < need {
        bail!(
            "the open-files limit is {got}, the bench needs about {need} (one per subscriber in \
             this process and in the server child): run `ulimit -n 65536` (raise the hard limit \
             as root or in /etc/security/limits.conf) and retry, or lower FANOUT_SUBS"
        );
    }
    Ok(got)
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "?".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_owned())
        })
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "?".into());
    format!("{cpus} CPUs ({model}), {mem} RAM")
}

// ---------------------------------------------------------------------------
// Histogram (microseconds, ~3% buckets) shared by all subscriber tasks
// ---------------------------------------------------------------------------

/// A latency histogram that the subscriber tasks of every client thread record into:
/// each thread has a shard of its own (no cache line bounces between threads at
/// millions of samples a second), merged when read.
#[derive(Debug)]
struct Hist {
    shards: Vec<Shard>,
}

/// One thread's counts, on cache lines of its own.
#[derive(Debug)]
#[repr(align(128))]
struct Shard {
    buckets: Vec<AtomicU64>,
    max: AtomicU64,
}

const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
const SHARDS: usize = 8;

/// The shard of the calling thread.
fn shard_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static MINE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    MINE.with(|i| *i)
}

impl Hist {
    fn new() -> Hist {
        Hist {
            shards: (0..SHARDS)
                .map(|_| Shard {
                    buckets: (0..64 * SUB).map(|_| AtomicU64::new(0)).collect(),
                    max: AtomicU64::new(0),
                })
                .collect(),
        }
    }
    fn index(v: u64) -> usize {
        if v < SUB {
            v as usize
        } else {
            let msb = 63 - v.leading_zeros();
            let shift = msb - SUB_BITS;
            let mant = (v >> shift) & (SUB - 1);
            ((u64::from(shift) + 1) * SUB + mant) as usize
        }
    }
    /// Middle of a bucket.
    fn value(i: usize) -> u64 {
        let i = i as u64;
        if i < SUB {
            i
        } else {
            let shift = i / SUB - 1;
            let low = (SUB + i % SUB) << shift;
            low + ((1u64 << shift) >> 1)
        }
    }
    fn record(&self, us: u64) {
        let shard = &self.shards[shard_index()];
        let i = Self::index(us).min(shard.buckets.len() - 1);
        shard.buckets[i].fetch_add(1, Ordering::Relaxed);
        if us > shard.max.load(Ordering::Relaxed) {
            shard.max.fetch_max(us, Ordering::Relaxed);
        }
    }
    fn max(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.max.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0)
    }
    /// The q-quantile over `total` samples (samples never recorded count as +infinity).
    fn quantile(&self, q: f64, total: u64) -> Option<u64> {
        let want = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for i in 0..64 * SUB as usize {
            seen += self
                .shards
                .iter()
                .map(|s| s.buckets[i].load(Ordering::Relaxed))
                .sum::<u64>();
            if seen >= want {
                return Some(Self::value(i).min(self.max()));
            }
        }
        None
    }
}

fn fmt_us(v: Option<u64>) -> String {
    match v {
        None => "lost".into(),
        Some(us) if us < 10_000 => format!("{:.2} ms", us as f64 / 1000.0),
        Some(us) if us < 10_000_000 => format!("{:.0} ms", us as f64 / 1000.0),
        Some(us) => format!("{:.1} s", us as f64 / 1e6),
    }
}

// ---------------------------------------------------------------------------
// Shared state of one server run
// ---------------------------------------------------------------------------

#[derive(Debug)]
struct Run {
    base: Instant,
    /// Send time (ns since base, +1; 0 = not sent) of latency-phase report k.
    send_at: Vec<AtomicU64>,
    /// Reports k < split are of the spec-rate phase (hists[0]), the others of the half-capacity phase (hists[1]).
    split: usize,
    hists: [Hist; 2],
    /// Event frames each subscriber received.
    per_client: Vec<AtomicU64>,
    events: AtomicU64,
    event_bytes: AtomicU64,
    ready: AtomicUsize,
    connect_failed: AtomicUsize,
    closed: AtomicUsize,
    lagging: AtomicUsize,
    errors: AtomicUsize,
    pings: AtomicUsize,
}

impl Run {
    fn new(n: usize, reports: usize) -> Run {
        Run {
            base: Instant::now(),
            send_at: (0..2 * reports).map(|_| AtomicU64::new(0)).collect(),
            split: reports,
            hists: [Hist::new(), Hist::new()],
            per_client: (0..n).map(|_| AtomicU64::new(0)).collect(),
            events: AtomicU64::new(0),
            event_bytes: AtomicU64::new(0),
            ready: AtomicUsize::new(0),
            connect_failed: AtomicUsize::new(0),
            closed: AtomicUsize::new(0),
            lagging: AtomicUsize::new(0),
            errors: AtomicUsize::new(0),
            pings: AtomicUsize::new(0),
        }
    }
    fn now_ns(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }
    fn counts(&self) -> Vec<u64> {
        self.per_client.iter().map(|c| c.load(Ordering::Relaxed)).collect()
    }
}

/// The k in the first `FX<k>X` of a frame. `memmem` and bytes, not `str::find` on a
/// checked `&str`: this runs for every subscriber x frame, in the load generator whose
/// CPU the servers share (it was a quarter of the clients' time).
fn marker(frame: &[u8]) -> Option<usize> {
    let at = memchr::memmem::find(frame, b"FX")? + 2;
    let mut k = 0usize;
    let mut digits = 0;
    for b in frame[at..].iter().take_while(|b| b.is_ascii_digit()) {
        k = k.checked_mul(10)?.checked_add(usize::from(b - b'0'))?;
        digits += 1;
    }
    (digits > 0).then_some(k)
}

/// A minimal websocket client for the subscribers: one buffered read serves many
/// frames and there is no per-message allocation beyond the payload, so the load
/// generator spends its (shared) CPU on as little as possible. Handshake per RFC 6455;
/// client frames are masked (with a zero key); server frames are never fragmented
/// by either server.
struct RawWs {
    io: tokio::io::BufReader<tokio::net::TcpStream>,
    /// The last frame's payload when it did not lie whole in the read buffer.
    payload: Vec<u8>,
    /// Where the last frame's payload lies in the read buffer, when it does.
    in_buffer: Option<(usize, usize)>,
    /// Bytes of the read buffer the last frame took, consumed at the next read.
    consumed: usize,
}

/// Opcode and payload range of an unmasked frame lying whole at the start of `buf`.
fn whole_frame(buf: &[u8]) -> Option<(u8, usize, usize)> {
    let (&b0, &b1) = (buf.first()?, buf.get(1)?);
    if b1 & 0x80 != 0 {
        return None;
    }
    let (header, len) = match b1 & 0x7f {
        126 => (4, usize::from(u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?))),
        127 => (
            10,
            usize::try_from(u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?)).ok()?,
        ),
        n => (2, usize::from(n)),
    };
    let end = header + len;
    (end <= buf.len()).then_some((b0 & 0x0f, header, end))
}

impl RawWs {
    async fn connect(addr: &str, path: &str) -> std::io::Result<RawWs> {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut io = tokio::io::BufReader::with_capacity(64 * 1024, stream);
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        io.get_mut().write_all(req.as_bytes()).await?;
        let mut line = String::new();
        io.read_line(&mut line).await?;
        if !line.contains(" 101 ") {
            return Err(std::io::Error::other(format!("handshake: {}", line.trim())));
        }
        loop {
            line.clear();
            if io.read_line(&mut line).await? == 0 {
                return Err(std::io::Error::other("handshake: eof"));
            }
            if line == "\r\n" {
                break;
            }
        }
        Ok(RawWs {
            io,
            payload: Vec::with_capacity(4096),
            in_buffer: None,
            consumed: 0,
        })
    }

    async fn send(&mut self, opcode: u8, data: &[u8]) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        let mut frame = Vec::with_capacity(data.len() + 8);
        frame.push(0x80 | opcode);
        if data.len() < 126 {
            frame.push(0x80 | data.len() as u8);
        } else {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(data.len() as u16).to_be_bytes());
        }
        frame.extend_from_slice(&[0, 0, 0, 0]);
        frame.extend_from_slice(data);
        self.io.get_mut().write_all(&frame).await
    }

    /// The next frame's opcode; [`RawWs::payload`] is its payload. A frame
    /// that lies whole in the read buffer is parsed there, without a copy.
    async fn next(&mut self) -> std::io::Result<u8> {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt};
        self.io.consume(std::mem::take(&mut self.consumed));
        self.in_buffer = None;
        if self.io.buffer().is_empty() {
            let _ = self.io.fill_buf().await?;
        }
        if let Some((opcode, start, end)) = whole_frame(self.io.buffer()) {
            self.in_buffer = Some((start, end));
            self.consumed = end;
            return Ok(opcode);
        }
        let b0 = self.io.read_u8().await?;
        let b1 = self.io.read_u8().await?;
        let len = match b1 & 0x7f {
            126 => u64::from(self.io.read_u16().await?),
            127 => self.io.read_u64().await?,
            n => u64::from(n),
        };
        if b1 & 0x80 != 0 {
            let _mask = self.io.read_u32().await?;
        }
        self.payload.resize(len as usize, 0);
        self.io.read_exact(&mut self.payload).await?;
        Ok(b0 & 0x0f)
    }

    fn payload(&self) -> &[u8] {
        match self.in_buffer {
            Some((start, end)) => &self.io.buffer()[start..end],
            None => &self.payload,
        }
    }

    /// Bytes already read but not yet parsed.
    fn buffered(&self) -> usize {
        self.io.buffer().len() - self.consumed
    }
}

/// One subscriber: hello, welcome, snapshot, then counts and times events and answers pings.
async fn subscriber(id: usize, addr: String, path: String, token: String, run: Arc<Run>, gate: Arc<Semaphore>) {
    let Ok(permit) = gate.acquire_owned().await else {
        return;
    };
    let mut attempt = 0;
    let mut ws = loop {
        match RawWs::connect(&addr, &path).await {
            Ok(ws) => break ws,
            Err(e) => {
                attempt += 1;
                if attempt >= 20 {
                    eprintln!("subscriber {id}: cannot connect: {e}");
                    run.connect_failed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
            }
        }
    };
    let hello = serde_json::json!({"type":"hello","token":token,"topics":["console"],"last_seq":null});
    if ws.send(1, hello.to_string().as_bytes()).await.is_err() {
        run.connect_failed.fetch_add(1, Ordering::Relaxed);
        return;
    }
    // welcome, then snapshot
    loop {
        match ws.next().await {
            Ok(1) if ws.payload().starts_with(b"{\"type\":\"snapshot\"") => break,
            Ok(1) if ws.payload().starts_with(b"{\"type\":\"error\"") => {
                eprintln!("subscriber {id}: {}", String::from_utf8_lossy(ws.payload()));
                run.connect_failed.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(8) | Err(_) => {
                run.connect_failed.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(_) => {}
        }
    }
    drop(permit);
    run.ready.fetch_add(1, Ordering::Relaxed);
    let (mut events, mut bytes) = (0u64, 0u64);
    loop {
        let Ok(opcode) = ws.next().await else { break };
        match opcode {
            1 => {
                let now = run.now_ns();
                let s = ws.payload();
                if s.starts_with(b"{\"type\":\"event\"") {
                    events += 1;
                    bytes += s.len() as u64;
                    if let Some(k) = marker(s).filter(|k| *k < run.send_at.len()) {
                        let sent = run.send_at[k].load(Ordering::Acquire);
                        if sent > 0 {
                            run.hists[usize::from(k >= run.split)].record(now.saturating_sub(sent - 1) / 1000);
                        }
                    }
                } else if s.starts_with(b"{\"type\":\"ping\"") {
                    run.pings.fetch_add(1, Ordering::Relaxed);
                    if ws.send(1, b"{\"type\":\"pong\"}").await.is_err() {
                        break;
                    }
                } else if s.starts_with(b"{\"type\":\"error\"") {
                    if memchr::memmem::find(s, b"lagging").is_some() {
                        run.lagging.fetch_add(1, Ordering::Relaxed);
                    } else {
                        run.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            8 => break,
            9 => {
                let data = ws.payload().to_vec();
                if ws.send(10, &data).await.is_err() {
                    break;
                }
            }
            _ => {}
        }
        // Publish the counts once per batch of buffered frames (fewer shared-counter bounces).
        if ws.buffered() == 0 && events > 0 {
            run.per_client[id].fetch_add(events, Ordering::Relaxed);
            run.events.fetch_add(events, Ordering::Relaxed);
            run.event_bytes.fetch_add(bytes, Ordering::Relaxed);
            (events, bytes) = (0, 0);
        }
    }
    run.closed.fetch_add(1, Ordering::Relaxed);
}

/// The newest sequence the server has published, from `GET /healthz`.
///
/// Not from a websocket hello: a sequence the server never reached gets a
/// full snapshot (14 MB at 10,000 active incidents), which the probe threw
/// away but the server built, read from the store and sent while the latency
/// phase was being measured.
async fn head_seq(http: &reqwest::Client, url: &str) -> anyhow::Result<i64> {
    let v: serde_json::Value = http.get(url).send().await?.error_for_status()?.json().await?;
    v["seq"].as_i64().context("seq")
}

/// The head once it reaches `at_least` (given up after 2 s: then whatever it is).
async fn head_after(http: &reqwest::Client, url: &str, at_least: Option<i64>) -> anyhow::Result<i64> {
    let give_up = Instant::now() + Duration::from_secs(2);
    loop {
        let head = head_seq(http, url).await?;
        if at_least.is_none_or(|want| head >= want) || Instant::now() > give_up {
            return Ok(head);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Time from hello to the end of the snapshot for one new subscriber, and its size.
async fn snapshot_probe(url: &str, token: &str) -> anyhow::Result<(Duration, usize)> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    let hello = serde_json::json!({"type":"hello","token":token,"topics":["console"],"last_seq":null});
    let t0 = Instant::now();
    ws.send(Message::text(hello.to_string())).await?;
    while let Some(m) = ws.next().await {
        if let Message::Text(t) = m? {
            if t.as_str().starts_with("{\"type\":\"snapshot\"") {
                let _ = ws.close(None).await;
                return Ok((t0.elapsed(), t.len()));
            }
        }
    }
    bail!("no snapshot")
}

// ---------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------

#[derive(Debug)]
struct ChildServer {
    child: Child,
    ws_url: String,
    ws_addr: String,
    ws_path: String,
    post_url: String,
    health_url: String,
    console_token: String,
    integrator_token: String,
    _dir: Option<tempfile::TempDir>,
}

impl ChildServer {
    fn spawn(server: Server, frame_bytes: usize) -> anyhow::Result<ChildServer> {
        let exe = std::env::current_exe()?;
        let mut cmd = Command::new(exe);
        cmd.env("FANOUT_FEED_CHANNEL", FEED_CHANNEL.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let dir = match server {
            Server::Ours => {
                let dir = tempfile::tempdir()?;
                cmd.env("FANOUT_CHILD", "dispatcher").env("FANOUT_DATA_DIR", dir.path());
                Some(dir)
            }
            Server::Bare => {
                cmd.env("FANOUT_CHILD", "bare")
                    .env("FANOUT_FRAME_BYTES", frame_bytes.to_string());
                None
            }
        };
        let mut child = cmd.spawn().context("spawning the server child")?;
        let stdout = child.stdout.take().context("child stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [ready, ws_addr, http_addr, console, integrator] = parts.as_slice() else {
            let _ = child.kill();
            bail!("server child did not start: {line:?}");
        };
        if *ready != "READY" {
            let _ = child.kill();
            bail!("server child did not start: {line:?}");
        }
        let ws_url = match server {
            Server::Ours => format!("ws://{ws_addr}/ws"),
            Server::Bare => format!("ws://{ws_addr}/"),
        };
        Ok(ChildServer {
            child,
            ws_addr: (*ws_addr).to_owned(),
            ws_path: match server {
                Server::Ours => "/ws".into(),
                Server::Bare => "/".into(),
            },
            ws_url,
            post_url: format!("http://{http_addr}/api/v1/reports"),
            health_url: format!("http://{http_addr}/healthz"),
            console_token: (*console).to_owned(),
            integrator_token: (*integrator).to_owned(),
            _dir: dir,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// VmRSS of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// utime + stime of a process, in seconds.
fn cpu_secs(pid: u32) -> f64 {
    let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            // fields 14 and 15 of stat; `rest` starts at field 3
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    ticks as f64 / 100.0
}

/// Our server, as `dispatcher serve` runs it, with the feed channel set for the bench.
fn child_dispatcher() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        dispatcher::telemetry::init(false);
        let dir = PathBuf::from(std::env::var("FANOUT_DATA_DIR").context("FANOUT_DATA_DIR")?);
        let mut settings = dispatcher::app::Settings::new("127.0.0.1:0".parse()?, dir);
        settings.feed_channel = env_u64("FANOUT_FEED_CHANNEL", 4096) as usize;
        if let Ok(n) = std::env::var("FANOUT_FEED_THREADS") {
            settings.feed_threads = n.parse().context("FANOUT_FEED_THREADS")?;
        }
        let console = dispatcher::cli::create_token(&settings, "dispatcher", None, Some("fanout-console")).await?;
        let integrator = dispatcher::cli::create_token(&settings, "integrator", None, Some("fanout-poster")).await?;
        let app = dispatcher::app::App::start(settings).await?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "READY {0} {0} {console} {integrator}", app.addr)?;
        out.flush()?;
        drop(out);
        wait_for_stdin_eof().await;
        std::process::exit(0)
    })
}

/// Ends the child when the bench process goes away.
async fn wait_for_stdin_eof() {
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        let _ = std::io::stdin().read_line(&mut sink);
    })
    .await;
}

/// The baseline: accept websockets, broadcast what is POSTed.
fn child_bare() -> anyhow::Result<()> {
    use axum::extract::State;
    use axum::http::StatusCode;
    use tokio::sync::broadcast;
    use tokio_tungstenite::tungstenite::Utf8Bytes;

    #[derive(Clone)]
    struct Bare {
        tx: broadcast::Sender<Utf8Bytes>,
        seq: Arc<AtomicU64>,
        frame_bytes: usize,
    }

    fn frame(seq: u64, kind: &str, text: &str, want: usize) -> String {
        let text = serde_json::to_string(text).unwrap_or_default();
        let at = chrono::Utc::now().to_rfc3339();
        let mut s = format!(
            "{{\"type\":\"event\",\"seq\":{seq},\"at\":\"{at}\",\"actor\":{{\"role\":\"integrator\",\"name\":\"fanout-poster\"}},\"event\":{{\"type\":\"{kind}\",\"text\":{text},\"pad\":\""
        );
        while s.len() + 4 < want {
            s.push('x');
        }
        s.push_str("\"}}");
        s
    }

    async fn post(State(b): State<Bare>, body: axum::body::Bytes) -> (StatusCode, String) {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) else {
            return (StatusCode::BAD_REQUEST, "{}".into());
        };
        let text = v["text"].as_str().unwrap_or("");
        let seq = b.seq.fetch_add(2, Ordering::SeqCst) + 1;
        let _ = b.tx.send(frame(seq, "incident_created", text, b.frame_bytes).into());
        let _ = b.tx.send(frame(seq + 1, "report_received", text, b.frame_bytes).into());
        (
            StatusCode::CREATED,
            format!("{{\"id\":\"{seq}\",\"number\":\"{seq}\"}}"),
        )
    }

    async fn health(State(b): State<Bare>) -> String {
        format!("{{\"status\":\"ok\",\"seq\":{}}}", b.seq.load(Ordering::SeqCst))
    }

    async fn connection(stream: tokio::net::TcpStream, b: Bare) {
        let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
            return;
        };
        // hello
        match ws.next().await {
            Some(Ok(Message::Text(_))) => {}
            _ => return,
        }
        let mut rx = b.tx.subscribe();
        let head = b.seq.load(Ordering::SeqCst);
        let welcome = format!("{{\"type\":\"welcome\",\"role\":\"dispatcher\",\"name\":\"x\",\"topics\":[\"console\"],\"head_seq\":{head}}}");
        let snapshot = format!("{{\"type\":\"snapshot\",\"seq\":{head},\"reason\":\"no_last_seq\",\"incidents\":[],\"units\":[],\"calls\":[]}}");
        if ws.send(Message::text(welcome)).await.is_err() || ws.send(Message::text(snapshot)).await.is_err() {
            return;
        }
        let mut ping = tokio::time::interval_at(
            tokio::time::Instant::now() + Duration::from_secs(20),
            Duration::from_secs(20),
        );
        loop {
            tokio::select! {
                f = rx.recv() => match f {
                    Ok(t) => if ws.send(Message::Text(t)).await.is_err() { return },
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let _ = ws.send(Message::text("{\"type\":\"error\",\"code\":\"lagging\",\"message\":\"lagging\"}")).await;
                        let _ = ws.close(None).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = ping.tick() => if ws.send(Message::text("{\"type\":\"ping\"}")).await.is_err() { return },
                m = ws.next() => match m {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => {}
                },
            }
        }
    }

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let (tx, _) = broadcast::channel(env_u64("FANOUT_FEED_CHANNEL", 4096) as usize);
        let bare = Bare {
            tx,
            seq: Arc::new(AtomicU64::new(0)),
            frame_bytes: env_u64("FANOUT_FRAME_BYTES", 1000) as usize,
        };
        let ws_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let ws_addr = ws_listener.local_addr()?;
        let http_addr = http_listener.local_addr()?;
        let b = bare.clone();
        tokio::spawn(async move {
            loop {
                if let Ok((stream, _)) = ws_listener.accept().await {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(connection(stream, b.clone()));
                }
            }
        });
        let router = axum::Router::new()
            .route("/api/v1/reports", axum::routing::post(post))
            .route("/healthz", axum::routing::get(health))
            .with_state(bare);
        tokio::spawn(async move { axum::serve(http_listener, router).await });
        let mut out = std::io::stdout().lock();
        writeln!(out, "READY {ws_addr} {http_addr} - -")?;
        out.flush()?;
        drop(out);
        wait_for_stdin_eof().await;
        std::process::exit(0)
    })
}

// ---------------------------------------------------------------------------
// Posting
// ---------------------------------------------------------------------------

fn report_body(k: usize) -> String {
    // A grid of points 0.01 degrees (~1.1 km) apart: never within the 300 m duplicate radius.
    let cell = k % 120_000;
    let lat = -10.0 + (cell / 400) as f64 * 0.01;
    let lon = 113.0 + (cell % 400) as f64 * 0.01;
    serde_json::json!({
        "channel": "app",
        "text": format!("Kebakaran rumah warga, asap tebal, mohon kirim pemadam segera FX{k}X"),
        "location": {"lat": lat, "lon": lon, "source": "gnss", "accuracy_m": 10},
    })
    .to_string()
}

#[derive(Debug, Default)]
struct PostStats {
    ok: AtomicU64,
    failed: AtomicU64,
    /// Send to 201, in µs, of every answered POST: intake's own latency while the feed is loaded.
    answered_us: std::sync::Mutex<Vec<u64>>,
}

impl PostStats {
    /// The q-quantile of the answered POSTs' latency, in µs.
    fn answered_quantile(&self, q: f64) -> Option<u64> {
        let mut v = self.answered_us.lock().map(|v| v.clone()).unwrap_or_default();
        if v.is_empty() {
            return None;
        }
        v.sort_unstable();
        let i = (((v.len() as f64) * q).ceil() as usize).clamp(1, v.len()) - 1;
        Some(v[i])
    }
}

async fn post_one(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    k: usize,
    run: Option<&Run>,
    stats: &PostStats,
) -> bool {
    let body = report_body(k);
    let req = http
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body);
    if let Some(run) = run {
        run.send_at[k].store(run.now_ns() + 1, Ordering::Release);
    }
    let sent = Instant::now();
    let ok = match req.send().await {
        Ok(r) if r.status().as_u16() == 201 => {
            let _ = r.bytes().await;
            if let Ok(mut v) = stats.answered_us.lock() {
                v.push(sent.elapsed().as_micros() as u64);
            }
            true
        }
        Ok(r) => {
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            if stats.failed.load(Ordering::Relaxed) < 5 {
                eprintln!("POST {k}: {status} {text}");
            }
            false
        }
        Err(e) => {
            if stats.failed.load(Ordering::Relaxed) < 5 {
                eprintln!("POST {k}: {e}");
            }
            false
        }
    };
    if ok {
        stats.ok.fetch_add(1, Ordering::Relaxed);
    } else {
        stats.failed.fetch_add(1, Ordering::Relaxed);
    }
    ok
}

// ---------------------------------------------------------------------------
// One server, one N
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Default)]
struct Outcome {
    server: &'static str,
    n: usize,
    connected: usize,
    connect_secs: f64,
    rss_before_kib: u64,
    rss_idle_kib: u64,
    rss_end_kib: u64,
    sat_frames_per_s: f64,
    sat_reports_per_s: f64,
    sat_server_cpu: f64,
    sat_client_cpu: f64,
    full: Lat,
    half: Lat,
    closed: usize,
    lagging: usize,
    avg_frame: usize,
    snapshot: Option<(Duration, usize)>,
}

async fn run_one(cfg: &Config, server: Server, n: usize, frame_bytes: usize) -> anyhow::Result<Outcome> {
    let srv = ChildServer::spawn(server, frame_bytes)?;
    let pid = srv.pid();
    let reports = (cfg.rate * cfg.secs) as usize;
    let run = Arc::new(Run::new(n, reports));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        // A POST the server has not answered by then counts as failed (keeps the run bounded).
        .timeout(Duration::from_secs(cfg.drain_secs.max(5)))
        .tcp_nodelay(true)
        .build()?;
    let mut out = Outcome {
        server: server.name(),
        n,
        ..Default::default()
    };

    // Warm the HTTP path (and our classifier, store, token cache) with one report.
    let warm = PostStats::default();
    post_one(&http, &srv.post_url, &srv.integrator_token, SAT_BASE * 2, None, &warm).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    out.rss_before_kib = rss_kib(pid);

    // --- connect N subscribers
    let t0 = Instant::now();
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut tasks = Vec::with_capacity(n);
    for id in 0..n {
        tasks.push(tokio::spawn(subscriber(
            id,
            srv.ws_addr.clone(),
            srv.ws_path.clone(),
            srv.console_token.clone(),
            run.clone(),
            gate.clone(),
        )));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while run.ready.load(Ordering::Relaxed) + run.connect_failed.load(Ordering::Relaxed) < n {
        if Instant::now() > deadline {
            eprintln!(
                "  connect deadline: {} ready, {} failed",
                run.ready.load(Ordering::Relaxed),
                run.connect_failed.load(Ordering::Relaxed)
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    out.connect_secs = t0.elapsed().as_secs_f64();
    out.connected = run.ready.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(1)).await;
    out.rss_idle_kib = rss_kib(pid);
    eprintln!(
        "  {} subscribers connected in {:.1} s; server RSS {} -> {} KiB",
        out.connected, out.connect_secs, out.rss_before_kib, out.rss_idle_kib
    );

    // --- saturation (flow-controlled closed loop)
    {
        let stop = Arc::new(AtomicBool::new(false));
        let posted = Arc::new(AtomicU64::new(0));
        let next = Arc::new(AtomicUsize::new(SAT_BASE));
        let stats = Arc::new(PostStats::default());
        let start_events = run.events.load(Ordering::Relaxed);
        let live = out.connected.max(1) as u64;
        let mut posters = Vec::new();
        for _ in 0..SAT_POSTERS {
            let (stop, posted, next, stats, run, http) = (
                stop.clone(),
                posted.clone(),
                next.clone(),
                stats.clone(),
                run.clone(),
                http.clone(),
            );
            let (url, token) = (srv.post_url.clone(), srv.integrator_token.clone());
            posters.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let delivered = run.events.load(Ordering::Relaxed) - start_events;
                    let sent_frames = posted.load(Ordering::Relaxed) * 2 * live;
                    if sent_frames > delivered + SAT_BACKLOG * live {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        continue;
                    }
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    posted.fetch_add(1, Ordering::Relaxed);
                    if !post_one(&http, &url, &token, k, None, &stats).await {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (e0, p0, c0, b0) = (
            run.events.load(Ordering::Relaxed),
            posted.load(Ordering::Relaxed),
            cpu_secs(pid),
            cpu_secs(std::process::id()),
        );
        let w0 = Instant::now();
        tokio::time::sleep(Duration::from_secs(cfg.sat_secs)).await;
        let secs = w0.elapsed().as_secs_f64();
        let (e1, p1, c1, b1) = (
            run.events.load(Ordering::Relaxed),
            posted.load(Ordering::Relaxed),
            cpu_secs(pid),
            cpu_secs(std::process::id()),
        );
        stop.store(true, Ordering::Relaxed);
        for p in posters {
            let _ = p.await;
        }
        out.sat_frames_per_s = (e1 - e0) as f64 / secs;
        out.sat_reports_per_s = (p1 - p0) as f64 / secs;
        out.sat_server_cpu = (c1 - c0) / secs;
        out.sat_client_cpu = (b1 - b0) / secs;
        eprintln!(
            "  saturation: {:.0} frames/s delivered, {:.0} reports/s, CPU server {:.0}% clients+poster {:.0}%",
            out.sat_frames_per_s,
            out.sat_reports_per_s,
            out.sat_server_cpu * 100.0,
            out.sat_client_cpu * 100.0
        );
        // let the backlog drain
        let want = stats.ok.load(Ordering::Relaxed) * 2 * live;
        let until = Instant::now() + Duration::from_secs(10);
        while run.events.load(Ordering::Relaxed) - start_events < want && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    // --- latency at half the measured capacity, then at the specified rate (which may overload)
    let half_rate = (out.sat_frames_per_s * 0.5 / (2.0 * out.connected.max(1) as f64)).clamp(0.2, cfg.rate as f64);
    let half_count = ((half_rate * cfg.secs as f64).ceil() as usize).clamp(1, reports);
    out.half = latency_phase(cfg, &srv, &run, &http, n, half_rate, reports, half_count, 1).await?;
    out.full = latency_phase(cfg, &srv, &run, &http, n, cfg.rate as f64, 0, reports, 0).await?;
    out.rss_end_kib = rss_kib(pid);
    out.closed = run.closed.load(Ordering::Relaxed);
    out.lagging = run.lagging.load(Ordering::Relaxed);
    let ev = run.events.load(Ordering::Relaxed).max(1);
    out.avg_frame = (run.event_bytes.load(Ordering::Relaxed) / ev) as usize;
    out.snapshot = match snapshot_probe(&srv.ws_url, &srv.console_token).await {
        Ok(x) => Some(x),
        Err(e) => {
            let head = head_seq(&http, &srv.health_url).await.unwrap_or(-1);
            eprintln!(
                "  snapshot probe failed (head_seq {head}, about {} incidents): {e:#}",
                head / 2
            );
            None
        }
    };
    if run.errors.load(Ordering::Relaxed) > 0 {
        eprintln!("  {} error frames received", run.errors.load(Ordering::Relaxed));
    }

    // Stop the server first (its sockets take the TIME_WAITs), then the subscribers.
    drop(srv);
    for t in &tasks {
        t.abort();
    }
    for t in tasks {
        let _ = t.await;
    }
    Ok(out)
}

#[derive(Debug, Clone, Default)]
struct Lat {
    rate: f64,
    posted: u64,
    post_failed: u64,
    post_p50: Option<u64>,
    post_p99: Option<u64>,
    events: i64,
    expected: u64,
    delivered: u64,
    p50: Option<u64>,
    p99: Option<u64>,
    max: Option<u64>,
    drain_secs: f64,
    server_cpu: f64,
}

/// Posts `count` reports (markers k0..k0+count) open-loop at `rate`/s and times every receipt.
#[allow(clippy::too_many_arguments)]
async fn latency_phase(
    cfg: &Config,
    srv: &ChildServer,
    run: &Arc<Run>,
    http: &reqwest::Client,
    n: usize,
    rate: f64,
    k0: usize,
    count: usize,
    hist: usize,
) -> anyhow::Result<Lat> {
    let mut lat = Lat {
        rate,
        ..Default::default()
    };
    let pid = srv.pid();
    // The server may refuse the probe under load (seen: store pool timeouts); then count 2 events per answered POST.
    let head0 = head_seq(http, &srv.health_url).await;
    let counts0 = run.counts();
    let stats = Arc::new(PostStats::default());
    let c0 = cpu_secs(pid);
    let start = tokio::time::Instant::now();
    let mut inflight = Vec::with_capacity(count);
    for i in 0..count {
        tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / rate)).await;
        let (http, url, token, run, stats) = (
            http.clone(),
            srv.post_url.clone(),
            srv.integrator_token.clone(),
            run.clone(),
            stats.clone(),
        );
        inflight.push(tokio::spawn(async move {
            post_one(&http, &url, &token, k0 + i, Some(&run), &stats).await;
        }));
    }
    let post_end = Instant::now();
    for t in inflight {
        let _ = t.await;
    }
    lat.posted = stats.ok.load(Ordering::Relaxed);
    lat.post_failed = stats.failed.load(Ordering::Relaxed);
    lat.post_p50 = stats.answered_quantile(0.50);
    lat.post_p99 = stats.answered_quantile(0.99);
    // `/healthz` reports what was broadcast, and the writer answers a batch just
    // before broadcasting it: wait until the head covers every answered POST
    // (each opened an incident: two events at least).
    let covered = head0.as_ref().ok().map(|h| h + 2 * lat.posted as i64);
    let head1 = head_after(http, &srv.health_url, covered).await;
    lat.events = match (head0, head1) {
        (Ok(a), Ok(b)) => b - a,
        (a, b) => {
            eprintln!(
                "  head_seq probe failed ({:?} / {:?}): expecting 2 events per answered POST",
                a.err(),
                b.err()
            );
            2 * lat.posted as i64
        }
    };
    let per_client = u64::try_from(lat.events).unwrap_or(0);
    lat.expected = per_client * n as u64;
    let drain_deadline = post_end + Duration::from_secs(cfg.drain_secs);
    loop {
        let counts = run.counts();
        let done = counts.iter().zip(&counts0).all(|(c, c0)| c - c0 >= per_client);
        if done || Instant::now() > drain_deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    lat.drain_secs = post_end.elapsed().as_secs_f64();
    lat.server_cpu = (cpu_secs(pid) - c0) / start.elapsed().as_secs_f64();
    lat.delivered = run
        .counts()
        .iter()
        .zip(&counts0)
        .map(|(c, c0)| (c - c0).min(per_client))
        .sum();
    let h = &run.hists[hist];
    let total = lat.expected.max(1);
    lat.p50 = h.quantile(0.50, total);
    lat.p99 = h.quantile(0.99, total);
    lat.max = (lat.delivered >= lat.expected).then(|| h.max());
    eprintln!(
        "  latency at {:.1} reports/s: {} posted ({} failed; answered p50 {} p99 {}), {} events x {} subscribers, delivered {}/{}, p50 {} p99 {} max {}; server CPU {:.0}%",
        rate,
        lat.posted,
        lat.post_failed,
        fmt_us(lat.post_p50),
        fmt_us(lat.post_p99),
        lat.events,
        n,
        lat.delivered,
        lat.expected,
        fmt_us(lat.p50),
        fmt_us(lat.p99),
        fmt_us(lat.max),
        lat.server_cpu * 100.0
    );
    Ok(lat)
}

async fn driver() -> anyhow::Result<()> {
    let cfg = Config::from_env()?;
    let max_n = cfg.subs.iter().copied().max().unwrap_or(0) as u64;
    let nofile = raise_fd_limit(max_n + 1024)?;
    let started = Instant::now();
    println!("fanout: {}", machine());
    println!(
        "  open-files limit {nofile}; rate {}/s for {} s, saturation {} s, drain deadline {} s",
        cfg.rate, cfg.secs, cfg.sat_secs, cfg.drain_secs
    );
    let mut outcomes = Vec::new();
    let mut frame_bytes = 1000;
    for &n in &cfg.subs {
        for &server in &cfg.servers {
            eprintln!("== {} with {n} subscribers", server.name());
            let o = run_one(&cfg, server, n, frame_bytes).await?;
            if server == Server::Ours && o.avg_frame > 0 {
                frame_bytes = o.avg_frame;
            }
            outcomes.push(o);
            // Let the kernel settle between runs.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    print_table(&cfg, &outcomes);
    println!("total bench time {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn print_table(cfg: &Config, outcomes: &[Outcome]) {
    println!();
    println!(
        "Latency: POST /api/v1/reports open-loop for {} s, receipt - send over every subscriber x event (lost = not received {} s after the last POST)",
        cfg.secs, cfg.drain_secs
    );
    println!(
        "| server | N | connected (s) | reports/s | POST answered p99 | events | delivered / expected | lost | p50 | p99 | max | drained (s) | server CPU |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for o in outcomes {
        for l in [&o.full, &o.half] {
            println!(
                "| {} | {} | {} ({:.1}) | {:.1} | {} | {} | {} / {} | {} | {} | {} | {} | {:.1} | {:.0}% |",
                o.server,
                o.n,
                o.connected,
                o.connect_secs,
                l.rate,
                fmt_us(l.post_p99),
                l.events,
                l.delivered,
                l.expected,
                l.expected.saturating_sub(l.delivered),
                fmt_us(l.p50),
                fmt_us(l.p99),
                fmt_us(l.max),
                l.drain_secs,
                l.server_cpu * 100.0,
            );
        }
    }
    println!();
    println!("Memory and saturation");
    println!(
        "| server | N | RSS before | RSS N idle | per idle conn | RSS end | sat. frames/s | sat. reports/s | CPU server / bench | avg frame | snapshot for a new client | dropped (lagging) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for o in outcomes {
        let per = (o.rss_idle_kib.saturating_sub(o.rss_before_kib)) as f64 / o.connected.max(1) as f64;
        let snap = o
            .snapshot
            .map(|(d, b)| format!("{:.0} ms, {} KiB", d.as_secs_f64() * 1000.0, b / 1024))
            .unwrap_or_else(|| "-".into());
        println!(
            "| {} | {} | {} MiB | {} MiB | {:.1} KiB | {} MiB | {:.0} | {:.0} | {:.0}% / {:.0}% | {} B | {} | {} ({}) |",
            o.server,
            o.n,
            o.rss_before_kib / 1024,
            o.rss_idle_kib / 1024,
            per,
            o.rss_end_kib / 1024,
            o.sat_frames_per_s,
            o.sat_reports_per_s,
            o.sat_server_cpu * 100.0,
            o.sat_client_cpu * 100.0,
            o.avg_frame,
            snap,
            o.closed,
            o.lagging,
        );
    }
    println!();
    println!("Targets (dispatcher)");
    for o in outcomes.iter().filter(|o| o.server == Server::Ours.name()) {
        let limit_ms = if o.n <= 1000 { 10 } else { 50 };
        for l in [&o.full, &o.half] {
            let lost = l.expected.saturating_sub(l.delivered);
            let p99_ok = lost == 0 && l.p99.is_some_and(|p| p < limit_ms * 1000);
            println!(
                "  N={:>6} at {:>6.1} reports/s: p99 {} < {limit_ms} ms and no loss: {}",
                o.n,
                l.rate,
                fmt_us(l.p99),
                if p99_ok { "MET" } else { "MISSED" }
            );
        }
        let per = (o.rss_idle_kib.saturating_sub(o.rss_before_kib)) as f64 / o.connected.max(1) as f64;
        println!(
            "  N={:>6}: RSS per idle connection {per:.1} KiB < 64 KiB: {}",
            o.n,
            if per < 64.0 { "MET" } else { "MISSED" }
        );
        if let Some(b) = outcomes.iter().find(|b| b.server == Server::Bare.name() && b.n == o.n) {
            let ratio = o.sat_frames_per_s / b.sat_frames_per_s.max(1.0);
            println!(
                "  N={:>6}: fan-out throughput {:.0} / {:.0} frames/s = {ratio:.2}x baseline >= 0.8x: {}",
                o.n,
                o.sat_frames_per_s,
                b.sat_frames_per_s,
                if ratio >= 0.8 { "MET" } else { "MISSED" }
            );
        }
    }
}
