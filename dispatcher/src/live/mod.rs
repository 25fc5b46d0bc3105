//! The live feed's hub: committed events, in sequence order, to projections and subscribers.
//!
//! The writer hands every committed batch to [`Hub::publish`]. The hub applies
//! it to the in-memory projections (unit index, active incidents, ack timers),
//! wraps each event's JSON, as the log stored it, into one shared [`Frame`],
//! keeps the most recent frames for replay, and broadcasts them. On
//! PostgreSQL with several nodes a follower task also pulls events other
//! nodes committed, and the hub fills any sequence gap from the store, so
//! every node publishes the same gap-free order.

pub mod runtime;
mod snapshots;
pub mod socket;
pub mod ws;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use incident_types::{EventRecord, IncidentId, UnitId};
use tokio::sync::{broadcast, watch};

use crate::dispatch::ack::AckTimers;
use crate::domain::Domain;
use crate::store::write::StoredEvent;
use crate::store::Store;
pub use snapshots::SharedSnapshot;

/// One event, serialised once and shared by every subscriber.
#[derive(Debug)]
pub struct Frame {
    pub seq: i64,
    pub kind: &'static str,
    pub incident_id: Option<IncidentId>,
    pub unit_id: Option<UnitId>,
    /// The `event` message, framed for the wire once for every subscriber.
    pub framed: socket::Framed,
}

impl Frame {
    /// The frame of a stored event: `ServerMessage::Event` as JSON, with the
    /// event's stored JSON spliced in rather than serialised again (the
    /// writer's thread builds every frame; an event can be kilobytes).
    fn new(stored: StoredEvent) -> Frame {
        let StoredEvent { record, body } = stored;
        #[derive(serde::Serialize)]
        struct Head<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            seq: i64,
            at: &'a chrono::DateTime<chrono::Utc>,
            actor: &'a incident_types::Actor,
        }
        let head = Head {
            kind: "event",
            seq: record.seq,
            at: &record.at,
            actor: &record.actor,
        };
        let json = match serde_json::to_string(&head) {
            // `{"type":"event",...,"actor":{...}}` becomes `{...,"event":BODY}`,
            // the field order serde gives `ServerMessage::Event` (tested).
            Ok(mut json) => {
                json.pop();
                json.reserve(body.len() + 10);
                json.push_str(",\"event\":");
                json.push_str(&body);
                json.push('}');
                json
            }
            Err(e) => {
                tracing::error!(error = %e, seq = record.seq, "event header not serialisable");
                String::from("{}")
            }
        };
        Frame {
            seq: record.seq,
            kind: record.event.kind(),
            incident_id: record.event.incident_id(),
            unit_id: record.event.unit_id().cloned(),
            framed: socket::Framed::text(&json),
        }
    }
}

#[derive(Debug)]
struct State {
    /// The newest sequence broadcast (and in the history).
    last_seq: i64,
    /// The newest sequence the projections have taken: ahead of `last_seq`
    /// while a batch is between [`Hub::apply`] and its broadcast, during which
    /// its writer has already answered. A subscriber's welcome reports this
    /// one, so a client that saw its POST answered sees a head that includes
    /// it; the frames in between reach the new receiver by broadcast.
    applied_seq: i64,
    history: VecDeque<Arc<Frame>>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    /// Held while publishing, so batches (and gap fills) go out one at a time.
    publishing: tokio::sync::Mutex<()>,
    tx: broadcast::Sender<Arc<Frame>>,
    history_cap: usize,
    store: Store,
    domain: Arc<Domain>,
    ack: OnceLock<AckTimers>,
    snapshots: snapshots::Snapshots,
}

/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

/// Events the projections have taken and subscribers have not yet been sent.
#[must_use = "subscribers get the events only when they are broadcast"]
#[derive(Debug)]
pub struct Applied<'a> {
    hub: &'a Hub,
    records: Vec<StoredEvent>,
    _turn: tokio::sync::MutexGuard<'a, ()>,
}

impl Applied<'_> {
    /// Sends the events to subscribers (and the replay history), in order.
    pub fn broadcast(self) {
        for record in self.records {
            self.hub.broadcast_one(record);
        }
    }
}

/// How a new subscriber starts.
#[derive(Debug)]
pub enum Start {
    /// Replay these frames (all after the asked-for sequence), then go live.
    Replay(Vec<Arc<Frame>>),
    /// The asked-for sequence is not retained (or none was given): send a snapshot.
    Snapshot,
}

