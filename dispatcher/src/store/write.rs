//! Statements the writer runs inside its transaction: events, incidents, reports, calls, units.
//!
//! Each function takes the writer's connection (inside a savepoint), so a
//! command's statements commit or roll back together with its events. The SQL
//! is the same for SQLite and PostgreSQL; [`super::sql`] runs it on either.

use chrono::{DateTime, Datelike, Utc};
use incident_types::{
    Call, Category, EventRecord, Incident, IncidentId, IncidentStatus, Priority, Queue, Report, Unit, UnitId,
    UnitStatus,
};
use serde::de::DeserializeOwned;

use super::sql::{execute, fetch_all, fetch_one, fetch_optional, Row, Value, WriteConn};
use crate::clock::{from_micros, to_micros};

pub type DbResult<T> = Result<T, sqlx::Error>;

pub(crate) fn decode<T: DeserializeOwned>(body: &str) -> DbResult<T> {
    serde_json::from_str(body).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

pub(crate) fn encode<T: serde::Serialize>(value: &T) -> DbResult<String> {
    serde_json::to_string(value).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// Decodes the JSON `body` in the first column of a row, if there is a row.
fn decode_body<T: DeserializeOwned>(row: Option<Row>) -> DbResult<Option<T>> {
    row.map(|r| decode(&r.text(0)?)).transpose()
}

/// Rows per multi-row `INSERT INTO events` (8 parameters each, well under every backend's limit).
const EVENTS_PER_INSERT: usize = 64;

/// An event as the log holds it: the record and its `body` column, the
/// event's JSON, which the live feed embeds in its frames as it is rather than
/// serialising the event a second time.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub record: EventRecord,
    pub body: String,
}

impl StoredEvent {
    pub fn new(record: EventRecord) -> DbResult<StoredEvent> {
        let body = encode(&record.event)?;
        Ok(StoredEvent { record, body })
    }
}

/// Writes a batch's events with the next sequence numbers, assigning `seq` to each.
///
/// The counter row is updated in the same transaction as the state the events
/// describe: a batch that does not commit gives its numbers back (no gaps), and
/// on PostgreSQL the row lock orders the writers of several dispatcher nodes
/// (sequence order = commit order).
pub async fn append_events(conn: &mut WriteConn<'_>, records: Vec<EventRecord>) -> DbResult<Vec<StoredEvent>> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let n = i64::try_from(records.len()).unwrap_or(i64::MAX);
    let last = fetch_one(
        conn,
        "UPDATE event_counter SET last_seq = last_seq + $1 WHERE id = 1 RETURNING last_seq",
        &[n.into()],
    )
    .await?
    .int(0)?;
    let events = (last - n + 1..)
        .zip(records)
        .map(|(seq, record)| StoredEvent::new(EventRecord { seq, ..record }))
        .collect::<DbResult<Vec<_>>>()?;
    for chunk in events.chunks(EVENTS_PER_INSERT) {
        let mut params = Vec::with_capacity(chunk.len() * 8);
        for StoredEvent { record: r, body } in chunk {
            params.extend([
                Value::Int(r.seq),
                Value::Int(to_micros(r.at)),
                Value::Text(r.actor.role.clone()),
                Value::Text(r.actor.name.clone()),
                Value::from(r.event.kind()),
                Value::from(r.event.incident_id().map(|id| id.to_string())),
                Value::from(r.event.unit_id().map(|id| id.0.clone())),
                Value::Text(body.clone()),
            ]);
        }
        execute(conn, &insert_events_sql(chunk.len()), &params).await?;
    }
    Ok(events)
}

/// `INSERT INTO events ... VALUES ($1, ..., $8), ($9, ...)` for `rows` rows.
fn insert_events_sql(rows: usize) -> String {
    use std::fmt::Write as _;
    let mut sql = String::from(
        "INSERT INTO events (seq, at_us, actor_role, actor_name, kind, incident_id, unit_id, body) VALUES ",
    );
    for i in 0..rows {
        let b = i * 8;
        let sep = if i > 0 { ", " } else { "" };
        let _ = write!(
            sql,
            "{sep}(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
            b + 1,
            b + 2,
            b + 3,
            b + 4,
            b + 5,
            b + 6,
            b + 7,
            b + 8
        );
    }
    sql
}

/// The next human incident number of the year, e.g. `BDG-2026-000123`.
pub async fn next_incident_number(conn: &mut WriteConn<'_>, at: DateTime<Utc>) -> DbResult<String> {
    let year = i64::from(at.year());
    let n = fetch_one(
        conn,
        "INSERT INTO incident_numbers (year, last) VALUES ($1, 1) \
         ON CONFLICT (year) DO UPDATE SET last = incident_numbers.last + 1 RETURNING last",
        &[year.into()],
    )
    .await?
    .int(0)?;
    Ok(format!("BDG-{year}-{n:06}"))
}

/// The columns an incident is read from: the JSON body, and the columns
/// that are newer than it (see [`incident_from`]).
pub(crate) const INCIDENT_COLUMNS: &str = "body, reports, updated_us";

/// An incident from its [`INCIDENT_COLUMNS`]. A duplicate report updates only
/// the `reports` and `updated_us` columns ([`join_incident`]), so those win
/// over the body's copies. (`reports` is NULL only in a row from before
/// migration 0003 that `Store::connect` has not filled yet.)
pub(crate) fn incident_from(body: &str, reports: Option<i64>, updated_us: i64) -> DbResult<Incident> {
    let mut incident: Incident = decode(body)?;
    if let Some(n) = reports {
        incident.reports = u32::try_from(n).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    }
    incident.updated_at = from_micros(updated_us);
    Ok(incident)
}

pub async fn insert_incident(conn: &mut WriteConn<'_>, i: &Incident) -> DbResult<()> {
    execute(
        conn,
        "INSERT INTO incidents (id, number, queue, status, active, priority, created_us, updated_us, body, \
         reports, category, outside_badung) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        &[
            i.id.to_string().into(),
            i.number.as_str().into(),
            i.queue.as_str().into(),
            i.status.as_str().into(),
            i.status.is_active().into(),
            i64::from(i.priority.level()).into(),
            to_micros(i.created_at).into(),
            to_micros(i.updated_at).into(),
            encode(i)?.into(),
            i64::from(i.reports).into(),
            i.category.as_str().into(),
            i.outside_badung.into(),
        ],
    )
    .await?;
    Ok(())
}

