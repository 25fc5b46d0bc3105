//! The event log's vocabulary: every state change of the system is one `Event`.
//!
//! Events carry enough to rebuild the state they describe, so the log is both
//! the audit trail and the source of the live feed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::call::Call;
use crate::classification::Evidence;
use crate::ids::{IncidentId, ReportId, UnitId};
use crate::incident::{Incident, IncidentStatus, Report};
use crate::location::{Location, Position};
use crate::taxonomy::{Category, Priority};
use crate::unit::{Unit, UnitStatus};

/// Who caused an event: a token holder (role and token name) or the system itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Actor {
    /// `call_taker`, `dispatcher`, `supervisor`, `unit`, `integrator`, `admin` or `system`.
    pub role: String,
    /// The token's name or the unit id; `system` for the dispatcher's own actions.
    pub name: String,
}

impl Actor {
    pub fn system() -> Self {
        Actor {
            role: "system".into(),
            name: "system".into(),
        }
    }
}

/// One change of state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A call was offered, answered, located, transcribed or ended.
    CallUpdated { call: Call },
    /// A new incident was opened (from a report or a call).
    IncidentCreated { incident: Incident },
    /// A report arrived and was attached to an incident.
    ReportReceived {
        report: Report,
        /// Attached to an existing incident as a probable duplicate.
        duplicate_of_existing: bool,
    },
    /// A person or the system moved an incident through its lifecycle.
    IncidentStatusChanged {
        incident_id: IncidentId,
        from: IncidentStatus,
        to: IncidentStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Category, priority or location corrected; old and new values kept.
    IncidentCorrected {
        incident_id: IncidentId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<Change<Category>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<Change<Priority>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        location: Option<Change<Option<Location>>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// The classification was re-run on new text (a call transcript grew).
    IncidentReclassified {
        incident_id: IncidentId,
        category: Category,
        priority: Priority,
        confidence: f32,
        evidence: Vec<Evidence>,
    },
    /// A unit was registered or its description changed.
    UnitRegistered { unit: Unit },
    /// A unit's status changed (for the incident it names, if any).
    UnitStatusChanged {
        unit_id: UnitId,
        from: UnitStatus,
        to: UnitStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        incident_id: Option<IncidentId>,
    },
    /// A unit reported a new position (after jitter filtering).
    UnitMoved { unit_id: UnitId, position: Position },
    /// A unit was assigned to an incident.
    UnitAssigned {
        unit_id: UnitId,
        incident_id: IncidentId,
        ack_deadline: DateTime<Utc>,
        /// Assigned by the auto-dispatch rule rather than a person.
        automatic: bool,
    },
    /// The unit acknowledged its assignment.
    AssignmentAcknowledged { unit_id: UnitId, incident_id: IncidentId },
    /// The unit did not acknowledge in time; the dispatcher should act.
    AssignmentAckOverdue {
        unit_id: UnitId,
        incident_id: IncidentId,
        /// The next-best sendable unit of the same type, recommended instead.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_best: Option<UnitId>,
    },
    /// The unit left the incident (cleared, returned, or released by a dispatcher).
    AssignmentReleased { unit_id: UnitId, incident_id: IncidentId },
    /// A report was moved from one incident to another (merge or unlink).
    ReportMoved {
        report_id: ReportId,
        from: IncidentId,
        to: IncidentId,
    },
}

/// An old and a new value, for corrections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Change<T> {
    pub from: T,
    pub to: T,
}

impl Event {
    /// The wire name of the event type (the `type` tag).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::CallUpdated { .. } => "call_updated",
            Event::IncidentCreated { .. } => "incident_created",
            Event::ReportReceived { .. } => "report_received",
            Event::IncidentStatusChanged { .. } => "incident_status_changed",
            Event::IncidentCorrected { .. } => "incident_corrected",
            Event::IncidentReclassified { .. } => "incident_reclassified",
            Event::UnitRegistered { .. } => "unit_registered",
            Event::UnitStatusChanged { .. } => "unit_status_changed",
            Event::UnitMoved { .. } => "unit_moved",
            Event::UnitAssigned { .. } => "unit_assigned",
            Event::AssignmentAcknowledged { .. } => "assignment_acknowledged",
            Event::AssignmentAckOverdue { .. } => "assignment_ack_overdue",
            Event::AssignmentReleased { .. } => "assignment_released",
            Event::ReportMoved { .. } => "report_moved",
        }
    }

    /// The incident the event concerns, if any (for timelines and topics).
    pub fn incident_id(&self) -> Option<IncidentId> {
        match self {
            Event::CallUpdated { call } => call.incident_id,
            Event::IncidentCreated { incident } => Some(incident.id),
            Event::ReportReceived { report, .. } => Some(report.incident_id),
            Event::IncidentStatusChanged { incident_id, .. }
            | Event::IncidentCorrected { incident_id, .. }
            | Event::IncidentReclassified { incident_id, .. }
            | Event::UnitAssigned { incident_id, .. }
            | Event::AssignmentAcknowledged { incident_id, .. }
            | Event::AssignmentAckOverdue { incident_id, .. }
            | Event::AssignmentReleased { incident_id, .. } => Some(*incident_id),
            Event::UnitStatusChanged { incident_id, .. } => *incident_id,
            Event::ReportMoved { to, .. } => Some(*to),
            Event::UnitRegistered { .. } | Event::UnitMoved { .. } => None,
        }
    }

    /// The unit the event concerns, if any.
    pub fn unit_id(&self) -> Option<&UnitId> {
        match self {
            Event::UnitRegistered { unit } => Some(&unit.id),
            Event::UnitStatusChanged { unit_id, .. }
            | Event::UnitMoved { unit_id, .. }
            | Event::UnitAssigned { unit_id, .. }
            | Event::AssignmentAcknowledged { unit_id, .. }
            | Event::AssignmentAckOverdue { unit_id, .. }
            | Event::AssignmentReleased { unit_id, .. } => Some(unit_id),
            _ => None,
        }
    }
}

/// An event as stored: its gap-free global sequence number, time and actor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventRecord {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub event: Event,
}
