//! The time source: the system clock in production, tokio's (pausable) clock in tests.
//!
//! Timers such as acknowledgement deadlines are stored as wall-clock times and
//! slept on with tokio. Deriving wall time from tokio's `Instant` in tests lets
//! `tokio::time::pause()` drive both together, so no test has to sleep.

use chrono::{DateTime, Utc};
use std::time::Duration;

#[derive(Debug, Clone)]
pub enum Clock {
    System,
    /// Wall time = `base` + time elapsed on tokio's clock since `start`.
    Tokio {
        base: DateTime<Utc>,
        start: tokio::time::Instant,
    },
}

impl Clock {
    /// A clock that follows tokio's time (call inside a runtime, after `pause()`).
    pub fn tokio_driven(base: DateTime<Utc>) -> Self {
        Clock::Tokio {
            base,
            start: tokio::time::Instant::now(),
        }
    }

    /// The time, in whole microseconds: what the store keeps, so a time
    /// read back from a column equals the one the writer used.
    pub fn now(&self) -> DateTime<Utc> {
        let now = match self {
            Clock::System => Utc::now(),
            Clock::Tokio { base, start } => {
                let elapsed = chrono::Duration::from_std(start.elapsed()).unwrap_or(chrono::Duration::MAX);
                *base + elapsed
            }
        };
        from_micros(to_micros(now))
    }

    /// How long from now until `at` (zero if it has passed).
    pub fn until(&self, at: DateTime<Utc>) -> Duration {
        (at - self.now()).to_std().unwrap_or(Duration::ZERO)
    }
}

/// Microseconds since the Unix epoch: how times are stored.
pub fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}
