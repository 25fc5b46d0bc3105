//! Snapshots for new subscribers, shared: one store read and one serialisation serve every console that joins at once.
//!
//! After a network blip every console of the centre reconnects within a
//! second, each asking for a snapshot (megabytes on a busy day). Reading and
//! serialising one per connection took the reader pool from everything else
//! (requests then timed out waiting for a connection). A new subscriber can
//! use any snapshot taken at or after the sequence its live stream starts
//! from, so concurrent requests wait for the one being read and share it.

use std::sync::{Arc, OnceLock};

use incident_types::feed::{ServerMessage, SnapshotReason};

use super::socket::Framed;
use crate::store::{Snapshot, Store};

/// A snapshot and its staff messages, serialised at most once per reason.
#[derive(Debug)]
pub struct SharedSnapshot {
    pub snapshot: Snapshot,
    /// Indexed by [`reason_index`].
    staff_messages: [OnceLock<Framed>; 2],
}

fn reason_index(reason: SnapshotReason) -> usize {
    match reason {
        SnapshotReason::NoLastSeq => 0,
        SnapshotReason::HistoryGap => 1,
    }
}

impl SharedSnapshot {
    /// The whole snapshot as staff (consoles, supervisors) see it, as a `snapshot` message.
    pub fn staff_message(&self, reason: SnapshotReason) -> Framed {
        self.staff_messages[reason_index(reason)]
            .get_or_init(|| {
                let s = &self.snapshot;
                let msg = ServerMessage::Snapshot {
                    seq: s.seq,
                    reason,
                    incidents: s.incidents.clone(),
                    units: s.units.clone(),
                    calls: s.calls.clone(),
                };
                Framed::text(&serde_json::to_string(&msg).unwrap_or_default())
            })
            .clone()
    }
}

/// The most recent snapshot, shared by the subscribers that can use it.
#[derive(Debug, Default)]
pub struct Snapshots {
    latest: tokio::sync::Mutex<Option<Arc<SharedSnapshot>>>,
}

impl Snapshots {
    /// A snapshot as of `head` or later: the latest one if it is recent
    /// enough, else a fresh read (which everyone asking meanwhile then shares).
    pub async fn at_least(&self, store: &Store, head: i64) -> Result<Arc<SharedSnapshot>, sqlx::Error> {
        let mut latest = self.latest.lock().await;
        if let Some(shared) = latest.as_ref().filter(|s| s.snapshot.seq >= head) {
            return Ok(shared.clone());
        }
        let fresh = Arc::new(SharedSnapshot {
            snapshot: store.snapshot().await?,
            staff_messages: Default::default(),
        });
        *latest = Some(fresh.clone());
        Ok(fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn concurrent_subscribers_share_one_snapshot_but_never_an_older_one() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::connect(&crate::store::sqlite_url(dir.path()))
            .await
            .expect("store");
        let snapshots = Snapshots::default();
        let (a, b) = tokio::join!(snapshots.at_least(&store, 0), snapshots.at_least(&store, 0));
        let (a, b) = (a.expect("first"), b.expect("second"));
        assert!(Arc::ptr_eq(&a, &b), "two subscribers at once: one read");
        assert_eq!(a.snapshot.seq, 0);
        let message = a.staff_message(SnapshotReason::HistoryGap);
        assert!(
            message.json().contains(r#""reason":"history_gap""#),
            "{}",
            message.json()
        );
        assert_eq!(
            a.staff_message(SnapshotReason::HistoryGap).wire().as_ptr(),
            message.wire().as_ptr(),
            "serialised once, reused"
        );
        // A subscriber whose live stream starts after the cached snapshot must not get it.
        let later = snapshots.at_least(&store, 1).await.expect("later");
        assert!(!Arc::ptr_eq(&a, &later), "a fresh read for a newer head");
        store.close().await;
    }
}
