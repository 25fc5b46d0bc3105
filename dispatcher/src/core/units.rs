//! Unit commands: register, report position, report status, dispatch, flag a missed acknowledgement.

use async_trait::async_trait;
use incident_types::wire::{NewUnit, UnitReport};
use incident_types::{Actor, Event, Incident, IncidentId, IncidentStatus, Position, Queue, Unit, UnitId, UnitStatus};

use super::{Command, Write};
use crate::dispatch::index::distance_m;
use crate::dispatch::recommend::recommend;
use crate::error::ApiError;
use crate::store::write::{self, Assignment, AssignmentMark};

/// Registers a unit, or re-describes it (type, call sign, station) keeping its status.
#[derive(Debug)]
pub struct RegisterUnit(pub NewUnit);

#[async_trait]
impl Command for RegisterUnit {
    type Output = Unit;
    async fn apply(self, w: &mut Write<'_>) -> Result<Unit, ApiError> {
        let n = self.0;
        let id = UnitId::parse("id", &n.id)?;
        if n.call_sign.trim().is_empty() || n.call_sign.chars().count() > 64 {
            return Err(ApiError::bad_field("call_sign", "must be 1 to 64 characters"));
        }
        if n.station.chars().count() > 120 {
            return Err(ApiError::bad_field("station", "must be at most 120 characters"));
        }
        if n.capabilities.len() > 16 || n.capabilities.iter().any(|c| c.is_empty() || c.chars().count() > 32) {
            return Err(ApiError::bad_field(
                "capabilities",
                "at most 16 capabilities of 1 to 32 characters",
            ));
        }
        if let Some(p) = &n.position {
            p.validate().map_err(|e| e.under("position"))?;
        }
        let existing = write::load_unit(&mut w.conn, &id).await?;
        let unit = Unit {
            id,
            call_sign: n.call_sign.trim().to_owned(),
            unit_type: n.unit_type,
            capabilities: n.capabilities,
            station: n.station,
            status: existing.as_ref().map_or(UnitStatus::Available, |u| u.status),
            position: n
                .position
                .or_else(|| existing.as_ref().and_then(|u| u.position.clone())),
            incident_id: existing.as_ref().and_then(|u| u.incident_id),
            updated_at: w.now,
        };
        if existing
            .as_ref()
            .is_some_and(|u| u.unit_type != unit.unit_type && u.incident_id.is_some())
        {
            return Err(ApiError::Conflict {
                code: "unit_busy",
                message: "a unit cannot change type while assigned".into(),
            });
        }
        write::upsert_unit(&mut w.conn, &unit).await?;
        w.emit(Event::UnitRegistered { unit: unit.clone() }).await?;
        Ok(unit)
    }
}

/// Below this distance from the last position a fix counts as GPS jitter of a standing unit.
const STATIONARY_RADIUS_M: f64 = 15.0;
/// A standing unit still refreshes its position this often, so its fix does not look stale.
const STATIONARY_REFRESH_S: i64 = 60;

/// An AVL position report.
#[derive(Debug)]
pub struct UpdatePosition {
    pub unit_id: UnitId,
    pub position: Position,
}

#[async_trait]
impl Command for UpdatePosition {
    type Output = Unit;
    async fn apply(self, w: &mut Write<'_>) -> Result<Unit, ApiError> {
        self.position.validate()?;
        let mut unit = write::load_unit(&mut w.conn, &self.unit_id)
            .await?
            .ok_or(ApiError::NotFound("unit"))?;
        let p = self.position;
        if p.at > w.now + chrono::Duration::minutes(5) {
            return Err(ApiError::bad_field("at", "is in the future"));
        }
        if unit.position.as_ref().is_some_and(|old| p.at <= old.at) {
            // Out-of-order fix (mobile networks reorder): history only.
            write::insert_position(&mut w.conn, &unit.id, &p).await?;
            return Ok(unit);
        }
        write::insert_position(&mut w.conn, &unit.id, &p).await?;
        let jitter = unit.position.as_ref().is_some_and(|old| {
            let radius = STATIONARY_RADIUS_M.max(p.accuracy_m.unwrap_or(0.0).min(50.0));
            distance_m(old.lat, old.lon, p.lat, p.lon) < radius && (p.at - old.at).num_seconds() < STATIONARY_REFRESH_S
        });
        if jitter {
            return Ok(unit);
        }
        unit.position = Some(p.clone());
        unit.updated_at = w.now;
        write::upsert_unit(&mut w.conn, &unit).await?;
        w.emit(Event::UnitMoved {
            unit_id: unit.id.clone(),
            position: p,
        })
        .await?;
        Ok(unit)
    }
}