impl Hub {
    /// `head_seq` is the newest sequence already reflected in the projections.
    pub fn new(store: Store, domain: Arc<Domain>, head_seq: i64, history_cap: usize, channel_cap: usize) -> Hub {
        let (tx, _) = broadcast::channel(channel_cap.max(16));
        Hub {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    last_seq: head_seq,
                    applied_seq: head_seq,
                    history: VecDeque::with_capacity(history_cap.min(100_000)),
                }),
                publishing: tokio::sync::Mutex::new(()),
                tx,
                history_cap,
                store,
                domain,
                ack: OnceLock::new(),
                snapshots: snapshots::Snapshots::default(),
            }),
        }
    }

    /// A snapshot of the current state as of `head` or later, shared with
    /// whoever else asks at the same time (see [`snapshots`]).
    pub async fn snapshot(&self, head: i64) -> Result<Arc<SharedSnapshot>, sqlx::Error> {
        self.inner.snapshots.at_least(&self.inner.store, head).await
    }

    pub fn set_ack_timers(&self, ack: AckTimers) {
        let _ = self.inner.ack.set(ack);
    }

    pub fn last_seq(&self) -> i64 {
        self.lock().last_seq
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes committed events, filling any gap before them from the store.
    pub async fn publish(&self, records: Vec<StoredEvent>) {
        self.apply(records).await.broadcast();
    }

    /// The first half of publishing: the projections (unit index, active
    /// incidents, ack timers) take the events now; subscribers get them when
    /// the returned [`Applied`] is broadcast. The writer answers its callers in
    /// between, so a reply never waits for the feed's serialisation, yet the
    /// next batch already sees this one in the projections. Batches stay in
    /// order: the next `apply` waits until this one is broadcast.
    pub async fn apply(&self, records: Vec<StoredEvent>) -> Applied<'_> {
        let turn = self.inner.publishing.lock().await;
        let mut last = self.last_seq();
        let mut pending = Vec::with_capacity(records.len());
        for stored in records {
            let seq = stored.record.seq;
            if seq <= last {
                continue;
            }
            if seq > last + 1 {
                self.fill_gap(last, seq - 1).await;
            }
            self.project(&stored.record);
            last = seq;
            pending.push(stored);
        }
        {
            let mut state = self.lock();
            state.applied_seq = state.applied_seq.max(last);
        }
        Applied {
            hub: self,
            records: pending,
            _turn: turn,
        }
    }

    /// Pulls events committed by other nodes up to the store's head.
    pub async fn catch_up(&self) {
        let _turn = self.inner.publishing.lock().await;
        match self.inner.store.head_seq().await {
            Ok(head) => {
                let last = self.last_seq();
                if head > last {
                    self.fill_gap(last, head).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "follower could not read the head sequence"),
        }
    }

    async fn fill_gap(&self, after: i64, up_to: i64) {
        let mut cursor = after;
        while cursor < up_to {
            let want = u32::try_from((up_to - cursor).min(1000)).unwrap_or(1000);
            match self.inner.store.events_after(cursor, want).await {
                Ok(batch) if !batch.is_empty() => {
                    for stored in batch {
                        cursor = stored.record.seq;
                        self.publish_one(stored);
                    }
                }
                Ok(_) => break,
                Err(e) => {
                    tracing::error!(error = %e, after = cursor, "could not read events to fill a gap");
                    break;
                }
            }
        }
    }

    fn publish_one(&self, stored: StoredEvent) {
        self.project(&stored.record);
        self.broadcast_one(stored);
    }

    fn project(&self, record: &EventRecord) {
        let domain = &self.inner.domain;
        domain.units.apply(&record.event);
        domain.incidents.apply(&record.event);
        if let Some(ack) = self.inner.ack.get() {
            ack.apply(&record.event);
        }
    }

    fn broadcast_one(&self, stored: StoredEvent) {
        let frame = Arc::new(Frame::new(stored));
        let mut state = self.lock();
        if state.history.len() >= self.inner.history_cap {
            state.history.pop_front();
        }
        if self.inner.history_cap > 0 {
            state.history.push_back(frame.clone());
        }
        state.last_seq = frame.seq;
        state.applied_seq = state.applied_seq.max(frame.seq);
        // No subscribers is fine: the event is in the store and the history.
        let _ = self.inner.tx.send(frame);
    }

    /// Subscribes; the receiver sees every frame published after this call.
    /// Returns how to start, the receiver, and the head sequence to announce
    /// (which may be ahead of the history by a batch being broadcast).
    pub fn subscribe(&self, after: Option<i64>) -> (Start, broadcast::Receiver<Arc<Frame>>, i64) {
        let state = self.lock();
        let rx = self.inner.tx.subscribe();
        let head = state.last_seq;
        let announced = state.applied_seq;
        let start = match after {
            // A sequence this node never reached (another centre's, or from
            // before a restore): the client's state is from another history.
            Some(seq) if seq > announced => Start::Snapshot,
            Some(seq) if seq >= head => Start::Replay(Vec::new()),
            Some(seq) if state.history.front().is_some_and(|f| f.seq <= seq + 1) => {
                Start::Replay(state.history.iter().filter(|f| f.seq > seq).cloned().collect())
            }
            _ => Start::Snapshot,
        };
        (start, rx, announced)
    }
}

