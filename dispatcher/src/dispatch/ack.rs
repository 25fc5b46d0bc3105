//! Acknowledgement timers: a dispatched unit that does not acknowledge in time is flagged.
//!
//! Deadlines are stored with the assignment, so after a restart the timers are
//! re-armed from the store rather than lost with the process. The timer task
//! sleeps until the earliest deadline and then asks the writer to flag the
//! assignment; the writer's conditional update makes that a no-op if the unit
//! acknowledged in the meantime (or another node flagged it first).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use incident_types::{Actor, Event, IncidentId, UnitId};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::core::units::FlagOverdue;
use crate::core::Core;
use crate::store::write::Assignment;

#[derive(Debug)]
enum Msg {
    Arm(DateTime<Utc>, UnitId, IncidentId),
    Disarm(UnitId, IncidentId),
}

/// Feeds the timer task from committed events.
#[derive(Debug, Clone)]
pub struct AckTimers {
    tx: mpsc::UnboundedSender<Msg>,
}

impl AckTimers {
    /// Starts the timer task with the pending assignments read from the store.
    pub fn start(
        core: Core,
        clock: Clock,
        pending: Vec<Assignment>,
        shutdown: watch::Receiver<bool>,
    ) -> (AckTimers, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        for a in pending {
            let _ = tx.send(Msg::Arm(a.ack_deadline, a.unit_id, a.incident_id));
        }
        let task = tokio::spawn(run(core, clock, rx, shutdown));
        (AckTimers { tx }, task)
    }

    /// Arms or disarms a timer for a committed event.
    pub fn apply(&self, event: &Event) {
        let msg = match event {
            Event::UnitAssigned {
                unit_id,
                incident_id,
                ack_deadline,
                ..
            } => Msg::Arm(*ack_deadline, unit_id.clone(), *incident_id),
            Event::AssignmentAcknowledged {
                unit_id,
                incident_id,
            }
            | Event::AssignmentAckOverdue {
                unit_id,
                incident_id,
                ..
            }
            | Event::AssignmentReleased {
                unit_id,
                incident_id,
            } => Msg::Disarm(unit_id.clone(), *incident_id),
            _ => return,
        };
        // The task ends only at shutdown, when nothing needs timers any more.
        let _ = self.tx.send(msg);
    }
}

async fn run(
    core: Core,
    clock: Clock,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut due: BTreeSet<(DateTime<Utc>, UnitId, IncidentId)> = BTreeSet::new();
    loop {
        let next = due.first().cloned();
        let sleep = async {
            match &next {
                Some((at, _, _)) => tokio::time::sleep(clock.until(*at)).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = shutdown.changed() => break,
            msg = rx.recv() => match msg {
                Some(Msg::Arm(at, unit, incident)) => { due.insert((at, unit, incident)); }
                Some(Msg::Disarm(unit, incident)) => due.retain(|(_, u, i)| !(u == &unit && i == &incident)),
                None => break,
            },
            () = sleep => {
                if let Some(entry) = next {
                    due.remove(&entry);
                    let (_, unit_id, incident_id) = entry;
                    let result = core.execute(Actor::system(), FlagOverdue { unit_id: unit_id.clone(), incident_id }).await;
                    if let Err(e) = result {
                        // Try again shortly: a deadline is never silently forgotten.
                        due.insert((clock.now() + chrono::Duration::seconds(5), unit_id.clone(), incident_id));
                        tracing::warn!(unit = %unit_id, incident = %incident_id, error = %e, "could not flag overdue acknowledgement");
                    }
                }
            }
        }
    }
}
