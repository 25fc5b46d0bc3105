//! Nearest available unit, and position updates: the in-memory `UnitIndex` against a
//! brute-force scan, Redis GEO and PostGIS, on the same data in the same run.
//!
//! For each fleet size (default 1,000 / 10,000 / 100,000 units, random positions over
//! Badung's bounding box, 7 unit types, ~70% available) the same random query points and
//! types go to:
//!
//! * `UnitIndex::nearest(type, lat, lon, 1, &[])` (the dispatcher's R-tree, in process);
//! * a brute-force scan of every `Unit` (filter type + available, haversine distance);
//! * a tighter brute-force scan of a flat array (type, available, unit-sphere xyz; squared
//!   chord distance) for reference;
//! * Redis `GEOSEARCH key FROMLONLAT lon lat BYRADIUS 100 km ASC COUNT 1` on one key per type
//!   holding only the available units (one client, sequential round trips over loopback);
//! * PostGIS `SELECT id FROM bench_units WHERE unit_type=$1 AND available ORDER BY geom <->
//!   point LIMIT 1` with a GiST index (prepared statement, one connection, sequential).
//!
//! Then position updates per second: `UnitIndex::apply(&Event::UnitMoved)` in process, Redis
//! `GEOADD` (one client, sequential), and `POST /api/v1/units/{id}/position` on an in-process
//! `App` (fresh SQLite, concurrent keep-alive clients).
//!
//! Redis and PostGIS come from `BENCH_REDIS_URL` (e.g. `redis://127.0.0.1:6390/`) and
//! `BENCH_POSTGIS_URL` (e.g. `host=127.0.0.1 port=5490 user=postgres dbname=bench`); when unset
//! those comparisons are skipped and said so. `dispatcher/benches/run.sh` sets both.
//! Other knobs: `BENCH_SIZES` (1000,10000,100000), `BENCH_QUERIES` (20000),
//! `BENCH_REMOTE_QUERIES` (5000), `BENCH_CONNECTIONS` (64), `BENCH_SECONDS` (10),
//! `BENCH_WARMUP_S` (2), `BENCH_TMPDIR`.

#[path = "support/http.rs"]
mod http;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use dispatcher::app::{App, Settings};
use dispatcher::dispatch::index::{distance_m, to_xyz, UnitIndex};
use http::{connect, post_json, Sender};
use incident_types::{Event, Position, Unit, UnitId, UnitStatus, UnitType};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const LAT: std::ops::Range<f64> = -8.85..-8.35;
const LON: std::ops::Range<f64> = 115.10..115.25;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn position(rng: &mut StdRng) -> Position {
    Position {
        lat: rng.gen_range(LAT),
        lon: rng.gen_range(LON),
        accuracy_m: Some(5.0),
        heading_deg: None,
        speed_mps: None,
        at: Utc::now(),
    }
}

fn gen_units(n: usize, rng: &mut StdRng) -> Vec<Unit> {
    let busy = [
        UnitStatus::Dispatched,
        UnitStatus::EnRoute,
        UnitStatus::OnScene,
        UnitStatus::Returning,
        UnitStatus::OutOfService,
    ];
    (0..n)
        .map(|i| {
            let status = if rng.gen_bool(0.7) {
                UnitStatus::Available
            } else {
                busy[rng.gen_range(0..busy.len())]
            };
            Unit {
                id: UnitId(format!("u{i:06}")),
                call_sign: format!("BDG-{i}"),
                unit_type: UnitType::ALL[rng.gen_range(0..UnitType::ALL.len())],
                capabilities: vec![],
                station: format!("station-{}", i % 40),
                status,
                position: Some(position(rng)),
                incident_id: None,
                updated_at: Utc::now(),
            }
        })
        .collect()
}

#[derive(Clone, Copy)]
struct Query {
    unit_type: UnitType,
    lat: f64,
    lon: f64,
}

fn is_avail(u: &Unit) -> bool {
    u.status == UnitStatus::Available && u.position.is_some()
}

/// The baseline the brief names: every unit, filter, haversine, minimum.
fn brute_force<'a>(units: &'a [Unit], q: &Query) -> Option<&'a UnitId> {
    units
        .iter()
        .filter(|u| u.unit_type == q.unit_type && is_avail(u))
        .filter_map(|u| {
            let p = u.position.as_ref()?;
            Some((u, distance_m(q.lat, q.lon, p.lat, p.lon)))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(u, _)| &u.id)
}