/// A unit reports acknowledgement or a new status.
#[derive(Debug)]
pub struct ReportStatus {
    pub unit_id: UnitId,
    pub report: UnitReport,
}

#[async_trait]
impl Command for ReportStatus {
    type Output = Unit;
    async fn apply(self, w: &mut Write<'_>) -> Result<Unit, ApiError> {
        let unit = write::load_unit(&mut w.conn, &self.unit_id)
            .await?
            .ok_or(ApiError::NotFound("unit"))?;
        let to = match self.report {
            UnitReport::Acknowledged => {
                acknowledge(w, &unit).await?;
                return Ok(unit);
            }
            UnitReport::EnRoute => UnitStatus::EnRoute,
            UnitReport::OnScene => UnitStatus::OnScene,
            UnitReport::Returning => UnitStatus::Returning,
            UnitReport::Available => UnitStatus::Available,
            UnitReport::OutOfService => UnitStatus::OutOfService,
        };
        if to == unit.status {
            return Ok(unit);
        }
        if !unit.status.allowed_next().contains(&to) {
            return Err(ApiError::IllegalTransition {
                message: format!("unit {} cannot go from {} to {}", unit.id, unit.status, to),
                allowed: unit
                    .status
                    .allowed_next()
                    .iter()
                    .map(|s| s.as_str().to_owned())
                    .collect(),
            });
        }
        set_unit_status(w, unit, to).await
    }
}

async fn acknowledge(w: &mut Write<'_>, unit: &Unit) -> Result<(), ApiError> {
    let incident_id = unit.incident_id.ok_or_else(|| ApiError::Conflict {
        code: "no_assignment",
        message: format!("unit {} has no assignment to acknowledge", unit.id),
    })?;
    if write::mark_assignment(&mut w.conn, &unit.id, incident_id, AssignmentMark::Acknowledged, w.now).await? {
        w.emit(Event::AssignmentAcknowledged {
            unit_id: unit.id.clone(),
            incident_id,
        })
        .await?;
    }
    Ok(())
}

/// Moves a unit to `to` (already checked as allowed), releasing or following its incident.
async fn set_unit_status(w: &mut Write<'_>, mut unit: Unit, to: UnitStatus) -> Result<Unit, ApiError> {
    let from = unit.status;
    let incident_id = unit.incident_id;
    let expected_incident = unit.incident_id;
    if matches!(to, UnitStatus::EnRoute | UnitStatus::OnScene) {
        // Moving is acknowledgement enough.
        acknowledge(w, &unit).await?;
    }
    let leaves = matches!(
        to,
        UnitStatus::Returning | UnitStatus::Available | UnitStatus::OutOfService
    );
    if leaves {
        if let Some(i) = incident_id {
            release(w, &unit.id, i).await?;
            unit.incident_id = None;
        }
    }
    unit.status = to;
    unit.updated_at = w.now;
    if !write::update_unit_if(&mut w.conn, &unit, from, expected_incident).await? {
        return Err(ApiError::Conflict {
            code: "unit_changed",
            message: format!("unit {} changed meanwhile; reload and try again", unit.id),
        });
    }
    w.emit(Event::UnitStatusChanged {
        unit_id: unit.id.clone(),
        from,
        to,
        incident_id,
    })
    .await?;
    if let Some(i) = incident_id.filter(|_| !leaves) {
        follow_unit(w, i, to).await?;
    }
    Ok(unit)
}

/// The incident follows its units: first en route -> en_route, first on scene -> on_scene.
async fn follow_unit(w: &mut Write<'_>, incident_id: IncidentId, unit_status: UnitStatus) -> Result<(), ApiError> {
    let Some(mut incident) = write::load_incident(&mut w.conn, incident_id).await? else {
        return Ok(());
    };
    let target = match unit_status {
        UnitStatus::EnRoute => IncidentStatus::EnRoute,
        UnitStatus::OnScene => IncidentStatus::OnScene,
        _ => return Ok(()),
    };
    if incident.status.can_move_to(target) {
        let from = incident.status;
        incident.status = target;
        incident.updated_at = w.now;
        write::update_incident(&mut w.conn, &incident).await?;
        w.emit_as(
            &Actor::system(),
            Event::IncidentStatusChanged {
                incident_id,
                from,
                to: target,
                note: Some("followed its units".into()),
            },
        )
        .await?;
    }
    Ok(())
}