/// Stores an incident's new state.
///
/// Most updates (a better caller location, a transcript, a correction) leave
/// queue, status and priority as they were, and then those are not named in
/// `SET`: SQLite rewrites the entries of every index on a column named in
/// `SET`, changed or not, and the queue and active indexes are scattered
/// pages a batch would otherwise dirty (and write to the WAL) for nothing.
/// When those columns did change, the narrow update matches no row and the
/// full one runs.
pub async fn update_incident(conn: &mut WriteConn<'_>, i: &Incident) -> DbResult<()> {
    let body = encode(i)?;
    let (id, queue, status) = (i.id.to_string(), i.queue.as_str(), i.status.as_str());
    let priority = i64::from(i.priority.level());
    let updated_us = to_micros(i.updated_at);
    let (reports, category) = (i64::from(i.reports), i.category.as_str());
    let narrow = execute(
        conn,
        "UPDATE incidents SET updated_us = $1, body = $2, reports = $3, category = $4, outside_badung = $5 \
         WHERE id = $6 AND queue = $7 AND status = $8 AND priority = $9",
        &[
            updated_us.into(),
            body.as_str().into(),
            reports.into(),
            category.into(),
            i.outside_badung.into(),
            id.as_str().into(),
            queue.into(),
            status.into(),
            priority.into(),
        ],
    )
    .await?;
    if narrow == 0 {
        execute(
            conn,
            "UPDATE incidents SET queue = $1, status = $2, active = $3, priority = $4, updated_us = $5, body = $6, \
             reports = $7, category = $8, outside_badung = $9 WHERE id = $10",
            &[
                queue.into(),
                status.into(),
                i.status.is_active().into(),
                priority.into(),
                updated_us.into(),
                body.into(),
                reports.into(),
                category.into(),
                i.outside_badung.into(),
                id.into(),
            ],
        )
        .await?;
    }
    Ok(())
}