/// A tighter scan: a flat array of (type, available, xyz), squared chord distance.
struct Flat {
    rows: Vec<(UnitType, bool, [f64; 3])>,
}

impl Flat {
    fn new(units: &[Unit]) -> Flat {
        Flat {
            rows: units
                .iter()
                .map(|u| {
                    let p = u.position.as_ref().expect("position");
                    (u.unit_type, is_avail(u), to_xyz(p.lat, p.lon))
                })
                .collect(),
        }
    }
    fn nearest(&self, q: &Query) -> Option<usize> {
        let t = to_xyz(q.lat, q.lon);
        let mut best = (f64::INFINITY, None);
        for (i, (ty, avail, x)) in self.rows.iter().enumerate() {
            if *ty == q.unit_type && *avail {
                let d = (x[0] - t[0]).powi(2) + (x[1] - t[1]).powi(2) + (x[2] - t[2]).powi(2);
                if d < best.0 {
                    best = (d, Some(i));
                }
            }
        }
        best.1
    }
}

#[derive(Clone, Copy)]
struct Summary {
    n: usize,
    mean: Duration,
    p50: Duration,
    p99: Duration,
}

fn summarize(mut samples: Vec<Duration>) -> Summary {
    let n = samples.len();
    if n == 0 {
        return Summary {
            n,
            mean: Duration::ZERO,
            p50: Duration::ZERO,
            p99: Duration::ZERO,
        };
    }
    let mean = samples.iter().sum::<Duration>() / n as u32;
    samples.sort_unstable();
    let p50 = samples[((n as f64 - 1.0) * 0.50).round() as usize];
    let p99 = samples[((n as f64 - 1.0) * 0.99).round() as usize];
    Summary { n, mean, p50, p99 }
}

fn fmt_d(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1e-3 {
        format!("{:.2} µs", s * 1e6)
    } else {
        format!("{:.3} ms", s * 1e3)
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT MET"
    }
}

// ---------------------------------------------------------------- Redis

struct RedisBench {
    con: redis::Connection,
}

fn type_key(t: UnitType) -> String {
    format!("bench:units:{}", t.as_str())
}

impl RedisBench {
    fn connect(url: &str) -> redis::RedisResult<RedisBench> {
        let client = redis::Client::open(url)?;
        let con = client.get_connection()?;
        Ok(RedisBench { con })
    }

    fn load(&mut self, units: &[Unit]) -> redis::RedisResult<()> {
        redis::cmd("FLUSHDB").query::<()>(&mut self.con)?;
        for chunk in units.chunks(2000) {
            let mut pipe = redis::pipe();
            for t in UnitType::ALL {
                let members: Vec<&Unit> = chunk.iter().filter(|u| u.unit_type == *t && is_avail(u)).collect();
                if members.is_empty() {
                    continue;
                }
                let mut cmd = redis::cmd("GEOADD");
                cmd.arg(type_key(*t));
                for u in members {
                    let p = u.position.as_ref().expect("position");
                    cmd.arg(p.lon).arg(p.lat).arg(u.id.as_str());
                }
                pipe.add_command(cmd).ignore();
            }
            pipe.query::<()>(&mut self.con)?;
        }
        Ok(())
    }

    fn nearest(&mut self, q: &Query, radius_km: u32) -> redis::RedisResult<Option<String>> {
        let ids: Vec<String> = redis::cmd("GEOSEARCH")
            .arg(type_key(q.unit_type))
            .arg("FROMLONLAT")
            .arg(q.lon)
            .arg(q.lat)
            .arg("BYRADIUS")
            .arg(radius_km)
            .arg("km")
            .arg("ASC")
            .arg("COUNT")
            .arg(1)
            .query(&mut self.con)?;
        Ok(ids.into_iter().next())
    }

    fn geoadd(&mut self, t: UnitType, id: &str, lat: f64, lon: f64) -> redis::RedisResult<()> {
        redis::cmd("GEOADD")
            .arg(type_key(t))
            .arg(lon)
            .arg(lat)
            .arg(id)
            .query::<i64>(&mut self.con)
            .map(|_| ())
    }
}