/// Ends a unit's assignment to an incident and takes it off the incident's unit list.
pub(crate) async fn release(w: &mut Write<'_>, unit_id: &UnitId, incident_id: IncidentId) -> Result<(), ApiError> {
    write::mark_assignment(&mut w.conn, unit_id, incident_id, AssignmentMark::Released, w.now).await?;
    if let Some(mut incident) = write::load_incident(&mut w.conn, incident_id).await? {
        incident.units.retain(|u| u != unit_id);
        incident.updated_at = w.now;
        write::update_incident(&mut w.conn, &incident).await?;
    }
    w.emit(Event::AssignmentReleased {
        unit_id: unit_id.clone(),
        incident_id,
    })
    .await
}

/// Releases every unit still on an incident that has ended (resolved, cancelled, ...).
pub(crate) async fn release_all(w: &mut Write<'_>, incident: &Incident) -> Result<(), ApiError> {
    for unit_id in &incident.units {
        let Some(mut unit) = write::load_unit(&mut w.conn, unit_id).await? else {
            continue;
        };
        if unit.incident_id != Some(incident.id) {
            continue;
        }
        release(w, unit_id, incident.id).await?;
        let from = unit.status;
        unit.incident_id = None;
        unit.status = UnitStatus::Returning;
        unit.updated_at = w.now;
        if write::update_unit_if(&mut w.conn, &unit, from, Some(incident.id)).await? {
            w.emit(Event::UnitStatusChanged {
                unit_id: unit.id.clone(),
                from,
                to: UnitStatus::Returning,
                incident_id: Some(incident.id),
            })
            .await?;
        }
    }
    Ok(())
}

/// Assigns units to an incident.
#[derive(Debug)]
pub struct Dispatch {
    pub incident_id: IncidentId,
    pub units: Vec<UnitId>,
}

#[async_trait]
impl Command for Dispatch {
    type Output = incident_types::wire::DispatchResult;
    async fn apply(self, w: &mut Write<'_>) -> Result<Self::Output, ApiError> {
        if self.units.is_empty() || self.units.len() > 20 {
            return Err(ApiError::bad_field("units", "list 1 to 20 units"));
        }
        let incident = write::load_incident(&mut w.conn, self.incident_id)
            .await?
            .ok_or(ApiError::NotFound("incident"))?;
        let (incident, assigned) = assign_units(w, incident, &self.units, false).await?;
        Ok(incident_types::wire::DispatchResult { incident, assigned })
    }
}

