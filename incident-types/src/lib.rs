//! Domain and wire types shared by the dispatcher, its clients and its tests.
//!
//! This crate does no I/O: it only describes data (serde) and the rules that
//! follow from the data alone (the incident lifecycle, coordinate ranges).
//! Everything that talks to a network, a clock or a database lives in
//! `dispatcher`.

pub mod call;
pub mod classification;
pub mod event;
pub mod feed;
pub mod ids;
pub mod incident;
pub mod location;
pub mod taxonomy;
pub mod unit;
pub mod wire;

pub use call::{Call, CallEventKind, CallStatus};
pub use classification::{Classification, Evidence, EvidenceKind, PlaceKind, PlaceMatch};
pub use event::{Actor, Event, EventRecord};
pub use ids::{CallId, IncidentId, ReportId, UnitId};
pub use incident::{Channel, Incident, IncidentStatus, Report, Reporter};
pub use location::{Location, LocationSource, Position};
pub use taxonomy::{Category, District, Priority, Queue};
pub use unit::{Unit, UnitStatus, UnitType};

/// A field-level validation failure: which field, and why.
///
/// The dispatcher turns it into a `400` with `{"error": {"code", "message", "field"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error, with its field nested under `parent` (`location` + `lat` -> `location.lat`).
    pub fn under(mut self, parent: &str) -> Self {
        self.field = format!("{parent}.{}", self.field);
        self
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}
