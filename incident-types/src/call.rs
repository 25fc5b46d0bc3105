//! 112 calls as the telephony side reports them: offered, answered, located, transcribed, ended.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{CallId, IncidentId};
use crate::location::Location;
use crate::taxonomy::wire_enum;

wire_enum!(
    /// One step of a call as the telephony side reports it.
    CallEventKind {
        Offered = "offered",
        Answered = "answered",
        Location = "location",
        Transcript = "transcript",
        Ended = "ended",
    }
);

wire_enum!(
    /// Where a call stands.
    CallStatus {
        Ringing = "ringing",
        Answered = "answered",
        Ended = "ended",
    }
);

/// A 112 call, built from its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Call {
    pub id: CallId,
    /// The caller's number (confidential).
    pub caller: String,
    pub status: CallStatus,
    pub offered_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_taker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Calls from the same number shortly before this one (repeat or prank callers).
    pub previous_calls: u32,
    /// The transcript so far (parts joined with newlines).
    pub transcript: String,
    /// The incident the call's transcript was turned into, once it has text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<IncidentId>,
}
