//! Incidents, the reports that make them, and the incident status lifecycle.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::classification::Evidence;
use crate::ids::{CallId, IncidentId, ReportId, UnitId};
use crate::location::Location;
use crate::taxonomy::{wire_enum, Category, District, Priority, Queue};

wire_enum!(
    /// The channel a report arrived on.
    Channel {
        Call = "call",
        App = "app",
        Web = "web",
        Sms = "sms",
        Lapor = "lapor",
    }
);

wire_enum!(
    /// Incident lifecycle: new -> triaged -> dispatched -> en_route -> on_scene ->
    /// resolved -> closed, with cancelled and duplicate as other ends.
    IncidentStatus {
        New = "new",
        Triaged = "triaged",
        Dispatched = "dispatched",
        EnRoute = "en_route",
        OnScene = "on_scene",
        Resolved = "resolved",
        Closed = "closed",
        Cancelled = "cancelled",
        Duplicate = "duplicate",
    }
);

impl IncidentStatus {
    /// The statuses a person may move an incident to from this one.
    ///
    /// Forward steps may be skipped (a general complaint goes from triaged
    /// straight to resolved; a unit may report on scene without en route), but
    /// nothing goes back, and closed, cancelled and duplicate are final.
    pub fn allowed_next(self) -> &'static [IncidentStatus] {
        use IncidentStatus::*;
        match self {
            New => &[Triaged, Dispatched, Resolved, Cancelled, Duplicate],
            Triaged => &[Dispatched, Resolved, Cancelled, Duplicate],
            Dispatched => &[EnRoute, OnScene, Resolved, Cancelled],
            EnRoute => &[OnScene, Resolved, Cancelled],
            OnScene => &[Resolved],
            Resolved => &[Closed],
            Closed | Cancelled | Duplicate => &[],
        }
    }

    pub fn can_move_to(self, to: IncidentStatus) -> bool {
        self.allowed_next().contains(&to)
    }

    /// Still needs attention (not resolved, closed, cancelled or a duplicate).
    pub fn is_active(self) -> bool {
        use IncidentStatus::*;
        matches!(self, New | Triaged | Dispatched | EnRoute | OnScene)
    }
}

/// Who sent a report. Confidential: shown to staff, never on a public view.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Reporter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// One report as received on a channel; several reports may make one incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Report {
    pub id: ReportId,
    pub incident_id: IncidentId,
    pub channel: Channel,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporter: Option<Reporter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<CallId>,
    pub received_at: DateTime<Utc>,
}

/// An emergency or a complaint, with where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Incident {
    pub id: IncidentId,
    /// Human number, e.g. `BDG-2026-000123`.
    pub number: String,
    pub category: Category,
    pub queue: Queue,
    pub priority: Priority,
    pub status: IncidentStatus,
    /// The text of the first report (or the call transcript).
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<District>,
    /// The location is outside Kabupaten Badung (accepted, but a human should look).
    pub outside_badung: bool,
    /// The classifier's confidence in `category` when it was set automatically.
    pub confidence: f32,
    /// Why the classifier chose `category` (empty once a person corrected it).
    pub evidence: Vec<Evidence>,
    /// A person accepted or corrected the category: the classifier no longer changes it.
    pub category_confirmed: bool,
    /// How many reports (callers) this incident has.
    pub reports: u32,
    /// Units currently assigned.
    pub units: Vec<UnitId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