// ---------------------------------------------------------------- PostGIS

struct PgBench {
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl PgBench {
    fn connect(conninfo: &str) -> Result<PgBench, tokio_postgres::Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("pg runtime");
        let client = rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    eprintln!("postgres connection: {e}");
                }
            });
            client.batch_execute("CREATE EXTENSION IF NOT EXISTS postgis").await?;
            Ok::<_, tokio_postgres::Error>(client)
        })?;
        Ok(PgBench { rt, client })
    }

    fn load(&self, units: &[Unit]) -> Result<String, tokio_postgres::Error> {
        self.rt.block_on(async {
            let c = &self.client;
            c.batch_execute(
                "DROP TABLE IF EXISTS bench_units;
                 CREATE TABLE bench_units (
                     id text PRIMARY KEY,
                     unit_type text NOT NULL,
                     available boolean NOT NULL,
                     geom geometry(Point, 4326) NOT NULL)",
            )
            .await?;
            let insert = c
                .prepare(
                    "INSERT INTO bench_units (id, unit_type, available, geom)
                     SELECT id, t, a, ST_SetSRID(ST_MakePoint(lon, lat), 4326)
                     FROM unnest($1::text[], $2::text[], $3::bool[], $4::float8[], $5::float8[])
                          AS u(id, t, a, lon, lat)",
                )
                .await?;
            for chunk in units.chunks(10_000) {
                let ids: Vec<&str> = chunk.iter().map(|u| u.id.as_str()).collect();
                let types: Vec<&str> = chunk.iter().map(|u| u.unit_type.as_str()).collect();
                let avail: Vec<bool> = chunk.iter().map(is_avail).collect();
                let lons: Vec<f64> = chunk
                    .iter()
                    .map(|u| u.position.as_ref().map_or(0.0, |p| p.lon))
                    .collect();
                let lats: Vec<f64> = chunk
                    .iter()
                    .map(|u| u.position.as_ref().map_or(0.0, |p| p.lat))
                    .collect();
                c.execute(&insert, &[&ids, &types, &avail, &lons, &lats]).await?;
            }
            c.batch_execute(
                "CREATE INDEX bench_units_geom ON bench_units USING gist (geom);
                 ANALYZE bench_units;",
            )
            .await?;
            let plan = c
                .query(
                    &format!(
                        "EXPLAIN {}",
                        PG_NEAREST
                            .replace("$1", "'fire'")
                            .replace("$2", "115.17")
                            .replace("$3", "-8.7")
                    ),
                    &[],
                )
                .await?;
            Ok(plan
                .iter()
                .map(|r| r.get::<_, String>(0).trim().to_owned())
                .collect::<Vec<_>>()
                .join(" / "))
        })
    }

    /// Times each query; returns the samples and the answers.
    fn run(&self, queries: &[Query]) -> Result<(Vec<Duration>, Vec<Option<String>>), tokio_postgres::Error> {
        self.rt.block_on(async {
            let stmt = self.client.prepare(PG_NEAREST).await?;
            // Warm-up.
            for q in queries.iter().take(200) {
                self.client
                    .query_opt(&stmt, &[&q.unit_type.as_str(), &q.lon, &q.lat])
                    .await?;
            }
            let mut samples = Vec::with_capacity(queries.len());
            let mut answers = Vec::with_capacity(queries.len());
            for q in queries {
                let t = Instant::now();
                let row = self
                    .client
                    .query_opt(&stmt, &[&q.unit_type.as_str(), &q.lon, &q.lat])
                    .await?;
                samples.push(t.elapsed());
                answers.push(row.map(|r| r.get::<_, String>(0)));
            }
            Ok((samples, answers))
        })
    }
}

const PG_NEAREST: &str = "SELECT id FROM bench_units WHERE unit_type = $1 AND available \
     ORDER BY geom <-> ST_SetSRID(ST_MakePoint($2::float8, $3::float8), 4326) LIMIT 1";

// ---------------------------------------------------------------- HTTP client (as in ingest.rs)

async fn post(sender: &mut Sender, path: &str, auth: &str, body: Bytes) -> (bool, Bytes) {
    post_json(sender, path, Some(auth), body).await
}

struct HttpResult {
    rate: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
    first_error: Option<String>,
    answered: usize,
}

