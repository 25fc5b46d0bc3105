//! Queries that serve the API's reads: incidents, reports, timelines, units, calls, events, tokens.

use chrono::{DateTime, Utc};
use incident_types::wire::IncidentDetail;
use incident_types::{Actor, Call, Event, EventRecord, Incident, IncidentId, IncidentStatus, Queue, Unit, UnitId};
use sqlx::Row;

use super::sql::WriteConn;
use super::write::{self, decode, incident_from, Assignment, DbResult, StoredEvent, INCIDENT_COLUMNS};
use super::Store;
use crate::auth::{Principal, Role};
use crate::clock::{from_micros, to_micros};

/// Filters of `GET /api/v1/incidents`.
#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    pub queue: Option<Queue>,
    pub status: Option<IncidentStatus>,
    pub active: Option<bool>,
    /// Only incidents updated at or after this time.
    pub since: Option<DateTime<Utc>>,
    pub limit: u32,
}

fn event_from_row(r: &sqlx::any::AnyRow) -> DbResult<EventRecord> {
    let body: String = r.try_get("body")?;
    let event: Event = decode(&body)?;
    Ok(EventRecord {
        seq: r.try_get("seq")?,
        at: from_micros(r.try_get("at_us")?),
        actor: Actor {
            role: r.try_get("actor_role")?,
            name: r.try_get("actor_name")?,
        },
        event,
    })
}

/// An incident from a row of [`INCIDENT_COLUMNS`].
fn incident_from_row(r: &sqlx::any::AnyRow) -> DbResult<Incident> {
    incident_from(&r.try_get::<String, _>(0)?, r.try_get(1)?, r.try_get(2)?)
}

fn bodies<T: serde::de::DeserializeOwned>(rows: Vec<String>) -> DbResult<Vec<T>> {
    rows.iter().map(|b| decode(b)).collect()
}

impl Store {
    pub async fn find_token(&self, hash: &str) -> DbResult<Option<Principal>> {
        let row = sqlx::query("SELECT role, name, unit_id FROM tokens WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let role: String = row.try_get("role")?;
        let unit: Option<String> = row.try_get("unit_id")?;
        Ok(Role::parse(&role).map(|role| Principal {
            role,
            name: row.try_get("name").unwrap_or_default(),
            unit_id: unit.map(UnitId),
        }))
    }

    /// Stores a token's hash (tokens are not domain events, so this bypasses the writer).
    pub async fn insert_token(&self, hash: &str, p: &Principal, at: DateTime<Utc>) -> DbResult<()> {
        sqlx::query("INSERT INTO tokens (hash, role, name, unit_id, created_us) VALUES ($1, $2, $3, $4, $5)")
            .bind(hash)
            .bind(p.role.as_str())
            .bind(&p.name)
            .bind(p.unit_id.as_ref().map(|u| u.0.clone()))
            .bind(to_micros(at))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn list_incidents(&self, f: &IncidentFilter) -> DbResult<Vec<Incident>> {
        let mut sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE 1 = 1");
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if f.queue.is_some() {
            sql += &format!(" AND queue = {}", next());
        }
        if f.status.is_some() {
            sql += &format!(" AND status = {}", next());
        }
        if f.active.is_some() {
            sql += &format!(" AND active = {}", next());
        }
        if f.since.is_some() {
            sql += &format!(" AND updated_us >= {}", next());
        }
        sql += &format!(" ORDER BY priority ASC, created_us ASC LIMIT {}", next());
        let mut q = sqlx::query(&sql);
        if let Some(queue) = f.queue {
            q = q.bind(queue.as_str());
        }
        if let Some(status) = f.status {
            q = q.bind(status.as_str());
        }
        if let Some(active) = f.active {
            q = q.bind(active);
        }
        if let Some(since) = f.since {
            q = q.bind(to_micros(since));
        }
        q = q.bind(i64::from(f.limit));
        q.fetch_all(&self.pool).await?.iter().map(incident_from_row).collect()
    }

    pub async fn incident(&self, id: IncidentId) -> DbResult<Option<Incident>> {
        let mut conn = self.pool.acquire().await?;
        write::load_incident(&mut WriteConn::Sqlx(&mut conn), id).await
    }

    pub async fn incident_detail(&self, id: IncidentId) -> DbResult<Option<IncidentDetail>> {
        let mut conn = self.pool.acquire().await?;
        let Some(incident) = write::load_incident(&mut WriteConn::Sqlx(&mut conn), id).await? else {
            return Ok(None);
        };
        let reports = write::reports_of(&mut WriteConn::Sqlx(&mut conn), id).await?;
        let rows = sqlx::query(
            "SELECT seq, at_us, actor_role, actor_name, body FROM events WHERE incident_id = $1 ORDER BY seq",
        )
        .bind(id.to_string())
        .fetch_all(&mut *conn)
        .await?;
        let timeline = rows.iter().map(event_from_row).collect::<DbResult<Vec<_>>>()?;
        Ok(Some(IncidentDetail {
            incident,
            reports,
            timeline,
        }))
    }

    pub async fn units(&self) -> DbResult<Vec<Unit>> {
        let rows: Vec<String> = sqlx::query_scalar("SELECT body FROM units ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        bodies(rows)
    }

    pub async fn unit(&self, id: &UnitId) -> DbResult<Option<Unit>> {
        let mut conn = self.pool.acquire().await?;
        write::load_unit(&mut WriteConn::Sqlx(&mut conn), id).await
    }

    /// Calls, newest first; `active` keeps only ringing and answered ones.
    pub async fn calls(&self, active: bool, limit: u32) -> DbResult<Vec<Call>> {
        let sql = if active {
            "SELECT body FROM calls WHERE status <> 'ended' ORDER BY offered_us DESC LIMIT $1"
        } else {
            "SELECT body FROM calls ORDER BY offered_us DESC LIMIT $1"
        };
        let rows: Vec<String> = sqlx::query_scalar(sql)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        bodies(rows)
    }

    /// Calls from one number since a time, newest first (repeat-caller history).
    pub async fn calls_from(&self, caller: &str, since: DateTime<Utc>) -> DbResult<Vec<Call>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT body FROM calls WHERE caller = $1 AND offered_us >= $2 ORDER BY offered_us DESC LIMIT 50",
        )
        .bind(caller)
        .bind(to_micros(since))
        .fetch_all(&self.pool)
        .await?;
        bodies(rows)
    }

    /// The sequence number of the newest committed event.
    pub async fn head_seq(&self) -> DbResult<i64> {
        sqlx::query_scalar("SELECT last_seq FROM event_counter WHERE id = 1")
            .fetch_one(&self.pool)
            .await
    }

    /// Events with `seq > after`, in order, at most `limit`.
    pub async fn events_after(&self, after: i64, limit: u32) -> DbResult<Vec<StoredEvent>> {
        let rows = sqlx::query(
            "SELECT seq, at_us, actor_role, actor_name, body FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredEvent {
                    record: event_from_row(r)?,
                    body: r.try_get("body")?,
                })
            })
            .collect()
    }

    /// Assignments that are neither released, acknowledged nor flagged overdue.
    pub async fn pending_acks(&self) -> DbResult<Vec<Assignment>> {
        let rows = sqlx::query(
            "SELECT unit_id, incident_id, dispatched_us, ack_deadline_us, acked_us, overdue_us FROM assignments \
             WHERE released_us IS NULL AND acked_us IS NULL AND overdue_us IS NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| assignment_from_row(UnitId(r.try_get("unit_id")?), r))
            .collect()
    }

    /// Open assignments of an incident (for recommendations and the console).
    pub async fn assignments_of(&self, incident: IncidentId) -> DbResult<Vec<Assignment>> {
        let rows = sqlx::query(
            "SELECT unit_id, incident_id, dispatched_us, ack_deadline_us, acked_us, overdue_us FROM assignments \
             WHERE incident_id = $1 AND released_us IS NULL",
        )
        .bind(incident.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| assignment_from_row(UnitId(r.try_get("unit_id")?), r))
            .collect()
    }
}

