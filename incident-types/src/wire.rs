//! Request and response bodies of the HTTP API (the shapes, not the routes).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::call::CallEventKind;
use crate::event::EventRecord;
use crate::ids::{IncidentId, ReportId, UnitId};
use crate::incident::{Channel, Incident, IncidentStatus, Report, Reporter};
use crate::location::{Location, Position};
use crate::taxonomy::{Category, Priority, Queue};
use crate::unit::{Unit, UnitType};

/// Longest accepted report text or transcript part, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Longest accepted note, in characters.
pub const MAX_NOTE_CHARS: usize = 1000;

/// `POST /api/v1/reports`: a report from any channel.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReport {
    pub channel: Channel,
    /// 1 to 4000 characters.
    pub text: String,
    #[serde(default)]
    pub location: Option<Location>,
    #[serde(default)]
    pub reporter: Option<Reporter>,
}

/// The answer to a stored report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReportAccepted {
    /// The incident the report belongs to.
    pub id: IncidentId,
    pub number: String,
    pub report_id: ReportId,
    pub category: Category,
    pub queue: Queue,
    pub priority: Priority,
    pub status: IncidentStatus,
    /// The report was attached to an existing open incident as a probable duplicate.
    pub duplicate: bool,
    /// The location lies outside Kabupaten Badung.
    pub outside_badung: bool,
}

/// `POST /api/v1/calls/events`: one step of a 112 call from the telephony side.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallEventIn {
    pub call_id: String,
    pub kind: CallEventKind,
    /// The caller's number (E.164 or national form).
    pub caller: String,
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub location: Option<Location>,
    /// Transcript text (for `transcript` events).
    #[serde(default)]
    pub text: Option<String>,
    /// Who answered (for `answered` events).
    #[serde(default)]
    pub call_taker: Option<String>,
}

/// `POST /api/v1/incidents/{id}/transition`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    pub to: IncidentStatus,
    #[serde(default)]
    pub note: Option<String>,
}

/// `PATCH /api/v1/incidents/{id}`: corrections, each kept in the timeline.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentPatch {
    #[serde(default)]
    pub category: Option<Category>,
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default)]
    pub location: Option<Location>,
    #[serde(default)]
    pub note: Option<String>,
}

/// An incident with its reports and full timeline.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IncidentDetail {
    pub incident: Incident,
    pub reports: Vec<Report>,
    pub timeline: Vec<EventRecord>,
}

/// `POST /api/v1/units`: register (or re-describe) a unit.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUnit {
    pub id: String,
    pub call_sign: String,
    pub unit_type: UnitType,
    #[serde(default)]
    pub capabilities: Vec<String>,
    pub station: String,
    #[serde(default)]
    pub position: Option<Position>,
}

/// What a unit (or a dispatcher for it) reports through `POST /api/v1/units/{id}/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnitReport {
    /// Acknowledge the current assignment.
    Acknowledged,
    EnRoute,
    OnScene,
    Returning,
    Available,
    OutOfService,
}

/// `POST /api/v1/units/{id}/status`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitStatusRequest {
    pub status: UnitReport,
}

/// `POST /api/v1/incidents/{id}/dispatch`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DispatchRequest {
    pub units: Vec<UnitId>,
}

/// The answer to a dispatch: the units now assigned.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DispatchResult {
    pub incident: Incident,
    pub assigned: Vec<Unit>,
}

/// One candidate unit in a recommendation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Candidate {
    pub unit_id: UnitId,
    pub call_sign: String,
    pub unit_type: UnitType,
    /// Great-circle distance in metres.
    pub distance_m: f64,
    /// Estimated driving time in seconds (distance x road factor / speed of the type).
    pub eta_s: f64,
}

/// For one required unit type, how many are needed and the nearest candidates.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RequiredType {
    pub unit_type: UnitType,
    pub needed: u32,
    /// Nearest first.
    pub candidates: Vec<Candidate>,
}

/// `GET /api/v1/incidents/{id}/recommendation`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Recommendation {
    pub incident_id: IncidentId,
    /// The best set: the nearest `needed` of each type, ready to post to `/dispatch`.
    pub best: Vec<UnitId>,
    pub types: Vec<RequiredType>,
    /// Units of a needed type that are already on the incident.
    pub already_assigned: Vec<UnitId>,
}

/// Every 4xx/5xx body: `{"error": {...}}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// A machine-readable code, a human message and, for bad input, the field at fault.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For illegal transitions: the statuses that are allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<String>>,
    /// For a unit already assigned elsewhere: the incident that holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<IncidentId>,
}

/// `POST /api/v1/classify`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassifyRequest {
    pub text: String,
}

/// `POST /api/v1/incidents/{id}/merge`: the incident is the same event as `into`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    pub into: IncidentId,
}