/// On PostgreSQL, polls for events committed by other dispatcher nodes.
pub async fn follow_other_nodes(hub: Hub, every: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = tick.tick() => hub.catch_up().await,
        }
    }
}

/// Does the event belong to a topic? (Role checks happen in [`ws`].)
pub fn on_topic(frame: &Frame, topic: &Topic, unit_incident: Option<IncidentId>) -> bool {
    match topic {
        Topic::Console => frame.kind != "unit_moved",
        Topic::Map => !matches!(frame.kind, "call_updated" | "report_received"),
        Topic::Unit(id) => {
            frame.unit_id.as_ref() == Some(id)
                || (frame.incident_id.is_some()
                    && frame.incident_id == unit_incident
                    && frame.kind != "report_received"
                    && frame.kind != "call_updated")
        }
        Topic::Incident(id) => frame.incident_id == Some(*id),
    }
}

/// A feed topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topic {
    Console,
    Map,
    Unit(UnitId),
    Incident(IncidentId),
}

impl Topic {
    pub fn parse(s: &str) -> Option<Topic> {
        match s {
            "console" => Some(Topic::Console),
            "map" => Some(Topic::Map),
            _ => {
                if let Some(u) = s.strip_prefix("unit:") {
                    UnitId::parse("topic", u).ok().map(Topic::Unit)
                } else if let Some(i) = s.strip_prefix("incident:") {
                    i.parse().ok().map(Topic::Incident)
                } else {
                    None
                }
            }
        }
    }

    pub fn name(&self) -> String {
        match self {
            Topic::Console => "console".into(),
            Topic::Map => "map".into(),
            Topic::Unit(u) => format!("unit:{u}"),
            Topic::Incident(i) => format!("incident:{i}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use incident_types::feed::ServerMessage;
    use incident_types::{Actor, Event, IncidentStatus};

    async fn hub(dir: &std::path::Path) -> Hub {
        let store = Store::connect(&crate::store::sqlite_url(dir)).await.expect("store");
        Hub::new(store, Arc::new(Domain::for_tests()), 0, 100, 100)
    }

    fn record(seq: i64) -> StoredEvent {
        StoredEvent::new(EventRecord {
            seq,
            at: chrono::Utc::now(),
            actor: Actor::system(),
            event: Event::IncidentStatusChanged {
                incident_id: IncidentId(uuid::Uuid::now_v7()),
                from: IncidentStatus::New,
                to: IncidentStatus::Triaged,
                note: Some("a \"quoted\" note".into()),
            },
        })
        .expect("encodes")
    }

    #[test]
    fn a_frame_is_the_event_message_serde_would_write() {
        let stored = record(7);
        let expected = serde_json::to_string(&ServerMessage::Event(stored.record.clone())).expect("json");
        let frame = Frame::new(stored);
        assert_eq!(frame.framed.json(), expected);
        assert_eq!((frame.seq, frame.kind), (7, "incident_status_changed"));
    }

    #[tokio::test]
    async fn a_subscriber_between_apply_and_broadcast_sees_the_new_head_and_each_frame_once() {
        let dir = tempfile::tempdir().expect("dir");
        let hub = hub(dir.path()).await;
        hub.publish(vec![record(1), record(2)]).await;

        // The writer has applied seq 3 and 4 and answered; not yet broadcast.
        let applied = hub.apply(vec![record(3), record(4)]).await;
        let (start, mut rx, head) = hub.subscribe(Some(2));
        assert_eq!(head, 4, "the welcome includes what was already answered");
        let Start::Replay(frames) = start else {
            panic!("seq 2 is retained: a replay");
        };
        assert!(frames.is_empty(), "3 and 4 are not in the history yet");
        applied.broadcast();
        let got: Vec<i64> = [rx.recv().await, rx.recv().await]
            .into_iter()
            .map(|f| f.expect("frame").seq)
            .collect();
        assert_eq!(got, vec![3, 4], "they arrive by broadcast instead");
        assert!(rx.try_recv().is_err(), "and only once");

        // A client that claims a sequence this node never reached gets a snapshot.
        let (start, _, _) = hub.subscribe(Some(99));
        assert!(matches!(start, Start::Snapshot));
    }
}
