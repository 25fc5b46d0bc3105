//! Two batched SQLite writers with our durability and none of our logic: the floors of the ingest benchmark.
//!
//! Both parse the report as the naive writer does, hand it to one writer thread over a
//! channel, and answer after the group commit (WAL + `synchronous=FULL`) that holds it, as our
//! `core::writer` does. They differ in what a report writes:
//!
//! * **one table**: one row in one table. What a durable, batched intake costs on this
//!   machine when it stores nothing else: the most any design with our durability can reach.
//! * **our schema**: our migrations, and per report the statements our writer runs (numbering
//!   and inserting an incident, or updating the incident it joins; the report row; the event
//!   counter and one or two event rows), with bodies padded to the sizes our rows have. No
//!   classification, dedupe, dispatch or live feed. What the data model itself costs.
//!
//! The writer threads carry our writer thread's name, so the benchmark's per-thread CPU and
//! I/O figures cover them too.

use std::path::Path;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::params;
use tokio::sync::oneshot;

/// Share of reports that join an existing incident. Ours depends on the rate (reports
/// per dedupe window): 75-78 % on a machine that took 5-7 k reports/s, 90-91 % at 11-12 k.
const JOIN_SHARE: f64 = 0.76;
/// A joined incident is one of this many most recent (ours joins active incidents nearby).
const JOINABLE: usize = 2_000;
/// Serialized sizes of our rows in this benchmark's database (bytes): incident, report,
/// `incident_created` event, `report_received` event.
const INCIDENT_BODY: usize = 810;
const REPORT_BODY: usize = 336;
const CREATED_EVENT_BODY: usize = 850;
const RECEIVED_EVENT_BODY: usize = 400;

#[derive(Clone, Copy)]
pub enum Floor {
    OneTable,
    OurSchema,
}

struct Job {
    report: super::Parsed,
    done: oneshot::Sender<()>,
}

/// The floor's route (`POST /floor`), its writer thread started on a new file in `dir`.
pub fn router(dir: &Path, floor: Floor) -> Router {
    let file = dir.join(match floor {
        Floor::OneTable => "floor-one-table.sqlite",
        Floor::OurSchema => "floor-our-schema.sqlite",
    });
    let conn = rusqlite::Connection::open(file).expect("floor database");
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")
        .expect("pragmas");
    match floor {
        Floor::OneTable => conn
            .execute_batch(
                "CREATE TABLE reports (id TEXT PRIMARY KEY, text TEXT NOT NULL, lat REAL, lon REAL, \
                 received_us INTEGER NOT NULL)",
            )
            .expect("floor schema"),
        Floor::OurSchema => {
            let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
            let mut files: Vec<_> = std::fs::read_dir(&migrations)
                .expect("migrations")
                .map(|e| e.expect("migration").path())
                .filter(|p| p.extension().is_some_and(|x| x == "sql"))
                .collect();
            files.sort();
            for file in files {
                conn.execute_batch(&std::fs::read_to_string(&file).expect("migration"))
                    .expect("migration applies");
            }
        }
    }
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name(dispatcher::core::WRITER_THREAD.into())
        .spawn(move || write_batches(conn, floor, rx))
        .expect("floor writer thread");
    Router::new().route("/floor", post(report)).with_state(tx)
}

async fn report(State(tx): State<std::sync::mpsc::Sender<Job>>, body: Bytes) -> (StatusCode, Json<serde_json::Value>) {
    let report = match super::parse_report(&body) {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    let id = report.id.clone();
    let (done, committed) = oneshot::channel();
    let job = Job { report, done };
    if tx.send(job).is_err() || committed.await.is_err() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"error": "writer stopped"})),
        );
    }
    (StatusCode::CREATED, Json(serde_json::json!({"id": id})))
}