/// Puts units on an incident; all or none (the caller's savepoint rolls back on error).
///
/// A unit already on this incident is left as it is; one on another incident,
/// or not available, fails the whole dispatch with a 409 naming why.
pub(crate) async fn assign_units(
    w: &mut Write<'_>,
    mut incident: Incident,
    unit_ids: &[UnitId],
    automatic: bool,
) -> Result<(Incident, Vec<Unit>), ApiError> {
    if incident.queue != Queue::Emergency {
        return Err(ApiError::Conflict {
            code: "not_an_emergency",
            message: "general complaints are routed to agencies, not dispatched".into(),
        });
    }
    if !incident.status.is_active() {
        return Err(ApiError::IllegalTransition {
            message: format!("incident is {}, units cannot be sent", incident.status),
            allowed: incident
                .status
                .allowed_next()
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
        });
    }
    let actor = if automatic { Actor::system() } else { w.actor.clone() };
    let mut assigned = Vec::new();
    // Lock unit rows in one global order, so two nodes dispatching overlapping
    // sets cannot deadlock on each other.
    let mut ordered: Vec<&UnitId> = unit_ids.iter().collect();
    ordered.sort();
    ordered.dedup();
    for unit_id in ordered {
        let mut unit = write::load_unit(&mut w.conn, unit_id)
            .await?
            .ok_or_else(|| ApiError::bad_field("units", format!("unknown unit {unit_id}")))?;
        if unit.incident_id == Some(incident.id) {
            continue;
        }
        if let Some(other) = unit.incident_id {
            return Err(ApiError::UnitUnavailable {
                message: format!("unit {unit_id} is assigned to another incident"),
                incident_id: Some(other),
            });
        }
        let sendable = unit.status == UnitStatus::Available
            || (w.domain.plans.dispatch_returning && unit.status == UnitStatus::Returning);
        if !sendable {
            return Err(ApiError::UnitUnavailable {
                message: format!("unit {unit_id} is {}", unit.status),
                incident_id: None,
            });
        }
        let from = unit.status;
        unit.status = UnitStatus::Dispatched;
        unit.incident_id = Some(incident.id);
        unit.updated_at = w.now;
        if !write::update_unit_if(&mut w.conn, &unit, from, None).await? {
            // Another dispatcher node took it between our read and our write.
            let holder = write::load_unit(&mut w.conn, unit_id)
                .await?
                .and_then(|u| u.incident_id);
            return Err(ApiError::UnitUnavailable {
                message: format!("unit {unit_id} was just assigned elsewhere"),
                incident_id: holder,
            });
        }
        let ack_deadline = w.now + w.domain.plans.ack_timeout;
        write::insert_assignment(
            &mut w.conn,
            &Assignment {
                unit_id: unit_id.clone(),
                incident_id: incident.id,
                dispatched_at: w.now,
                ack_deadline,
                acked: false,
                overdue: false,
            },
        )
        .await?;
        w.emit_as(
            &actor,
            Event::UnitAssigned {
                unit_id: unit_id.clone(),
                incident_id: incident.id,
                ack_deadline,
                automatic,
            },
        )
        .await?;
        incident.units.push(unit_id.clone());
        assigned.push(unit);
    }
    if matches!(incident.status, IncidentStatus::New | IncidentStatus::Triaged) && !assigned.is_empty() {
        let from = incident.status;
        incident.status = IncidentStatus::Dispatched;
        w.emit_as(
            &actor,
            Event::IncidentStatusChanged {
                incident_id: incident.id,
                from,
                to: IncidentStatus::Dispatched,
                note: None,
            },
        )
        .await?;
    }
    incident.updated_at = w.now;
    write::update_incident(&mut w.conn, &incident).await?;
    Ok((incident, assigned))
}

/// Flags an assignment whose acknowledgement deadline passed (sent by the timer task).
#[derive(Debug)]
pub struct FlagOverdue {
    pub unit_id: UnitId,
    pub incident_id: IncidentId,
}

#[async_trait]
impl Command for FlagOverdue {
    type Output = bool;
    async fn apply(self, w: &mut Write<'_>) -> Result<bool, ApiError> {
        let Some(assignment) = write::open_assignment(&mut w.conn, &self.unit_id).await? else {
            return Ok(false);
        };
        if assignment.incident_id != self.incident_id
            || assignment.acked
            || assignment.overdue
            || assignment.ack_deadline > w.now
        {
            return Ok(false);
        }
        if !write::mark_assignment(
            &mut w.conn,
            &self.unit_id,
            self.incident_id,
            AssignmentMark::Overdue,
            w.now,
        )
        .await?
        {
            return Ok(false);
        }
        let next_best = match write::load_incident(&mut w.conn, self.incident_id).await? {
            Some(incident) => {
                let unit_type = w.domain.units.unit(&self.unit_id).map(|u| u.unit_type);
                let mut assignments = vec![Assignment {
                    overdue: true,
                    ..assignment
                }];
                for other in incident.units.iter().filter(|u| **u != self.unit_id) {
                    if let Some(a) = write::open_assignment(&mut w.conn, other).await? {
                        assignments.push(a);
                    }
                }
                recommend(w.domain, &incident, &assignments)
                    .types
                    .into_iter()
                    .filter(|t| Some(t.unit_type) == unit_type)
                    .flat_map(|t| t.candidates)
                    .map(|c| c.unit_id)
                    .next()
            }
            None => None,
        };
        w.emit(Event::AssignmentAckOverdue {
            unit_id: self.unit_id,
            incident_id: self.incident_id,
            next_best,
        })
        .await?;
        Ok(true)
    }
}