/// The current state as of one sequence number, read in one transaction.
#[derive(Debug)]
pub struct Snapshot {
    pub seq: i64,
    pub incidents: Vec<Incident>,
    pub units: Vec<Unit>,
    pub calls: Vec<Call>,
}

impl Store {
    /// Active incidents, all units and active calls, consistent with `seq`:
    /// they reflect exactly the events up to it.
    pub async fn snapshot(&self) -> DbResult<Snapshot> {
        use sqlx::Connection;
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn.begin().await?;
        if self.backend == super::Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                .execute(&mut *tx)
                .await?;
        }
        let seq: i64 = sqlx::query_scalar("SELECT last_seq FROM event_counter WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        let incidents = sqlx::query(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE active = $1 ORDER BY priority, created_us"
        ))
        .bind(true)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(incident_from_row)
        .collect::<DbResult<Vec<Incident>>>()?;
        let units: Vec<String> = sqlx::query_scalar("SELECT body FROM units ORDER BY id")
            .fetch_all(&mut *tx)
            .await?;
        let calls: Vec<String> =
            sqlx::query_scalar("SELECT body FROM calls WHERE status <> 'ended' ORDER BY offered_us DESC LIMIT 500")
                .fetch_all(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(Snapshot {
            seq,
            incidents,
            units: bodies(units)?,
            calls: bodies(calls)?,
        })
    }
}

fn assignment_from_row(unit_id: UnitId, r: &sqlx::any::AnyRow) -> DbResult<Assignment> {
    let incident: String = r.try_get("incident_id")?;
    let incident_id = incident
        .parse()
        .map_err(|e: uuid::Error| sqlx::Error::Decode(Box::new(e)))?;
    Ok(Assignment {
        unit_id,
        incident_id,
        dispatched_at: crate::clock::from_micros(r.try_get("dispatched_us")?),
        ack_deadline: crate::clock::from_micros(r.try_get("ack_deadline_us")?),
        acked: r.try_get::<Option<i64>, _>("acked_us")?.is_some(),
        overdue: r.try_get::<Option<i64>, _>("overdue_us")?.is_some(),
    })
}
