//! Field units (fire engines, ambulances, patrols, ...) and their status lifecycle.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{IncidentId, UnitId};
use crate::location::Position;
use crate::taxonomy::wire_enum;

wire_enum!(
    /// What kind of unit it is, which decides what it can be sent to.
    UnitType {
        Fire = "fire",
        Ambulance = "ambulance",
        Police = "police",
        Disaster = "disaster",
        Sar = "sar",
        Lifeguard = "lifeguard",
        Utility = "utility",
    }
);

wire_enum!(
    /// Unit lifecycle: available -> dispatched -> en_route -> on_scene ->
    /// returning -> available, plus out_of_service.
    UnitStatus {
        Available = "available",
        Dispatched = "dispatched",
        EnRoute = "en_route",
        OnScene = "on_scene",
        Returning = "returning",
        OutOfService = "out_of_service",
    }
);

impl UnitStatus {
    /// The statuses a unit may report next.
    ///
    /// `dispatched` is not among them: only a dispatch makes a unit dispatched.
    pub fn allowed_next(self) -> &'static [UnitStatus] {
        use UnitStatus::*;
        match self {
            Available => &[OutOfService],
            Dispatched => &[EnRoute, OnScene, Available, OutOfService],
            EnRoute => &[OnScene, Returning, Available, OutOfService],
            OnScene => &[Returning, Available, OutOfService],
            Returning => &[Available, OutOfService],
            OutOfService => &[Available],
        }
    }

    /// Committed to an incident (the unit holds an assignment).
    pub fn is_assigned(self) -> bool {
        matches!(self, UnitStatus::Dispatched | UnitStatus::EnRoute | UnitStatus::OnScene)
    }
}

/// A unit with its status and last position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Unit {
    pub id: UnitId,
    pub call_sign: String,
    pub unit_type: UnitType,
    /// Extra capabilities, e.g. `ladder`, `4wd`, `boat`.
    pub capabilities: Vec<String>,
    pub station: String,
    pub status: UnitStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    /// The incident the unit is assigned to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<IncidentId>,
    pub updated_at: DateTime<Utc>,
}
