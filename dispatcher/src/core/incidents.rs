//! Incident commands: lifecycle transitions and corrections by call-takers and dispatchers.

use async_trait::async_trait;
use incident_types::event::Change;
use incident_types::wire::{IncidentPatch, MAX_NOTE_CHARS};
use incident_types::{Category, Event, Incident, IncidentId, IncidentStatus, Priority};

use super::units::release_all;
use super::{Command, Write};
use crate::error::ApiError;
use crate::store::write;

fn check_note(note: &Option<String>) -> Result<(), ApiError> {
    match note {
        Some(n) if n.chars().count() > MAX_NOTE_CHARS => Err(ApiError::bad_field(
            "note",
            format!("must be at most {MAX_NOTE_CHARS} characters"),
        )),
        _ => Ok(()),
    }
}

/// Moves an incident through its lifecycle.
#[derive(Debug)]
pub struct Transition {
    pub incident_id: IncidentId,
    pub to: IncidentStatus,
    pub note: Option<String>,
}

#[async_trait]
impl Command for Transition {
    type Output = Incident;
    async fn apply(self, w: &mut Write<'_>) -> Result<Incident, ApiError> {
        check_note(&self.note)?;
        let mut incident = write::load_incident(&mut w.conn, self.incident_id)
            .await?
            .ok_or(ApiError::NotFound("incident"))?;
        let from = incident.status;
        if !from.can_move_to(self.to) {
            return Err(ApiError::IllegalTransition {
                message: format!("incident {} cannot go from {from} to {}", incident.number, self.to),
                allowed: from.allowed_next().iter().map(|s| s.as_str().to_owned()).collect(),
            });
        }
        if self.to == IncidentStatus::Dispatched {
            return Err(ApiError::IllegalTransition {
                message: "an incident becomes dispatched by dispatching units to it".into(),
                allowed: from
                    .allowed_next()
                    .iter()
                    .filter(|s| **s != IncidentStatus::Dispatched)
                    .map(|s| s.as_str().to_owned())
                    .collect(),
            });
        }
        if !self.to.is_active() {
            release_all(w, &incident).await?;
            incident.units.clear();
        }
        if self.to == IncidentStatus::Triaged {
            // Triage is the call-taker accepting the classification.
            incident.category_confirmed = true;
        }
        incident.status = self.to;
        incident.updated_at = w.now;
        write::update_incident(&mut w.conn, &incident).await?;
        w.emit(Event::IncidentStatusChanged {
            incident_id: incident.id,
            from,
            to: self.to,
            note: self.note,
        })
        .await?;
        Ok(incident)
    }
}

/// Corrects category, priority or location; every change is kept in the timeline.
#[derive(Debug)]
pub struct Correct {
    pub incident_id: IncidentId,
    pub patch: IncidentPatch,
}

#[async_trait]
impl Command for Correct {
    type Output = Incident;
    async fn apply(self, w: &mut Write<'_>) -> Result<Incident, ApiError> {
        let p = self.patch;
        check_note(&p.note)?;
        if let Some(l) = &p.location {
            l.validate().map_err(|e| e.under("location"))?;
        }
        let mut incident = write::load_incident(&mut w.conn, self.incident_id)
            .await?
            .ok_or(ApiError::NotFound("incident"))?;
        if !incident.status.is_active() && incident.status != IncidentStatus::Resolved {
            return Err(ApiError::Conflict {
                code: "incident_closed",
                message: format!("incident {} is {}", incident.number, incident.status),
            });
        }
        let category = p.category.filter(|c| *c != incident.category).map(|to| Change {
            from: incident.category,
            to,
        });
        let mut new_priority = p.priority;
        if category.as_ref().is_some_and(|c| c.to == Category::General) {
            if p.priority.is_some_and(|p| p != Priority::ROUTINE) {
                return Err(ApiError::bad_field("priority", "general items are always priority 4"));
            }
            new_priority = Some(Priority::ROUTINE);
        } else if new_priority.is_none() && incident.category == Category::General && category.is_some() {
            // Leaving the general queue: it needs a real priority; a person sets it, default 3.
            new_priority = Some(Priority::NEEDS_UNIT);
        }
        let priority = new_priority.filter(|p| *p != incident.priority).map(|to| Change {
            from: incident.priority,
            to,
        });
        if category.as_ref().map_or(incident.category, |c| c.to) == Category::General
            && priority.as_ref().map_or(incident.priority, |p| p.to) != Priority::ROUTINE
        {
            return Err(ApiError::bad_field("priority", "general items are always priority 4"));
        }
        let location = p
            .location
            .filter(|l| Some(l) != incident.location.as_ref())
            .map(|to| Change {
                from: incident.location.clone(),
                to: Some(to),
            });
        if category.is_none() && priority.is_none() && location.is_none() {
            return Ok(incident);
        }
        if let Some(c) = &category {
            incident.category = c.to;
            incident.queue = c.to.queue();
        }
        if category.is_some() || priority.is_some() {
            incident.category_confirmed = true;
        }
        if let Some(pr) = &priority {
            incident.priority = pr.to;
        }
        if let Some(l) = &location {
            incident.location = l.to.clone();
            incident.outside_badung =
                l.to.as_ref()
                    .is_some_and(|l| !incident_types::location::is_in_badung(l.lat, l.lon));
        }
        incident.updated_at = w.now;
        write::update_incident(&mut w.conn, &incident).await?;
        w.emit(Event::IncidentCorrected {
            incident_id: incident.id,
            category,
            priority,
            location,
            note: p.note,
        })
        .await?;
        Ok(incident)
    }
}