/// What a report's answer says of its incident: the columns beside the
/// body, so a report that joins an incident needs no body ([`join_incident`]).
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentHead {
    pub id: IncidentId,
    pub number: String,
    pub category: Category,
    pub queue: Queue,
    pub priority: Priority,
    pub status: IncidentStatus,
    pub outside_badung: bool,
}

impl IncidentHead {
    pub fn of(i: &Incident) -> IncidentHead {
        IncidentHead {
            id: i.id,
            number: i.number.clone(),
            category: i.category,
            queue: i.queue,
            priority: i.priority,
            status: i.status,
            outside_badung: i.outside_badung,
        }
    }
}

/// Counts one more report on the incident and marks it updated at `at`,
/// without reading or rewriting its body; `None` if there is no such incident.
///
/// Two statements rather than `UPDATE ... RETURNING`: SQLite collects
/// returned rows in a temporary table it creates per statement, which made
/// the join cost more than the update (`perf`, ingest benchmark). The
/// `SELECT` finds the row's page where the `UPDATE` left it, in the cache.
pub async fn join_incident(
    conn: &mut WriteConn<'_>,
    id: IncidentId,
    at: DateTime<Utc>,
) -> DbResult<Option<IncidentHead>> {
    let id_text = id.to_string();
    let changed = execute(
        conn,
        "UPDATE incidents SET reports = reports + 1, updated_us = $1 WHERE id = $2",
        &[to_micros(at).into(), id_text.as_str().into()],
    )
    .await?;
    if changed == 0 {
        return Ok(None);
    }
    let row = fetch_one(
        conn,
        "SELECT number, category, queue, priority, status, outside_badung FROM incidents WHERE id = $1",
        &[id_text.into()],
    )
    .await?;
    let bad = |column: &str| sqlx::Error::Decode(format!("incident {id}: bad {column} column").into());
    Ok(Some(IncidentHead {
        id,
        number: row.text(0)?,
        category: Category::parse(&row.text(1)?).ok_or_else(|| bad("category"))?,
        queue: Queue::parse(&row.text(2)?).ok_or_else(|| bad("queue"))?,
        priority: u8::try_from(row.int(3)?)
            .ok()
            .and_then(Priority::new)
            .ok_or_else(|| bad("priority"))?,
        status: IncidentStatus::parse(&row.text(4)?).ok_or_else(|| bad("status"))?,
        outside_badung: row.bool(5)?,
    }))
}

pub async fn load_incident(conn: &mut WriteConn<'_>, id: IncidentId) -> DbResult<Option<Incident>> {
    let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1");
    let row = fetch_optional(conn, &sql, &[id.to_string().into()]).await?;
    row.map(|r| incident_from(&r.text(0)?, r.opt_int(1)?, r.int(2)?))
        .transpose()
}

pub async fn insert_report(conn: &mut WriteConn<'_>, r: &Report) -> DbResult<()> {
    execute(
        conn,
        "INSERT INTO reports (id, incident_id, received_us, body) VALUES ($1, $2, $3, $4)",
        &[
            r.id.to_string().into(),
            r.incident_id.to_string().into(),
            to_micros(r.received_at).into(),
            encode(r)?.into(),
        ],
    )
    .await?;
    Ok(())
}

pub async fn load_call(conn: &mut WriteConn<'_>, id: &str) -> DbResult<Option<Call>> {
    decode_body(fetch_optional(conn, "SELECT body FROM calls WHERE id = $1", &[id.into()]).await?)
}

