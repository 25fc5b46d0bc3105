//! Identifier newtypes, so an incident id can never be passed where a unit id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::FieldError;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// An incident: one emergency or complaint, possibly reported by many callers.
    IncidentId
);
uuid_id!(
    /// One report as it arrived on a channel (an SMS, an app submission, a call transcript).
    ReportId
);

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// Longest accepted identifier, in bytes.
            pub const MAX_LEN: usize = $max;

            /// Accepts `[A-Za-z0-9._:-]`, 1 to `MAX_LEN` bytes: safe in URLs, logs and topics.
            pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
                if raw.is_empty() || raw.len() > Self::MAX_LEN {
                    return Err(FieldError::new(field, format!("must be 1 to {} characters", Self::MAX_LEN)));
                }
                if !raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-')) {
                    return Err(FieldError::new(field, "may contain only letters, digits and . _ : -"));
                }
                Ok(Self(raw.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_id!(
    /// A 112 call as the telephony side names it (its own call reference).
    CallId,
    64
);
text_id!(
    /// A unit, e.g. `DMK-MGW-1`; stable, used in tokens and topics.
    UnitId,
    32
);
