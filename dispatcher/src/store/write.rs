//! Statements the writer runs inside its transaction: events, incidents, reports, calls, units.
//!
//! Each function takes the writer's connection (inside a savepoint), so a
//! command's statements commit or roll back together with its events.

use chrono::{DateTime, Datelike, Utc};
use incident_types::{Call, EventRecord, Incident, IncidentId, Report, Unit, UnitId, UnitStatus};
use serde::de::DeserializeOwned;
use sqlx::{AnyConnection, Row};

use crate::clock::{from_micros, to_micros};

pub type DbResult<T> = Result<T, sqlx::Error>;

pub(crate) fn decode<T: DeserializeOwned>(body: &str) -> DbResult<T> {
    serde_json::from_str(body).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

pub(crate) fn encode<T: serde::Serialize>(value: &T) -> DbResult<String> {
    serde_json::to_string(value).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// Rows per multi-row `INSERT INTO events` (8 parameters each, well under every backend's limit).
const EVENTS_PER_INSERT: usize = 64;

/// Writes a batch's events with the next sequence numbers, assigning `seq` to each.
///
/// The counter row is updated in the same transaction as the state the events
/// describe: a batch that does not commit gives its numbers back (no gaps), and
/// on PostgreSQL the row lock orders the writers of several dispatcher nodes
/// (sequence order = commit order).
pub async fn append_events(conn: &mut AnyConnection, records: &mut [EventRecord]) -> DbResult<()> {
    if records.is_empty() {
        return Ok(());
    }
    let n = i64::try_from(records.len()).unwrap_or(i64::MAX);
    let last: i64 =
        sqlx::query_scalar("UPDATE event_counter SET last_seq = last_seq + $1 WHERE id = 1 RETURNING last_seq")
            .bind(n)
            .fetch_one(&mut *conn)
            .await?;
    for (seq, r) in (last - n + 1..).zip(records.iter_mut()) {
        r.seq = seq;
    }
    for chunk in records.chunks(EVENTS_PER_INSERT) {
        let mut sql = String::from(
            "INSERT INTO events (seq, at_us, actor_role, actor_name, kind, incident_id, unit_id, body) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * 8;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8
            ));
        }
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q
                .bind(r.seq)
                .bind(to_micros(r.at))
                .bind(r.actor.role.clone())
                .bind(r.actor.name.clone())
                .bind(r.event.kind())
                .bind(r.event.incident_id().map(|id| id.to_string()))
                .bind(r.event.unit_id().map(|id| id.0.clone()))
                .bind(encode(&r.event)?);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The next human incident number of the year, e.g. `BDG-2026-000123`.
pub async fn next_incident_number(conn: &mut AnyConnection, at: DateTime<Utc>) -> DbResult<String> {
    let year = i64::from(at.year());
    let n: i64 = sqlx::query_scalar(
        "INSERT INTO incident_numbers (year, last) VALUES ($1, 1) \
         ON CONFLICT (year) DO UPDATE SET last = incident_numbers.last + 1 RETURNING last",
    )
    .bind(year)
    .fetch_one(&mut *conn)
    .await?;
    Ok(format!("BDG-{year}-{n:06}"))
}

pub async fn insert_incident(conn: &mut AnyConnection, i: &Incident) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO incidents (id, number, queue, status, active, priority, created_us, updated_us, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(i.id.to_string())
    .bind(&i.number)
    .bind(i.queue.as_str())
    .bind(i.status.as_str())
    .bind(i.status.is_active())
    .bind(i64::from(i.priority.level()))
    .bind(to_micros(i.created_at))
    .bind(to_micros(i.updated_at))
    .bind(encode(i)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn update_incident(conn: &mut AnyConnection, i: &Incident) -> DbResult<()> {
    sqlx::query("UPDATE incidents SET queue = $1, status = $2, active = $3, priority = $4, updated_us = $5, body = $6 WHERE id = $7")
        .bind(i.queue.as_str())
        .bind(i.status.as_str())
        .bind(i.status.is_active())
        .bind(i64::from(i.priority.level()))
        .bind(to_micros(i.updated_at))
        .bind(encode(i)?)
        .bind(i.id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn load_incident(conn: &mut AnyConnection, id: IncidentId) -> DbResult<Option<Incident>> {
    let body: Option<String> = sqlx::query_scalar("SELECT body FROM incidents WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    body.map(|b| decode(&b)).transpose()
}

pub async fn insert_report(conn: &mut AnyConnection, r: &Report) -> DbResult<()> {
    sqlx::query("INSERT INTO reports (id, incident_id, received_us, body) VALUES ($1, $2, $3, $4)")
        .bind(r.id.to_string())
        .bind(r.incident_id.to_string())
        .bind(to_micros(r.received_at))
        .bind(encode(r)?)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn load_call(conn: &mut AnyConnection, id: &str) -> DbResult<Option<Call>> {
    let body: Option<String> = sqlx::query_scalar("SELECT body FROM calls WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    body.map(|b| decode(&b)).transpose()
}

pub async fn upsert_call(conn: &mut AnyConnection, c: &Call) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO calls (id, caller, status, offered_us, body) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body",
    )
    .bind(c.id.as_str())
    .bind(&c.caller)
    .bind(c.status.as_str())
    .bind(to_micros(c.offered_at))
    .bind(encode(c)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records that a call event was seen; `false` if the same (call, kind, time) was seen before.
pub async fn record_call_event(
    conn: &mut AnyConnection,
    call_id: &str,
    kind: &str,
    at: DateTime<Utc>,
) -> DbResult<bool> {
    let done = sqlx::query("INSERT INTO call_events (call_id, kind, at_us) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(call_id)
        .bind(kind)
        .bind(to_micros(at))
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn load_unit(conn: &mut AnyConnection, id: &UnitId) -> DbResult<Option<Unit>> {
    let body: Option<String> = sqlx::query_scalar("SELECT body FROM units WHERE id = $1")
        .bind(id.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    body.map(|b| decode(&b)).transpose()
}

pub async fn upsert_unit(conn: &mut AnyConnection, u: &Unit) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO units (id, unit_type, status, incident_id, body) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO UPDATE SET unit_type = excluded.unit_type, status = excluded.status, \
         incident_id = excluded.incident_id, body = excluded.body",
    )
    .bind(u.id.as_str())
    .bind(u.unit_type.as_str())
    .bind(u.status.as_str())
    .bind(u.incident_id.map(|i| i.to_string()))
    .bind(encode(u)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes `unit` only if the stored row still has `expected_status` and
/// `expected_incident`: the conditional update that keeps a unit from being
/// put on two incidents, even by two dispatcher processes at once.
pub async fn update_unit_if(
    conn: &mut AnyConnection,
    unit: &Unit,
    expected_status: UnitStatus,
    expected_incident: Option<IncidentId>,
) -> DbResult<bool> {
    let base = "UPDATE units SET status = $1, incident_id = $2, body = $3 WHERE id = $4 AND status = $5 AND ";
    let query = match expected_incident {
        Some(_) => format!("{base}incident_id = $6"),
        None => format!("{base}incident_id IS NULL"),
    };
    let mut q = sqlx::query(&query)
        .bind(unit.status.as_str())
        .bind(unit.incident_id.map(|i| i.to_string()))
        .bind(encode(unit)?)
        .bind(unit.id.as_str())
        .bind(expected_status.as_str());
    if let Some(expected) = expected_incident {
        q = q.bind(expected.to_string());
    }
    let done = q.execute(&mut *conn).await?;
    Ok(done.rows_affected() == 1)
}

pub async fn insert_position(conn: &mut AnyConnection, unit_id: &UnitId, p: &incident_types::Position) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO unit_positions (unit_id, at_us, lat, lon, accuracy_m, heading_deg, speed_mps) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(unit_id.as_str())
    .bind(to_micros(p.at))
    .bind(p.lat)
    .bind(p.lon)
    .bind(p.accuracy_m)
    .bind(p.heading_deg)
    .bind(p.speed_mps)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An assignment of a unit to an incident, with its acknowledgement deadline.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub unit_id: UnitId,
    pub incident_id: IncidentId,
    pub dispatched_at: DateTime<Utc>,
    pub ack_deadline: DateTime<Utc>,
    pub acked: bool,
    pub overdue: bool,
}

pub async fn insert_assignment(conn: &mut AnyConnection, a: &Assignment) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO assignments (unit_id, incident_id, dispatched_us, ack_deadline_us) VALUES ($1, $2, $3, $4)",
    )
    .bind(a.unit_id.as_str())
    .bind(a.incident_id.to_string())
    .bind(to_micros(a.dispatched_at))
    .bind(to_micros(a.ack_deadline))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The unit's open (not released) assignment, if any.
pub async fn open_assignment(conn: &mut AnyConnection, unit_id: &UnitId) -> DbResult<Option<Assignment>> {
    let row = sqlx::query(
        "SELECT incident_id, dispatched_us, ack_deadline_us, acked_us, overdue_us FROM assignments \
         WHERE unit_id = $1 AND released_us IS NULL ORDER BY dispatched_us DESC LIMIT 1",
    )
    .bind(unit_id.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| assignment_from_row(unit_id.clone(), &r)).transpose()
}

pub(crate) fn assignment_from_row(unit_id: UnitId, r: &sqlx::any::AnyRow) -> DbResult<Assignment> {
    let incident: String = r.try_get("incident_id")?;
    let incident_id = incident
        .parse()
        .map_err(|e: uuid::Error| sqlx::Error::Decode(Box::new(e)))?;
    Ok(Assignment {
        unit_id,
        incident_id,
        dispatched_at: from_micros(r.try_get("dispatched_us")?),
        ack_deadline: from_micros(r.try_get("ack_deadline_us")?),
        acked: r.try_get::<Option<i64>, _>("acked_us")?.is_some(),
        overdue: r.try_get::<Option<i64>, _>("overdue_us")?.is_some(),
    })
}

/// Sets one of the assignment's time columns if it is still empty; `true` if it was set.
pub async fn mark_assignment(
    conn: &mut AnyConnection,
    unit_id: &UnitId,
    incident_id: IncidentId,
    column: AssignmentMark,
    at: DateTime<Utc>,
) -> DbResult<bool> {
    let sql = match column {
        AssignmentMark::Acknowledged => {
            "UPDATE assignments SET acked_us = $1 WHERE unit_id = $2 AND incident_id = $3 AND released_us IS NULL AND acked_us IS NULL"
        }
        AssignmentMark::Overdue => {
            "UPDATE assignments SET overdue_us = $1 WHERE unit_id = $2 AND incident_id = $3 AND released_us IS NULL AND acked_us IS NULL AND overdue_us IS NULL"
        }
        AssignmentMark::Released => {
            "UPDATE assignments SET released_us = $1 WHERE unit_id = $2 AND incident_id = $3 AND released_us IS NULL"
        }
    };
    let done = sqlx::query(sql)
        .bind(to_micros(at))
        .bind(unit_id.as_str())
        .bind(incident_id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() >= 1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentMark {
    Acknowledged,
    Overdue,
    Released,
}

/// A stored answer to an idempotent request.
pub async fn idempotent_response(
    conn: &mut AnyConnection,
    principal: &str,
    key: &str,
) -> DbResult<Option<(String, String)>> {
    let row = sqlx::query("SELECT fingerprint, response FROM idempotency WHERE principal = $1 AND key = $2")
        .bind(principal)
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| Ok((r.try_get("fingerprint")?, r.try_get("response")?)))
        .transpose()
}

pub async fn store_idempotent_response(
    conn: &mut AnyConnection,
    principal: &str,
    key: &str,
    fingerprint: &str,
    response: &str,
    at: DateTime<Utc>,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO idempotency (principal, key, fingerprint, response, created_us) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(principal)
    .bind(key)
    .bind(fingerprint)
    .bind(response)
    .bind(to_micros(at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn reports_of(conn: &mut AnyConnection, incident: IncidentId) -> DbResult<Vec<Report>> {
    let rows: Vec<String> = sqlx::query_scalar("SELECT body FROM reports WHERE incident_id = $1 ORDER BY received_us")
        .bind(incident.to_string())
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(|b| decode(b)).collect()
}

pub async fn load_report(conn: &mut AnyConnection, id: incident_types::ReportId) -> DbResult<Option<Report>> {
    let body: Option<String> = sqlx::query_scalar("SELECT body FROM reports WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    body.map(|b| decode(&b)).transpose()
}

/// Moves a report to another incident.
pub async fn move_report(conn: &mut AnyConnection, report: &Report) -> DbResult<()> {
    sqlx::query("UPDATE reports SET incident_id = $1, body = $2 WHERE id = $3")
        .bind(report.incident_id.to_string())
        .bind(encode(report)?)
        .bind(report.id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}