/// Calls from this number offered at or after `since`.
pub async fn count_calls_from(conn: &mut WriteConn<'_>, caller: &str, since: DateTime<Utc>) -> DbResult<i64> {
    fetch_one(
        conn,
        "SELECT COUNT(*) FROM calls WHERE caller = $1 AND offered_us >= $2",
        &[caller.into(), to_micros(since).into()],
    )
    .await?
    .int(0)
}

pub async fn upsert_call(conn: &mut WriteConn<'_>, c: &Call) -> DbResult<()> {
    execute(
        conn,
        "INSERT INTO calls (id, caller, status, offered_us, body) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body",
        &[
            c.id.as_str().into(),
            c.caller.as_str().into(),
            c.status.as_str().into(),
            to_micros(c.offered_at).into(),
            encode(c)?.into(),
        ],
    )
    .await?;
    Ok(())
}

/// Records that a call event was seen; `false` if the same (call, kind, time) was seen before.
pub async fn record_call_event(
    conn: &mut WriteConn<'_>,
    call_id: &str,
    kind: &str,
    at: DateTime<Utc>,
) -> DbResult<bool> {
    let changed = execute(
        conn,
        "INSERT INTO call_events (call_id, kind, at_us) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        &[call_id.into(), kind.into(), to_micros(at).into()],
    )
    .await?;
    Ok(changed == 1)
}

pub async fn load_unit(conn: &mut WriteConn<'_>, id: &UnitId) -> DbResult<Option<Unit>> {
    decode_body(fetch_optional(conn, "SELECT body FROM units WHERE id = $1", &[id.as_str().into()]).await?)
}

pub async fn upsert_unit(conn: &mut WriteConn<'_>, u: &Unit) -> DbResult<()> {
    execute(
        conn,
        "INSERT INTO units (id, unit_type, status, incident_id, body) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO UPDATE SET unit_type = excluded.unit_type, status = excluded.status, \
         incident_id = excluded.incident_id, body = excluded.body",
        &[
            u.id.as_str().into(),
            u.unit_type.as_str().into(),
            u.status.as_str().into(),
            u.incident_id.map(|i| i.to_string()).into(),
            encode(u)?.into(),
        ],
    )
    .await?;
    Ok(())
}

/// Writes `unit` only if the stored row still has `expected_status` and
/// `expected_incident`: the conditional update that keeps a unit from being
/// put on two incidents, even by two dispatcher processes at once.
pub async fn update_unit_if(
    conn: &mut WriteConn<'_>,
    unit: &Unit,
    expected_status: UnitStatus,
    expected_incident: Option<IncidentId>,
) -> DbResult<bool> {
    let mut params = vec![
        unit.status.as_str().into(),
        unit.incident_id.map(|i| i.to_string()).into(),
        encode(unit)?.into(),
        unit.id.as_str().into(),
        expected_status.as_str().into(),
    ];
    let sql = match expected_incident {
        Some(expected) => {
            params.push(expected.to_string().into());
            "UPDATE units SET status = $1, incident_id = $2, body = $3 WHERE id = $4 AND status = $5 \
             AND incident_id = $6"
        }
        None => {
            "UPDATE units SET status = $1, incident_id = $2, body = $3 WHERE id = $4 AND status = $5 \
             AND incident_id IS NULL"
        }
    };
    Ok(execute(conn, sql, &params).await? == 1)
}

pub async fn insert_position(conn: &mut WriteConn<'_>, unit_id: &UnitId, p: &incident_types::Position) -> DbResult<()> {
    execute(
        conn,
        "INSERT INTO unit_positions (unit_id, at_us, lat, lon, accuracy_m, heading_deg, speed_mps) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            unit_id.as_str().into(),
            to_micros(p.at).into(),
            p.lat.into(),
            p.lon.into(),
            p.accuracy_m.into(),
            p.heading_deg.into(),
            p.speed_mps.into(),
        ],
    )
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

