//! The services commands and handlers share: clock, classifier, plans and the live indexes.

use std::sync::Arc;

use crate::classify::Classifier;
use crate::clock::Clock;
use crate::dispatch::dedupe::ActiveIncidents;
use crate::dispatch::index::UnitIndex;
use crate::dispatch::plans::ResponsePlans;

/// How reports are grouped into one incident.
#[derive(Debug, Clone)]
pub struct DuplicatePolicy {
    /// A report within this distance of an open incident...
    pub radius_m: f64,
    /// ...opened at most this long ago, of a compatible category, joins it.
    pub window: chrono::Duration,
    /// Calls from one number within this window are marked as repeats.
    pub repeat_window: chrono::Duration,
}

impl Default for DuplicatePolicy {
    fn default() -> Self {
        DuplicatePolicy {
            radius_m: 300.0,
            window: chrono::Duration::minutes(10),
            repeat_window: chrono::Duration::minutes(30),
        }
    }
}

#[derive(Debug)]
pub struct Domain {
    pub clock: Clock,
    pub classifier: Arc<Classifier>,
    pub plans: ResponsePlans,
    pub units: UnitIndex,
    pub incidents: ActiveIncidents,
    pub duplicates: DuplicatePolicy,
}

impl Domain {
    pub fn new(clock: Clock, classifier: Arc<Classifier>, plans: ResponsePlans, duplicates: DuplicatePolicy) -> Self {
        let units = UnitIndex::new(plans.dispatch_returning);
        Domain {
            clock,
            classifier,
            plans,
            units,
            incidents: ActiveIncidents::default(),
            duplicates,
        }
    }

    /// The embedded classifier and response plans, the system clock, default
    /// duplicate policy: what unit tests of the writer and the hub run on.
    #[cfg(test)]
    pub(crate) fn for_tests() -> Domain {
        Domain::new(
            Clock::System,
            Arc::new(Classifier::embedded().expect("embedded classifier")),
            ResponsePlans::embedded().expect("embedded response plans"),
            DuplicatePolicy::default(),
        )
    }
}
