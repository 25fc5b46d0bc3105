//! Acknowledgement timers: a dispatched unit that does not acknowledge in time is flagged.
//!
//! Deadlines are stored with the assignment, so after a restart the timers are
//! re-armed from the store rather than lost with the process. The timer task
//! sleeps until the earliest deadline and then asks the writer to flag the
//! assignment; the writer's conditional update makes that a no-op if the unit
//! acknowledged in the meantime (or another node flagged it first).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use incident_types::{Event, IncidentId, UnitId};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use futures::future::BoxFuture;
use std::sync::Arc;

use crate::clock::Clock;
use crate::error::ApiError;
use crate::store::write::Assignment;

/// What to do when a deadline passes (the server flags the assignment through the writer).
pub type OnDue = Arc<dyn Fn(UnitId, IncidentId) -> BoxFuture<'static, Result<(), ApiError>> + Send + Sync>;

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
        on_due: OnDue,
        clock: Clock,
        pending: Vec<Assignment>,
        shutdown: watch::Receiver<bool>,
    ) -> (AckTimers, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        for a in pending {
            let _ = tx.send(Msg::Arm(a.ack_deadline, a.unit_id, a.incident_id));
        }
        let task = tokio::spawn(run(on_due, clock, rx, shutdown));
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
            Event::AssignmentAcknowledged { unit_id, incident_id }
            | Event::AssignmentAckOverdue {
                unit_id, incident_id, ..
            }
            | Event::AssignmentReleased { unit_id, incident_id } => Msg::Disarm(unit_id.clone(), *incident_id),
            _ => return,
        };
        // The task ends only at shutdown, when nothing needs timers any more.
        let _ = self.tx.send(msg);
    }
}

async fn run(on_due: OnDue, clock: Clock, mut rx: mpsc::UnboundedReceiver<Msg>, mut shutdown: watch::Receiver<bool>) {
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
                    let result = on_due(unit_id.clone(), incident_id).await;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    type Fired = Arc<Mutex<Vec<(UnitId, IncidentId, DateTime<Utc>)>>>;

    fn recorder(clock: Clock, fail_first: bool) -> (OnDue, Fired) {
        let fired: Fired = Arc::default();
        let log = fired.clone();
        let failed = Arc::new(Mutex::new(!fail_first));
        let on_due: OnDue = Arc::new(move |u, i| {
            let log = log.clone();
            let clock = clock.clone();
            let failed = failed.clone();
            Box::pin(async move {
                let mut f = failed.lock().expect("lock");
                if !*f {
                    *f = true;
                    return Err(ApiError::Unavailable);
                }
                log.lock().expect("lock").push((u, i, clock.now()));
                Ok(())
            })
        });
        (on_due, fired)
    }

    fn ids() -> (UnitId, IncidentId) {
        (UnitId("AMB-KTA-1".into()), IncidentId(uuid::Uuid::now_v7()))
    }

    fn assigned(u: &UnitId, i: IncidentId, deadline: DateTime<Utc>) -> Event {
        Event::UnitAssigned {
            unit_id: u.clone(),
            incident_id: i,
            ack_deadline: deadline,
            automatic: false,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn fires_at_the_deadline_and_not_before() {
        let clock = Clock::tokio_driven(Utc::now());
        let (on_due, fired) = recorder(clock.clone(), false);
        let (_tx, shutdown) = watch::channel(false);
        let (timers, _task) = AckTimers::start(on_due, clock.clone(), Vec::new(), shutdown);
        let (u, i) = ids();
        let deadline = clock.now() + chrono::Duration::seconds(30);
        timers.apply(&assigned(&u, i, deadline));
        tokio::time::sleep(Duration::from_millis(29_900)).await;
        assert!(fired.lock().expect("lock").is_empty());
        tokio::time::sleep(Duration::from_millis(200)).await;
        let got = fired.lock().expect("lock").clone();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].0.clone(), got[0].1), (u, i));
        assert!(got[0].2 >= deadline && got[0].2 - deadline < chrono::Duration::milliseconds(50));
    }

    #[tokio::test(start_paused = true)]
    async fn acknowledgement_disarms_the_timer() {
        let clock = Clock::tokio_driven(Utc::now());
        let (on_due, fired) = recorder(clock.clone(), false);
        let (_tx, shutdown) = watch::channel(false);
        let (timers, _task) = AckTimers::start(on_due, clock.clone(), Vec::new(), shutdown);
        let (u, i) = ids();
        timers.apply(&assigned(&u, i, clock.now() + chrono::Duration::seconds(30)));
        tokio::time::sleep(Duration::from_secs(10)).await;
        timers.apply(&Event::AssignmentAcknowledged {
            unit_id: u,
            incident_id: i,
        });
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert!(fired.lock().expect("lock").is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn stored_deadlines_are_rearmed_at_start_and_failures_retried() {
        let clock = Clock::tokio_driven(Utc::now());
        let (on_due, fired) = recorder(clock.clone(), true);
        let (_tx, shutdown) = watch::channel(false);
        let (u, i) = ids();
        // As after a restart: one deadline already passed while the server was down, one still ahead.
        let past = Assignment {
            unit_id: u.clone(),
            incident_id: i,
            dispatched_at: clock.now() - chrono::Duration::seconds(40),
            ack_deadline: clock.now() - chrono::Duration::seconds(10),
            acked: false,
            overdue: false,
        };
        let ahead = Assignment {
            unit_id: UnitId("POL-KTA-1".into()),
            ack_deadline: clock.now() + chrono::Duration::seconds(20),
            ..past.clone()
        };
        let (_timers, _task) = AckTimers::start(on_due, clock.clone(), vec![past, ahead], shutdown);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(fired.lock().expect("lock").is_empty(), "the first attempt failed");
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(fired.lock().expect("lock").len(), 1, "retried after 5 s");
        tokio::time::sleep(Duration::from_secs(15)).await;
        assert_eq!(fired.lock().expect("lock").len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_stops_the_task() {
        let clock = Clock::tokio_driven(Utc::now());
        let (on_due, _fired) = recorder(clock.clone(), false);
        let (tx, shutdown) = watch::channel(false);
        let (_timers, task) = AckTimers::start(on_due, clock, Vec::new(), shutdown);
        tx.send(true).expect("send");
        tokio::time::timeout(Duration::from_secs(1), task)
            .await
            .expect("stops")
            .expect("joins");
    }
}