pub async fn insert_assignment(conn: &mut WriteConn<'_>, a: &Assignment) -> DbResult<()> {
    execute(
        conn,
        "INSERT INTO assignments (unit_id, incident_id, dispatched_us, ack_deadline_us) VALUES ($1, $2, $3, $4)",
        &[
            a.unit_id.as_str().into(),
            a.incident_id.to_string().into(),
            to_micros(a.dispatched_at).into(),
            to_micros(a.ack_deadline).into(),
        ],
    )
    .await?;
    Ok(())
}

/// The unit's open (not released) assignment, if any.
pub async fn open_assignment(conn: &mut WriteConn<'_>, unit_id: &UnitId) -> DbResult<Option<Assignment>> {
    let row = fetch_optional(
        conn,
        "SELECT incident_id, dispatched_us, ack_deadline_us, acked_us, overdue_us FROM assignments \
         WHERE unit_id = $1 AND released_us IS NULL ORDER BY dispatched_us DESC LIMIT 1",
        &[unit_id.as_str().into()],
    )
    .await?;
    row.map(|r| {
        let incident_id = r
            .text(0)?
            .parse()
            .map_err(|e: uuid::Error| sqlx::Error::Decode(Box::new(e)))?;
        Ok(Assignment {
            unit_id: unit_id.clone(),
            incident_id,
            dispatched_at: from_micros(r.int(1)?),
            ack_deadline: from_micros(r.int(2)?),
            acked: r.opt_int(3)?.is_some(),
            overdue: r.opt_int(4)?.is_some(),
        })
    })
    .transpose()
}

/// Sets one of the assignment's time columns if it is still empty; `true` if it was set.
pub async fn mark_assignment(
    conn: &mut WriteConn<'_>,
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
    let changed = execute(
        conn,
        sql,
        &[
            to_micros(at).into(),
            unit_id.as_str().into(),
            incident_id.to_string().into(),
        ],
    )
    .await?;
    Ok(changed >= 1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentMark {
    Acknowledged,
    Overdue,
    Released,
}

/// A stored answer to an idempotent request.
pub async fn idempotent_response(
    conn: &mut WriteConn<'_>,
    principal: &str,
    key: &str,
) -> DbResult<Option<(String, String)>> {
    let row = fetch_optional(
        conn,
        "SELECT fingerprint, response FROM idempotency WHERE principal = $1 AND key = $2",
        &[principal.into(), key.into()],
    )
    .await?;
    row.map(|r| Ok((r.text(0)?, r.text(1)?))).transpose()
}

pub async fn store_idempotent_response(
    conn: &mut WriteConn<'_>,
    principal: &str,
    key: &str,
    fingerprint: &str,
    response: &str,
    at: DateTime<Utc>,
) -> DbResult<()> {
    execute(
        conn,
        "INSERT INTO idempotency (principal, key, fingerprint, response, created_us) VALUES ($1, $2, $3, $4, $5)",
        &[
            principal.into(),
            key.into(),
            fingerprint.into(),
            response.into(),
            to_micros(at).into(),
        ],
    )
    .await?;
    Ok(())
}

pub async fn reports_of(conn: &mut WriteConn<'_>, incident: IncidentId) -> DbResult<Vec<Report>> {
    let rows = fetch_all(
        conn,
        "SELECT body FROM reports WHERE incident_id = $1 ORDER BY received_us",
        &[incident.to_string().into()],
    )
    .await?;
    rows.iter().map(|r| decode(&r.text(0)?)).collect()
}

pub async fn load_report(conn: &mut WriteConn<'_>, id: incident_types::ReportId) -> DbResult<Option<Report>> {
    decode_body(fetch_optional(conn, "SELECT body FROM reports WHERE id = $1", &[id.to_string().into()]).await?)
}

/// Moves a report to another incident.
pub async fn move_report(conn: &mut WriteConn<'_>, report: &Report) -> DbResult<()> {
    execute(
        conn,
        "UPDATE reports SET incident_id = $1, body = $2 WHERE id = $3",
        &[
            report.incident_id.to_string().into(),
            encode(report)?.into(),
            report.id.to_string().into(),
        ],
    )
    .await?;
    Ok(())
}
