//! Moves SQLite's WAL checkpoints off the writer's commit path, onto a thread of their own.
//!
//! By default the connection that commits runs a checkpoint whenever the WAL
//! passes 1,000 pages: it copies those pages into the database file and
//! fsyncs it, inside that commit. Under load that put 10–20 ms stalls on the
//! single writer, and every request of the batch waited for them. The writer
//! therefore turns automatic checkpoints off, and this thread runs passive
//! checkpoints (which never block the writer) every few hundred milliseconds.
//! Durability is unchanged: a commit is durable once its WAL frames are
//! fsynced, which `synchronous=FULL` still does at every commit.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;

/// How often the WAL is copied back into the database file.
const EVERY: Duration = Duration::from_millis(250);

/// The checkpoint thread; it stops (after a last checkpoint) when dropped.
#[derive(Debug)]
pub struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    pub fn start(file: &Path) -> anyhow::Result<Checkpointer> {
        let conn =
            rusqlite::Connection::open(file).with_context(|| format!("opening {} for checkpoints", file.display()))?;
        conn.busy_timeout(Duration::from_secs(10))?;
        let (stop, stopped) = mpsc::channel::<()>();
        let file: PathBuf = file.to_owned();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || loop {
                let done = !matches!(stopped.recv_timeout(EVERY), Err(mpsc::RecvTimeoutError::Timeout));
                checkpoint(&conn, &file);
                if done {
                    break;
                }
            })
            .context("starting the checkpoint thread")?;
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

fn checkpoint(conn: &rusqlite::Connection, file: &Path) {
    // (busy, WAL frames, frames checkpointed): a passive checkpoint copies what
    // no reader still needs and leaves the rest for the next round.
    let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    });
    match result {
        Ok((_, log, done)) => tracing::trace!(log, done, "WAL checkpoint"),
        Err(e) => tracing::warn!(error = %e, file = %file.display(), "WAL checkpoint failed; will retry"),
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_copies_the_wal_into_the_database_file() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("db.sqlite");
        let writer = rusqlite::Connection::open(&file).expect("open");
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (x TEXT); \
                 WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 3000) \
                 INSERT INTO t SELECT hex(randomblob(500)) FROM c;",
            )
            .expect("fill");
        let size = || std::fs::metadata(&file).expect("db file").len();
        assert!(
            size() < 100_000,
            "without checkpoints the rows stay in the WAL ({} bytes)",
            size()
        );
        drop(Checkpointer::start(&file).expect("start")); // stopping runs one last checkpoint
        assert!(
            size() > 2_000_000,
            "the rows reached the database file ({} bytes)",
            size()
        );
        let count: i64 = writer
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(count, 3000);
    }
}
