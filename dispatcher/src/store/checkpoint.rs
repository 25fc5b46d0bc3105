//! Moves SQLite's WAL checkpoints off the writer's commit path, onto a thread of their own.
//!
//! By default the connection that commits runs a checkpoint whenever the WAL
//! passes 1,000 pages: it copies those pages into the database file and
//! fsyncs it, inside that commit. Under load that put 10–20 ms stalls on the
//! single writer, and every request of the batch waited for them. The writer
//! therefore turns automatic checkpoints off, and this thread runs passive
//! checkpoints (which never block the writer) every 50 ms, and after each one
//! starts the kernel writing out the pages it copied (see [`EVERY`]).
//! Durability is unchanged: a commit is durable once its WAL frames are
//! fsynced, which `synchronous=FULL` still does at every commit.
//!
//! A passive checkpoint alone never lets the WAL start over: SQLite rewinds
//! it only when a write begins with every frame already copied back, and
//! under steady load the writer always commits more frames while this thread
//! copies (a 10-second benchmark grew the WAL to 1.7 GB). Appending to an
//! ever-growing file is also what made commits expensive: each new block is
//! allocated and zeroed, and each `fdatasync` must journal the new size. So
//! once the WAL is past [`REWIND_ABOVE_FRAMES`], this thread asks the writer
//! ([`Checkpointer::rewind_if_wanted`]) to copy the last few frames itself between
//! two batches, when nothing else can append; its next transaction then
//! rewinds the WAL, which from then on is overwritten in place.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;

use super::dbfile::Writeback;

/// How often the WAL is copied back into the database file.
///
/// Often, in small passes, each followed by a non-blocking start of the
/// database file's writeback ([`Writeback`]): the disk then
/// takes those writes in small runs between the WAL's commits. Every 250 ms,
/// with the copied pages left dirty until the sync before a rewind wrote
/// them all at once, commits behind that burst took 10-17 ms. The ingest
/// benchmark's open loop (1,000 reports/s), alternating runs of 2026-12-04:
/// p99 17-29 ms before, 8-11 ms after on a slow machine (a first version);
/// 6.1-9.2 ms before, 4.3-6.8 ms after on a faster one. The price: 5-10 %
/// of the closed loop's saturated rate (pages copied more than once), a load
/// far above a 112 centre's (`docs/benchmarks.md`).
const EVERY: Duration = Duration::from_millis(50);
/// WAL size (in 4 KiB pages: 64 MiB) above which the writer is asked to let it
/// start over. Each rewind costs the writer a pause of a few milliseconds; at
/// full load the WAL grows by ~150 MB/s, so a smaller bound means more pauses.
pub const REWIND_ABOVE_FRAMES: i64 = 16_384;

/// The checkpoint thread; it stops (after a last checkpoint) when dropped.
#[derive(Debug)]
pub struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    rewind: Arc<AtomicBool>,
    file: PathBuf,
}

impl Checkpointer {
    pub fn start(file: &Path) -> anyhow::Result<Checkpointer> {
        let conn =
            rusqlite::Connection::open(file).with_context(|| format!("opening {} for checkpoints", file.display()))?;
        conn.busy_timeout(Duration::from_secs(10))?;
        let (stop, stopped) = mpsc::channel::<()>();
        let path: PathBuf = file.to_owned();
        let file = path.clone();
        let rewind = Arc::new(AtomicBool::new(false));
        let ask = rewind.clone();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                let mut rounds = Rounds::new(&conn, &file, REWIND_ABOVE_FRAMES);
                loop {
                    let done = !matches!(stopped.recv_timeout(EVERY), Err(mpsc::RecvTimeoutError::Timeout));
                    rounds.round(&conn, &file, &ask);
                    if done {
                        break;
                    }
                }
            })
            .context("starting the checkpoint thread")?;
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
            rewind,
            file: path,
        })
    }

    /// Called by the writer, with its own connection, between two batches.
    /// When this thread has asked for it (the WAL is large and mostly copied
    /// back), copies the frames committed since; nothing else can append
    /// meanwhile, so the writer's next transaction rewinds the WAL.
    pub fn rewind_if_wanted(&self, writer: &rusqlite::Connection) {
        if self.rewind.swap(false, Ordering::AcqRel) {
            if let Some((frames, _)) = checkpoint(writer, &self.file) {
                tracing::debug!(
                    frames,
                    "WAL copied back by the writer; it starts over at the next commit"
                );
            }
        }
    }
}

/// What the thread remembers from one round to the next.
struct Rounds<'conn> {
    rewind_above_frames: i64,
    /// How far into the WAL the last pass had copied (a new pass that got
    /// further has left pages to write out).
    copied: i64,
    /// The database file's writeback, set up once; none if that failed or a
    /// start later did (said once in the log, not at every pass).
    writeback: Option<Writeback<'conn>>,
}