/// Registers `units` units, then has `conns` connections post positions for their own
/// share of the units in a closed loop.
fn http_position_updates(units: usize, conns: usize, warmup: Duration, measure: Duration) -> HttpResult {
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("server")
        .enable_all()
        .build()
        .expect("server runtime");
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("client")
        .enable_all()
        .build()
        .expect("client runtime");
    let tmp_parent = std::env::var("BENCH_TMPDIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir());
    let dir = tempfile::Builder::new()
        .prefix("nearest-bench-")
        .tempdir_in(tmp_parent)
        .expect("temp dir");
    let (app, token) = server_rt.block_on(async {
        let settings = Settings::new("127.0.0.1:0".parse().expect("addr"), dir.path().join("data"));
        let token = dispatcher::cli::create_token(&settings, "dispatcher", None, Some("bench"))
            .await
            .expect("token");
        (App::start(settings).await.expect("app"), token)
    });
    let addr = app.addr;
    let auth = Arc::new(format!("Bearer {token}"));

    let result = client_rt.block_on(async move {
        // Register the units, concurrently.
        let mut tasks = Vec::new();
        for c in 0..conns {
            let auth = auth.clone();
            tasks.push(tokio::spawn(async move {
                let mut s = connect(addr).await;
                let mut rng = StdRng::seed_from_u64(c as u64);
                for i in (c..units).step_by(conns) {
                    let body = serde_json::json!({
                        "id": format!("u{i:05}"),
                        "call_sign": format!("BDG-{i}"),
                        "unit_type": UnitType::ALL[i % UnitType::ALL.len()].as_str(),
                        "station": "bench",
                        "position": position(&mut rng),
                    });
                    let (ok, resp) = post(&mut s, "/api/v1/units", &auth, Bytes::from(body.to_string())).await;
                    assert!(ok, "register: {}", String::from_utf8_lossy(&resp));
                }
            }));
        }
        for t in tasks {
            t.await.expect("register task");
        }

        let start = Instant::now();
        let from = start + warmup;
        let end = from + measure;
        let mut tasks = Vec::new();
        for c in 0..conns {
            let auth = auth.clone();
            tasks.push(tokio::spawn(async move {
                let mut s = connect(addr).await;
                let mut rng = StdRng::seed_from_u64(1000 + c as u64);
                let mine: Vec<usize> = (c..units).step_by(conns).collect();
                let paths: Vec<String> = mine.iter().map(|i| format!("/api/v1/units/u{i:05}/position")).collect();
                let mut lat = Vec::new();
                let mut errors = 0u64;
                let mut first_error = None;
                let mut k = 0usize;
                loop {
                    let path = &paths[k % paths.len()];
                    k += 1;
                    let body = Bytes::from(serde_json::to_vec(&position(&mut rng)).expect("json"));
                    let sent = Instant::now();
                    if sent >= end {
                        break;
                    }
                    let (ok, resp) = post(&mut s, path, &auth, body).await;
                    let done = Instant::now();
                    if sent >= from && done <= end {
                        if ok {
                            lat.push(done - sent);
                        } else {
                            errors += 1;
                            if first_error.is_none() {
                                first_error =
                                    Some(String::from_utf8_lossy(&resp).chars().take(300).collect::<String>());
                            }
                        }
                    }
                    if !ok && resp.as_ref() == b"connection closed" {
                        s = connect(addr).await;
                    }
                }
                (lat, errors, first_error)
            }));
        }
        let mut all = Vec::new();
        let mut errors = 0;
        let mut first_error = None;
        for t in tasks {
            let (l, e, f) = t.await.expect("client task");
            all.extend(l);
            errors += e;
            first_error = first_error.or(f);
        }
        all.sort_unstable();
        let at = |q: f64| {
            all.get(((all.len().max(1) - 1) as f64 * q).round() as usize)
                .copied()
                .unwrap_or_default()
        };
        HttpResult {
            rate: all.len() as f64 / measure.as_secs_f64(),
            p50: at(0.5),
            p99: at(0.99),
            errors,
            first_error,
            answered: all.len(),
        }
    });

    // The index followed the API.
    let moved = app
        .state
        .domain
        .units
        .units()
        .iter()
        .filter(|u| {
            u.position
                .as_ref()
                .is_some_and(|p| (Utc::now() - p.at).num_seconds() < 60)
        })
        .count();
    println!("(http) units whose indexed position is under a minute old after the run: {moved}/{units}");
    server_rt.block_on(async { app.shutdown().await.expect("shutdown") });
    drop(client_rt);
    server_rt.shutdown_timeout(Duration::from_secs(2));
    result
}

// ---------------------------------------------------------------- main

fn main() {
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "1000,10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let n_queries: usize = env_or("BENCH_QUERIES", 20_000);
    let n_remote: usize = env_or("BENCH_REMOTE_QUERIES", 5_000);
    let conns: usize = env_or("BENCH_CONNECTIONS", 64);
    let warmup = Duration::from_secs_f64(env_or("BENCH_WARMUP_S", 2.0));
    let measure = Duration::from_secs_f64(env_or("BENCH_SECONDS", 10.0));

    let mut redis = match std::env::var("BENCH_REDIS_URL") {
        Ok(url) => match RedisBench::connect(&url) {
            Ok(r) => Some(r),
            Err(e) => panic!("BENCH_REDIS_URL={url}: {e}"),
        },
        Err(_) => {
            println!("BENCH_REDIS_URL not set: Redis comparisons SKIPPED");
            None
        }
    };
    let pg = match std::env::var("BENCH_POSTGIS_URL") {
        Ok(url) => match PgBench::connect(&url) {
            Ok(p) => Some(p),
            Err(e) => panic!("BENCH_POSTGIS_URL={url}: {e}"),
        },
        Err(_) => {
            println!("BENCH_POSTGIS_URL not set: PostGIS comparisons SKIPPED");
            None
        }
    };

    println!("# Nearest-unit benchmark");
    println!(
        "units over lat {:?} lon {:?}, {} types, ~70% available; {n_queries} query points (random type each); \
         brute force runs the first 50M/n of them, Redis/PostGIS the first {n_remote}; one thread, sequential",
        LAT,
        LON,
        UnitType::ALL.len()
    );

    let mut rng = StdRng::seed_from_u64(20_260_112);
    let mut last_index = None;
    let mut last_units = Vec::new();
    for &n in &sizes {
        let units = gen_units(n, &mut rng);
        let available = units.iter().filter(|u| is_avail(u)).count();
        let queries: Vec<Query> = (0..n_queries)
            .map(|_| Query {
                unit_type: UnitType::ALL[rng.gen_range(0..UnitType::ALL.len())],
                lat: rng.gen_range(LAT),
                lon: rng.gen_range(LON),
            })
            .collect();
        let n_brute = (50_000_000 / n).clamp(200, n_queries);

        let idx = UnitIndex::new(false);
        let t = Instant::now();
        idx.load(units.clone());
        let load_time = t.elapsed();

        // Index.
        for q in queries.iter().take(1000) {
            black_box(idx.nearest(q.unit_type, q.lat, q.lon, 1, &[]));
        }
        let mut s_idx = Vec::with_capacity(queries.len());
        let mut a_idx = Vec::with_capacity(queries.len());
        for q in &queries {
            let t = Instant::now();
            let r = black_box(idx.nearest(q.unit_type, q.lat, q.lon, 1, &[]));
            s_idx.push(t.elapsed());
            a_idx.push(r.into_iter().next().map(|nb| nb.unit.id.0));
        }

        // Brute force (haversine over Vec<Unit>).
        let mut s_brute = Vec::with_capacity(n_brute);
        let mut disagree = 0usize;
        for (i, q) in queries.iter().take(n_brute).enumerate() {
            let t = Instant::now();
            let r = black_box(brute_force(&units, q));
            s_brute.push(t.elapsed());
            if r.map(|id| id.0.as_str()) != a_idx[i].as_deref() {
                disagree += 1;
            }
        }
        // Flat scan.
        let flat = Flat::new(&units);
        let mut s_flat = Vec::with_capacity(n_brute);
        for (i, q) in queries.iter().take(n_brute).enumerate() {
            let t = Instant::now();
            let r = black_box(flat.nearest(q));
            s_flat.push(t.elapsed());
            if r.map(|k| units[k].id.0.as_str()) != a_idx[i].as_deref() {
                disagree += 1;
            }
        }

        let mut rows: Vec<(String, Summary, Option<f64>, &str)> = Vec::new();
        let idx_sum = summarize(s_idx);
        rows.push(("UnitIndex::nearest (R-tree, in process)".into(), idx_sum, None, ""));
        rows.push((
            "brute force: Vec<Unit>, haversine".into(),
            summarize(s_brute),
            Some(30.0),
            "",
        ));
        rows.push((
            "brute force: flat array, chord² (reference)".into(),
            summarize(s_flat),
            None,
            "",
        ));

        let remote_q = &queries[..n_remote.min(queries.len())];
        let mut remote_agree = Vec::new();
        if let Some(r) = redis.as_mut() {
            let t = Instant::now();
            r.load(&units).expect("redis load");
            let redis_load = t.elapsed();
            for q in remote_q.iter().take(200) {
                r.nearest(q, 100).expect("redis query");
            }
            // As specified (100 km: every unit of the type in Badung is a candidate), then a
            // tighter 5 km radius for reference (faster, but may find nothing far out).
            for (radius, target) in [(100u32, Some(20.0)), (5, None)] {
                let mut s = Vec::with_capacity(remote_q.len());
                let mut agree = 0;
                for (i, q) in remote_q.iter().enumerate() {
                    let t = Instant::now();
                    let ans = r.nearest(q, radius).expect("redis query");
                    s.push(t.elapsed());
                    if ans.as_deref() == a_idx[i].as_deref() {
                        agree += 1;
                    }
                }
                remote_agree.push(format!(
                    "Redis {radius} km {agree}/{} (loaded in {:.2?})",
                    remote_q.len(),
                    redis_load
                ));
                let name = if radius == 100 {
                    "Redis GEOSEARCH 100 km (loopback, sequential)".to_owned()
                } else {
                    format!("Redis GEOSEARCH {radius} km (reference)")
                };
                rows.push((name, summarize(s), target, ""));
            }
        } else {
            rows.push(("Redis GEOSEARCH".into(), summarize(Vec::new()), Some(20.0), "SKIPPED"));
        }
        if let Some(p) = pg.as_ref() {
            let t = Instant::now();
            let plan = p.load(&units).expect("postgis load");
            let pg_load = t.elapsed();
            let (s, answers) = p.run(remote_q).expect("postgis query");
            let agree = answers
                .iter()
                .zip(&a_idx)
                .filter(|(a, b)| a.as_deref() == b.as_deref())
                .count();
            remote_agree.push(format!(
                "PostGIS {agree}/{} (loaded+indexed in {:.2?}; plan: {plan})",
                remote_q.len(),
                pg_load
            ));
            rows.push((
                "PostGIS KNN <-> (GiST, prepared, sequential)".into(),
                summarize(s),
                Some(100.0),
                "",
            ));
        } else {
            rows.push(("PostGIS KNN <->".into(), summarize(Vec::new()), Some(100.0), "SKIPPED"));
        }

        println!();
        println!(
            "## {n} units ({available} available), index bulk-loaded in {:.2?}",
            load_time
        );
        println!(
            "| {:<46} | {:>7} | {:>11} | {:>11} | {:>11} | {:>13} | {:>11} | {:>11} | {:>11} | {:<8} |",
            "method", "queries", "mean", "p50", "p99", "× mean", "× p50", "× p99", "target", "verdict"
        );
        println!(
            "|{:-<48}|{:->9}|{:->13}|{:->13}|{:->13}|{:->15}|{:->13}|{:->13}|{:->13}|{:-<10}|",
            "", "", "", "", "", "", "", "", "", ""
        );
        let largest = n == *sizes.iter().max().unwrap_or(&n) && n >= 100_000;
        for (name, s, target, skipped) in &rows {
            if !skipped.is_empty() {
                println!(
                    "| {:<46} | {:>7} | {:>11} | {:>11} | {:>11} | {:>13} | {:>11} | {:>11} | {:>11} | {:<8} |",
                    name,
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    target.map(|t| format!(">= {t:.0}x")).unwrap_or_default(),
                    "SKIPPED"
                );
                continue;
            }
            let ratio = s.mean.as_secs_f64() / idx_sum.mean.as_secs_f64();
            let p99_ratio = s.p99.as_secs_f64() / idx_sum.p99.as_secs_f64();
            let p50_ratio = s.p50.as_secs_f64() / idx_sum.p50.as_secs_f64();
            let is_idx = name.starts_with("UnitIndex");
            let (tgt, ver) = match target {
                Some(t) if largest => (format!(">= {t:.0}x"), verdict(ratio >= *t).to_owned()),
                Some(t) => (format!("({t:.0}x@100k)"), String::new()),
                None => (String::new(), String::new()),
            };
            println!(
                "| {:<46} | {:>7} | {:>11} | {:>11} | {:>11} | {:>13} | {:>11} | {:>11} | {:>11} | {:<8} |",
                name,
                s.n,
                fmt_d(s.mean),
                fmt_d(s.p50),
                fmt_d(s.p99),
                if is_idx { "1".to_owned() } else { format!("{ratio:.1}") },
                if is_idx {
                    "1".to_owned()
                } else {
                    format!("{p50_ratio:.1}")
                },
                if is_idx {
                    "1".to_owned()
                } else {
                    format!("{p99_ratio:.1}")
                },
                tgt,
                ver
            );
        }
        println!(
            "answers: brute-force scans disagree with the index on {disagree} of {} queries; same answer as the index: {}",
            2 * n_brute,
            if remote_agree.is_empty() { "-".into() } else { remote_agree.join("; ") }
        );
        last_index = Some(idx);
        last_units = units;
    }

    // ------------------------------------------------------------ position updates
    let Some(idx) = last_index else { return };
    let n = last_units.len();
    let n_updates = 500_000usize;
    let events: Vec<Event> = (0..n_updates)
        .map(|_| {
            let u = &last_units[rng.gen_range(0..n)];
            Event::UnitMoved {
                unit_id: u.id.clone(),
                position: position(&mut rng),
            }
        })
        .collect();
    for e in events.iter().take(10_000) {
        idx.apply(e);
    }
    let t = Instant::now();
    for e in &events {
        idx.apply(black_box(e));
    }
    let apply_elapsed = t.elapsed();
    let apply_rate = n_updates as f64 / apply_elapsed.as_secs_f64();

    let redis_rate = redis.as_mut().map(|r| {
        let avail: Vec<&Unit> = last_units.iter().filter(|u| is_avail(u)).collect();
        let moves: Vec<(UnitType, &str, f64, f64)> = (0..30_000)
            .map(|_| {
                let u = avail[rng.gen_range(0..avail.len())];
                (u.unit_type, u.id.as_str(), rng.gen_range(LAT), rng.gen_range(LON))
            })
            .collect();
        for m in moves.iter().take(1000) {
            r.geoadd(m.0, m.1, m.2, m.3).expect("geoadd");
        }
        let t = Instant::now();
        for m in &moves {
            r.geoadd(m.0, m.1, m.2, m.3).expect("geoadd");
        }
        moves.len() as f64 / t.elapsed().as_secs_f64()
    });

    let http_units = 1000;
    let http = http_position_updates(http_units, conns, warmup, measure);

    println!();
    println!("## Position updates ({n} units in the index)");
    println!("| path | updates/s | notes | target | verdict |");
    println!("|---|---|---|---|---|");
    println!(
        "| UnitIndex::apply(UnitMoved), in process, 1 thread | {:.0} | {} events, {:.0} ns each | >= 10x Redis GEOADD | {} |",
        apply_rate,
        n_updates,
        apply_elapsed.as_secs_f64() * 1e9 / n_updates as f64,
        redis_rate.map_or("SKIPPED".to_owned(), |r| format!(
            "{} ({:.1}x)",
            verdict(apply_rate >= 10.0 * r),
            apply_rate / r
        ))
    );
    match redis_rate {
        Some(r) => println!("| Redis GEOADD, 1 client, sequential round trips | {r:.0} | 30000 moves | | |"),
        None => println!("| Redis GEOADD | SKIPPED | BENCH_REDIS_URL not set | | |"),
    }
    println!(
        "| POST /api/v1/units/{{id}}/position, {conns} keep-alive clients, {http_units} units, durable (SQLite) | {:.0} | p50 {} p99 {}, {} answered, {} errors | (no target) | |",
        http.rate,
        fmt_d(http.p50),
        fmt_d(http.p99),
        http.answered,
        http.errors
    );
    if let Some(e) = http.first_error {
        println!("first HTTP error: {e}");
    }
}
