//! Messages of the live websocket feed (`GET /ws`), both directions. See `docs/protocol.md`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::call::Call;
use crate::event::EventRecord;
use crate::incident::Incident;
use crate::unit::Unit;
use crate::wire::UnitReport;

/// Client to server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// First message: authenticate (unless the upgrade request had a bearer
    /// header), choose topics, and say the last sequence number seen.
    Hello {
        #[serde(default)]
        token: Option<String>,
        topics: Vec<String>,
        #[serde(default)]
        last_seq: Option<i64>,
    },
    /// Answer to a server `ping`.
    Pong,
    /// A unit acknowledges its assignment or reports a status (unit tokens, or staff for a unit).
    UnitStatus {
        #[serde(default)]
        unit_id: Option<String>,
        status: UnitReport,
        /// Echoed in the `ack` or `error` answer.
        #[serde(default, rename = "ref")]
        reference: Option<String>,
    },
    /// A unit reports its position.
    Position {
        #[serde(default)]
        unit_id: Option<String>,
        lat: f64,
        lon: f64,
        #[serde(default)]
        accuracy_m: Option<f64>,
        #[serde(default)]
        heading_deg: Option<f64>,
        #[serde(default)]
        speed_mps: Option<f64>,
        at: DateTime<Utc>,
        #[serde(default, rename = "ref")]
        reference: Option<String>,
    },
}

/// Why a snapshot was sent instead of a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotReason {
    /// The client said no last sequence.
    NoLastSeq,
    /// The asked-for sequence is older than the retained history.
    HistoryGap,
}

/// Server to client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Welcome {
        role: String,
        name: String,
        #[serde(default)]
        unit_id: Option<String>,
        topics: Vec<String>,
        /// The newest sequence number at connection time.
        head_seq: i64,
    },
    /// One committed event, with its global sequence number.
    Event(EventRecord),
    /// The current state as of `seq`; live events with larger numbers follow.
    Snapshot {
        seq: i64,
        reason: SnapshotReason,
        incidents: Vec<Incident>,
        units: Vec<Unit>,
        calls: Vec<Call>,
    },
    /// A request over the socket was done.
    Ack {
        #[serde(default, rename = "ref")]
        reference: Option<String>,
    },
    /// Something went wrong; codes: `bad_message`, `unauthorized`, `topic_forbidden`,
    /// `lagging` (the client fell too far behind and is disconnected; reconnect with `last_seq`),
    /// `idle` (no answer to pings), and the HTTP API's codes for unit requests.
    Error {
        code: String,
        message: String,
        #[serde(default, rename = "ref")]
        reference: Option<String>,
    },
    /// Heartbeat; answer with `pong`.
    Ping,
}