impl<'conn> Rounds<'conn> {
    fn new(conn: &'conn rusqlite::Connection, file: &Path, rewind_above_frames: i64) -> Rounds<'conn> {
        let writeback = Writeback::of(conn, file)
            .inspect_err(|e| tracing::warn!(error = %e, file = %file.display(), "{NO_WRITEBACK}"))
            .ok();
        Rounds {
            rewind_above_frames,
            copied: 0,
            writeback,
        }
    }

    /// A passive checkpoint, then the start of the copied pages' writeback
    /// and, when the WAL has grown past the bound, catching up, syncing the
    /// database file and asking the writer to let it start over.
    fn round(&mut self, conn: &rusqlite::Connection, file: &Path, ask: &AtomicBool) {
        let Some((log, copied)) = checkpoint(conn, file) else {
            return;
        };
        if copied != self.copied {
            if let Some(Err(e)) = self.writeback.as_ref().map(Writeback::start) {
                tracing::warn!(error = %e, file = %file.display(), "{NO_WRITEBACK}");
                self.writeback = None;
            }
        }
        self.copied = copied;
        if log > self.rewind_above_frames {
            catch_up(conn, file);
            sync_database(conn, file);
            // What was committed during the sync; copied, not yet synced.
            catch_up(conn, file);
            ask.store(true, Ordering::Release);
        }
    }
}

const NO_WRITEBACK: &str =
    "cannot start writing the database file out after checkpoints; it is written out before each WAL rewind only";

/// Flushes the pages the passes copied into the database file.
///
/// SQLite syncs the database file only at the end of a checkpoint that
/// reaches the end of the WAL, and under load only the writer's own pass
/// does that: so its `fdatasync` wrote out everything this thread had copied
/// since the last rewind (64 MiB of WAL's worth of pages) and took 48-71 ms
/// on the writer's thread, with about fifty 112 reports queued behind it
/// (timed, and seen with `strace`, at 1,000 reports/s). Synced here first,
/// the writer's sync has only its last few pages left: its pass took
/// 0.1-10 ms, once 19 ms (timing build of the ingest benchmark, 2026-12-04).
fn sync_database(conn: &rusqlite::Connection, file: &Path) {
    if let Err(e) = super::dbfile::sync_main_file(conn) {
        tracing::warn!(error = %e, file = %file.display(), "could not sync the database file before a WAL rewind");
    }
}

/// Before the writer is asked to finish: passes back to back, each copying
/// what was committed during the one before, until a pass is quick. The
/// writer's own pass between two batches then has only a few milliseconds of
/// frames left to copy (a whole period's worth stalled it for tens).
fn catch_up(conn: &rusqlite::Connection, file: &Path) {
    for _ in 0..8 {
        let started = std::time::Instant::now();
        if checkpoint(conn, file).is_none() || started.elapsed() < QUICK_PASS {
            return;
        }
    }
}

/// A pass this short leaves little for the writer to copy.
const QUICK_PASS: Duration = Duration::from_millis(3);

/// A passive checkpoint; the WAL's size in frames and how many of them are
/// copied into the database file, if it ran.
fn checkpoint(conn: &rusqlite::Connection, file: &Path) -> Option<(i64, i64)> {
    // (busy, WAL frames, frames checkpointed): a passive checkpoint copies what
    // no reader still needs and leaves the rest for the next round.
    let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    });
    match result {
        Ok((busy, log, done)) => {
            tracing::trace!(busy, log, done, "WAL checkpoint");
            (busy == 0).then_some((log, done))
        }
        Err(e) => {
            tracing::warn!(error = %e, file = %file.display(), "WAL checkpoint failed; will retry");
            None
        }
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

    /// Commits 2,000 transactions of ~4 KiB each (8 MiB in all) as the writer
    /// does, with a round of the checkpoint thread after every 16, run here
    /// in order rather than on the thread's timer. Under load the writer
    /// always commits while a checkpoint copies, so the checkpoint never
    /// reaches the end of the WAL; a reader that holds a snapshot from before
    /// the last commit does the same here, deterministically. Returns the
    /// WAL file's size at the end.
    fn wal_after_steady_writes(rewind: bool) -> u64 {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("db.sqlite");
        let writer = rusqlite::Connection::open(&file).expect("open");
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; PRAGMA wal_autocheckpoint = 0; \
                 CREATE TABLE t (x TEXT);",
            )
            .expect("schema");
        let thread_conn = rusqlite::Connection::open(&file).expect("checkpoint connection");
        let mut rounds = Rounds::new(&thread_conn, &file, 64);
        let reader = rusqlite::Connection::open(&file).expect("reader");
        let checkpoints = Checkpointer {
            stop: None,
            thread: None,
            rewind: Arc::new(AtomicBool::new(false)),
            file: file.clone(),
        };
        let insert = || {
            writer
                .execute("INSERT INTO t VALUES (hex(randomblob(2000)))", [])
                .expect("insert");
        };
        for _ in 0..125 {
            for _ in 0..15 {
                insert();
            }
            reader
                .execute_batch("BEGIN; SELECT COUNT(*) FROM t;")
                .expect("snapshot");
            insert();
            rounds.round(&thread_conn, &file, &checkpoints.rewind);
            reader.execute_batch("COMMIT").expect("end snapshot");
            if rewind {
                checkpoints.rewind_if_wanted(&writer);
            }
        }
        // Set up on the plain connection, and no start of it failed (a failure turns it off).
        assert!(rounds.writeback.is_some(), "the copied pages' writeback stayed on");
        std::fs::metadata(dir.path().join("db.sqlite-wal")).expect("wal").len()
    }

    #[test]
    fn the_wal_starts_over_instead_of_growing_under_steady_writes() {
        let grown = wal_after_steady_writes(false);
        assert!(
            grown > 2000 * 4096,
            "without the writer's help the WAL keeps every frame ({grown} bytes)"
        );
        let bounded = wal_after_steady_writes(true);
        assert!(
            bounded * 4 < grown,
            "with it the WAL is rewound and reused ({bounded} bytes, {grown} without)"
        );
    }
}