/// The writer thread: whatever is queued goes into one transaction, then its senders hear.
fn write_batches(mut conn: rusqlite::Connection, floor: Floor, rx: std::sync::mpsc::Receiver<Job>) {
    let mut model = Model {
        rng: StdRng::seed_from_u64(7),
        incidents: Vec::new(),
    };
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        let txn = conn.transaction().expect("begin");
        let now = chrono::Utc::now().timestamp_micros();
        for job in &batch {
            match floor {
                Floor::OneTable => {
                    txn.prepare_cached(
                        "INSERT INTO reports (id, text, lat, lon, received_us) VALUES (?1, ?2, ?3, ?4, ?5)",
                    )
                    .expect("prepare")
                    .execute(params![
                        job.report.id,
                        job.report.text,
                        job.report.lat,
                        job.report.lon,
                        now
                    ])
                    .expect("insert");
                }
                Floor::OurSchema => model.write(&txn, &job.report, now).expect("our statements"),
            }
        }
        txn.commit().expect("commit");
        for job in batch {
            let _ = job.done.send(());
        }
    }
}

/// What the schema floor keeps between reports: the incidents a report may join.
struct Model {
    rng: StdRng,
    incidents: Vec<String>,
}

impl Model {
    fn padding(&mut self, len: usize) -> String {
        (0..len).map(|_| char::from(self.rng.gen_range(b'a'..=b'z'))).collect()
    }

    /// Our writer's statements for one report, in its order.
    fn write(&mut self, txn: &rusqlite::Transaction<'_>, report: &super::Parsed, now: i64) -> rusqlite::Result<()> {
        let joins = !self.incidents.is_empty() && self.rng.gen_bool(JOIN_SHARE);
        let incident = if joins {
            let recent = self.incidents.len().saturating_sub(JOINABLE);
            let incident = self.incidents[self.rng.gen_range(recent..self.incidents.len())].clone();
            txn.prepare_cached("UPDATE incidents SET reports = reports + 1, updated_us = ?1 WHERE id = ?2")?
                .execute(params![now, incident])?;
            txn.prepare_cached(
                "SELECT number, category, queue, priority, status, outside_badung FROM incidents WHERE id = ?1",
            )?
            .query_row([&incident], |r| r.get::<_, String>(0))?;
            incident
        } else {
            let incident = uuid::Uuid::now_v7().to_string();
            let number: i64 = txn
                .prepare_cached(
                    "INSERT INTO incident_numbers (year, last) VALUES (2026, 1) \
                     ON CONFLICT (year) DO UPDATE SET last = incident_numbers.last + 1 RETURNING last",
                )?
                .query_row([], |r| r.get(0))?;
            let body = self.padding(INCIDENT_BODY);
            txn.prepare_cached(
                "INSERT INTO incidents (id, number, queue, status, active, priority, created_us, updated_us, \
                 body, reports, category, outside_badung) \
                 VALUES (?1, ?2, 'emergency', 'new', 1, 2, ?3, ?3, ?4, 1, 'fire', 0)",
            )?
            .execute(params![incident, format!("BDG-2026-{number:06}"), now, body])?;
            self.incidents.push(incident.clone());
            incident
        };
        let body = format!("{}{:?}{:?}", report.text, report.lat, report.lon);
        let body = format!("{body}{}", self.padding(REPORT_BODY.saturating_sub(body.len())));
        txn.prepare_cached("INSERT INTO reports (id, incident_id, received_us, body) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![report.id, incident, now, body])?;
        let events: i64 = if joins { 1 } else { 2 };
        let last: i64 = txn
            .prepare_cached("UPDATE event_counter SET last_seq = last_seq + ?1 WHERE id = 1 RETURNING last_seq")?
            .query_row([events], |r| r.get(0))?;
        for k in 0..events {
            let (kind, size) = if k == 0 && !joins {
                ("incident_created", CREATED_EVENT_BODY)
            } else {
                ("report_received", RECEIVED_EVENT_BODY)
            };
            let body = self.padding(size);
            txn.prepare_cached(
                "INSERT INTO events (seq, at_us, actor_role, actor_name, kind, incident_id, unit_id, body) \
                 VALUES (?1, ?2, 'integrator', 'bench', ?3, ?4, NULL, ?5)",
            )?
            .execute(params![last - events + 1 + k, now, kind, incident, body])?;
        }
        Ok(())
    }
}
