//! The single writer: every state change goes through here, batched into group commits.
//!
//! Handlers send a [`Command`] to the writer task and wait. The writer takes
//! every command that is waiting (up to a batch limit), runs each in its own
//! savepoint inside one transaction, commits once (one fsync for the whole
//! batch), publishes the committed events, and only then answers each
//! handler. So a request is acknowledged only after it is durable, and
//! durability costs one fsync per batch rather than per request.
//!
//! One writer also makes each command see the effects of the ones before it,
//! which is what keeps a unit from being dispatched twice within a node; the
//! conditional updates in [`crate::store::write`] keep it so across nodes.
//!
//! On SQLite the writer owns a native connection and runs on a thread of its
//! own ([`WRITER_THREAD`]): its statements take microseconds, so it
//! never waits on I/O except the commit's fsync, and it must not hold up the
//! runtime's workers, which serve HTTP and the feed. On PostgreSQL it is an
//! ordinary task that awaits the network.

pub mod calls;
pub mod incidents;
pub mod intake;
pub mod merge;
pub mod units;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use incident_types::{Actor, Event, EventRecord};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::domain::Domain;
use crate::error::ApiError;
use crate::live::Hub;
use crate::store::checkpoint::Checkpointer;
use crate::store::sql::{execute_batch, WriteConn};
use crate::store::{write, Store};

/// Most commands committed in one transaction.
const MAX_BATCH: usize = 512;
/// Commands that may wait for the writer before senders are slowed down.
const QUEUE_DEPTH: usize = 4096;
/// The name of the SQLite writer's thread.
pub const WRITER_THREAD: &str = "sqlite-writer";

/// A state change, run by the writer inside a savepoint.
#[async_trait]
pub trait Command: Send + 'static {
    type Output: Serialize + DeserializeOwned + Send + 'static;
    /// Whether the writer must run this command in a savepoint of its own.
    ///
    /// A savepoint lets a command fail half-way without undoing its batch,
    /// but SQLite then copies every page the command touches to the
    /// sub-journal first (11 % of the writer's time for reports, `perf`). A
    /// command whose checks all come before its first write, so that after it
    /// only a database error can fail it, may say `false`. The writer still
    /// checks: a command that fails after writing without a savepoint rolls
    /// back its whole batch, and every command of that batch is answered 503
    /// (nothing is acknowledged, so nothing is lost; callers retry).
    const NEEDS_SAVEPOINT: bool = true;
    async fn apply(self, w: &mut Write<'_>) -> Result<Self::Output, ApiError>;
}

/// What a command sees while it runs: the transaction, the time, who asked, and the domain services.
pub struct Write<'a> {
    pub conn: WriteConn<'a>,
    pub now: DateTime<Utc>,
    pub actor: Actor,
    pub domain: &'a Domain,
    /// Events committed-to-be by earlier commands of this batch (not yet in the live indexes).
    pub earlier: &'a [EventRecord],
    events: Vec<EventRecord>,
}

impl std::fmt::Debug for Write<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Write")
            .field("now", &self.now)
            .field("actor", &self.actor)
            .finish()
    }
}

impl Write<'_> {
    /// Appends an event by this command's actor.
    pub async fn emit(&mut self, event: Event) -> Result<(), ApiError> {
        let actor = self.actor.clone();
        self.emit_as(&actor, event).await
    }

    /// Appends an event by another actor (e.g. the system acting on a person's request).
    ///
    /// Events are kept in memory and written with the batch (one counter update
    /// and a few multi-row inserts per batch, not two statements per event);
    /// a rolled-back command's events are simply dropped. They get their
    /// sequence numbers then, so `seq` is 0 until the batch commits.
    pub async fn emit_as(&mut self, actor: &Actor, event: Event) -> Result<(), ApiError> {
        self.events.push(EventRecord {
            seq: 0,
            at: self.now,
            actor: actor.clone(),
            event,
        });
        Ok(())
    }
}

/// Makes a retried request return the first answer instead of acting twice.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    /// Keys are scoped to the token holder that sent them.
    pub principal: String,
    pub key: String,
    /// Hash of the request; the same key with another request is a 409.
    pub fingerprint: String,
}

#[async_trait]
trait Job: Send {
    async fn run(&mut self, w: &mut Write<'_>) -> Result<(), ApiError>;
    fn actor(&self) -> Actor;
    fn needs_savepoint(&self) -> bool;
    fn complete(self: Box<Self>, outcome: Result<(), ApiError>);
}

struct Pending<C: Command> {
    command: Option<C>,
    actor: Actor,
    idempotency: Option<IdempotencyKey>,
    output: Option<C::Output>,
    reply: oneshot::Sender<Result<C::Output, ApiError>>,
}

#[async_trait]
impl<C: Command> Job for Pending<C> {
    async fn run(&mut self, w: &mut Write<'_>) -> Result<(), ApiError> {
        if let Some(k) = &self.idempotency {
            if let Some((fingerprint, response)) = write::idempotent_response(&mut w.conn, &k.principal, &k.key).await?
            {
                if fingerprint != k.fingerprint {
                    return Err(ApiError::Conflict {
                        code: "idempotency_key_reused",
                        message: "this Idempotency-Key was used for a different request".into(),
                    });
                }
                self.output = Some(serde_json::from_str(&response)?);
                return Ok(());
            }
        }
        let command = self
            .command
            .take()
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("command run twice")))?;
        let output = command.apply(w).await?;
        if let Some(k) = &self.idempotency {
            let response = serde_json::to_string(&output)?;
            write::store_idempotent_response(&mut w.conn, &k.principal, &k.key, &k.fingerprint, &response, w.now)
                .await?;
        }
        self.output = Some(output);
        Ok(())
    }

    fn actor(&self) -> Actor {
        self.actor.clone()
    }

    fn needs_savepoint(&self) -> bool {
        C::NEEDS_SAVEPOINT
    }

    fn complete(self: Box<Self>, outcome: Result<(), ApiError>) {
        let Pending { output, reply, .. } = *self;
        let result = outcome.and_then(|()| {
            output.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("command finished without output")))
        });
        // The handler may have gone (client disconnected): the change is committed regardless.
        let _ = reply.send(result);
    }
}

/// Handle to the writer task; cheap to clone.
#[derive(Debug, Clone)]
pub struct Core {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl std::fmt::Debug for dyn Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

impl Core {
    /// Starts the writer. It stops when every `Core` handle is dropped, after
    /// committing what it had received.
    pub fn start(store: Store, domain: Arc<Domain>, hub: Hub) -> anyhow::Result<(Core, JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let task = match store.open_native_writer()? {
            Some((conn, checkpointer)) => {
                let writer = Writer::Sqlite {
                    conn,
                    checkpoints: checkpointer,
                };
                // A thread of its own with a name (`top -H`, `perf`, and the
                // ingest benchmark's writer-CPU figure find it), inside the
                // runtime's context for the store's pooled reads.
                let runtime = tokio::runtime::Handle::current();
                let (finished, done) = oneshot::channel::<()>();
                std::thread::Builder::new().name(WRITER_THREAD.into()).spawn(move || {
                    let _context = runtime.enter();
                    futures::executor::block_on(writer_loop(writer, domain, hub, rx));
                    let _ = finished.send(());
                })?;
                // Resolves when the writer has drained (or its thread died).
                tokio::spawn(async move {
                    if done.await.is_err() {
                        tracing::error!(
                            "the SQLite writer thread died before draining (a panic): nothing more is written"
                        );
                    }
                })
            }
            None => tokio::spawn(writer_loop(Writer::Pool(store.writer.clone()), domain, hub, rx)),
        };
        Ok((Core { jobs: tx }, task))
    }

    /// Runs a command and returns its output once it is committed.
    pub async fn execute<C: Command>(&self, actor: Actor, command: C) -> Result<C::Output, ApiError> {
        self.execute_idempotent(actor, None, command).await
    }

    pub async fn execute_idempotent<C: Command>(
        &self,
        actor: Actor,
        idempotency: Option<IdempotencyKey>,
        command: C,
    ) -> Result<C::Output, ApiError> {
        let (reply, answer) = oneshot::channel();
        let job = Pending {
            command: Some(command),
            actor,
            idempotency,
            output: None,
            reply,
        };
        self.jobs.send(Box::new(job)).await.map_err(|_| ApiError::Unavailable)?;
        answer.await.map_err(|_| ApiError::Unavailable)?
    }
}

/// What the writer writes through.
#[derive(Debug)]
enum Writer {
    /// The native SQLite connection (the embedded default), and the thread
    /// that checkpoints its WAL (stopped when the writer ends).
    Sqlite {
        conn: rusqlite::Connection,
        checkpoints: Checkpointer,
    },
    /// A one-connection sqlx pool (PostgreSQL).
    Pool(AnyPool),
}

async fn writer_loop(mut writer: Writer, domain: Arc<Domain>, hub: Hub, mut rx: mpsc::Receiver<Box<dyn Job>>) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while let Some(job) = rx.recv().await {
        batch.push(job);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let jobs = std::mem::take(&mut batch);
        commit_batch(&mut writer, &domain, &hub, jobs).await;
        if let Writer::Sqlite { conn, checkpoints } = &writer {
            checkpoints.rewind_if_wanted(conn);
        }
    }
    tracing::debug!("writer drained and stopped");
}

/// Runs a batch in one transaction and answers every job after the commit.
async fn commit_batch(writer: &mut Writer, domain: &Domain, hub: &Hub, mut jobs: Vec<Box<dyn Job>>) {
    let mut outcomes: Vec<Result<(), ApiError>> = Vec::with_capacity(jobs.len());
    let mut records: Vec<EventRecord> = Vec::new();
    let mut pooled;
    let (mut conn, begin) = match writer {
        // IMMEDIATE takes the write lock now rather than at the first write, so
        // a batch cannot fail half-way on a lock another process holds.
        Writer::Sqlite { conn, .. } => (WriteConn::Sqlite(conn), "BEGIN IMMEDIATE"),
        Writer::Pool(pool) => match pool.acquire().await {
            Ok(c) => {
                pooled = c;
                (WriteConn::Sqlx(&mut pooled), "BEGIN")
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = jobs.len(), "no writer connection; nothing acknowledged");
                for job in jobs {
                    job.complete(Err(ApiError::Unavailable));
                }
                return;
            }
        },
    };
    let committed = async {
        execute_batch(&mut conn, begin).await?;
        // Each command runs in a savepoint so a failing one leaves the others'
        // work intact; closing one and opening the next is one call. Commands
        // that need none (see `Command::NEEDS_SAVEPOINT`) run without, where the
        // connection can tell whether a failed one wrote anything.
        let mut open = false;
        for job in jobs.iter_mut() {
            let changes_before = if job.needs_savepoint() {
                None
            } else {
                conn.total_changes()
            };
            let step = match (changes_before, open) {
                (None, true) => Some("RELEASE SAVEPOINT job; SAVEPOINT job"),
                (None, false) => Some("SAVEPOINT job"),
                (Some(_), true) => Some("RELEASE SAVEPOINT job"),
                (Some(_), false) => None,
            };
            if let Some(step) = step {
                execute_batch(&mut conn, step).await?;
            }
            open = changes_before.is_none();
            let mut w = Write {
                conn: conn.reborrow(),
                now: domain.clock.now(),
                actor: job.actor(),
                domain,
                earlier: &records,
                events: Vec::new(),
            };
            let outcome = job.run(&mut w).await;
            let events = std::mem::take(&mut w.events);
            match outcome {
                Ok(()) => {
                    records.extend(events);
                    outcomes.push(Ok(()));
                }
                Err(e) if open => {
                    execute_batch(&mut conn, "ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job").await?;
                    open = false;
                    outcomes.push(Err(e));
                }
                // Failed before its first write: there is nothing to undo.
                Err(e) if conn.total_changes() == changes_before => outcomes.push(Err(e)),
                Err(e) => anyhow::bail!("a command without a savepoint failed after writing: {e}"),
            }
        }
        if open {
            execute_batch(&mut conn, "RELEASE SAVEPOINT job").await?;
        }
        let events = write::append_events(&mut conn, std::mem::take(&mut records)).await?;
        execute_batch(&mut conn, "COMMIT").await?;
        Ok::<_, anyhow::Error>(events)
    }
    .await;

    match committed {
        Ok(events) => {
            // Projections first (the next batch must see this one), then the
            // answers, then the feed.
            let applied = hub.apply(events).await;
            for (job, outcome) in jobs.into_iter().zip(outcomes) {
                job.complete(outcome);
            }
            applied.broadcast();
        }
        Err(e) => {
            tracing::error!(error = %e, jobs = jobs.len(), "batch not committed; nothing acknowledged");
            // Leave the connection outside any transaction for the next batch.
            if let Err(rollback) = execute_batch(&mut conn, "ROLLBACK").await {
                tracing::debug!(error = %rollback, "rollback after a failed batch");
            }
            for job in jobs {
                job.complete(Err(ApiError::Unavailable));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::execute;

    /// Writes a row into `incident_numbers` (year = `year`), then fails if asked to.
    struct Mark<const SAVEPOINT: bool> {
        year: i64,
        fail_before_writing: bool,
        fail_after_writing: bool,
    }

    #[async_trait]
    impl<const SAVEPOINT: bool> Command for Mark<SAVEPOINT> {
        type Output = i64;
        const NEEDS_SAVEPOINT: bool = SAVEPOINT;
        async fn apply(self, w: &mut Write<'_>) -> Result<i64, ApiError> {
            if self.fail_before_writing {
                return Err(ApiError::bad_field("year", "refused before writing"));
            }
            execute(
                &mut w.conn,
                "INSERT INTO incident_numbers (year, last) VALUES ($1, 0)",
                &[self.year.into()],
            )
            .await?;
            if self.fail_after_writing {
                return Err(ApiError::bad_field("year", "refused after writing"));
            }
            Ok(self.year)
        }
    }

    type Answer = oneshot::Receiver<Result<i64, ApiError>>;

    fn job<const S: bool>(year: i64, before: bool, after: bool) -> (Box<dyn Job>, Answer) {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            command: Some(Mark::<S> {
                year,
                fail_before_writing: before,
                fail_after_writing: after,
            }),
            actor: Actor::system(),
            idempotency: None,
            output: None,
            reply,
        };
        (Box::new(pending), answer)
    }

    /// Runs the jobs as one batch on a fresh SQLite store; returns the answers'
    /// outcomes (Ok(year) or the error code) and the years stored.
    async fn one_batch(jobs: Vec<(Box<dyn Job>, Answer)>) -> (Vec<Result<i64, &'static str>>, Vec<i64>) {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::connect(&crate::store::sqlite_url(dir.path()))
            .await
            .expect("store");
        let domain = Arc::new(Domain::for_tests());
        let hub = Hub::new(store.clone(), domain.clone(), 0, 100, 100);
        let (conn, checkpoints) = store.open_native_writer().expect("writer").expect("sqlite");
        let mut writer = Writer::Sqlite { conn, checkpoints };
        let (jobs, answers): (Vec<_>, Vec<_>) = jobs.into_iter().unzip();
        commit_batch(&mut writer, &domain, &hub, jobs).await;
        let mut outcomes = Vec::new();
        for a in answers {
            outcomes.push(a.await.expect("answered").map_err(|e| e.code()));
        }
        let Writer::Sqlite { conn, .. } = &writer else {
            unreachable!()
        };
        let mut stmt = conn
            .prepare("SELECT year FROM incident_numbers ORDER BY year")
            .expect("prepare");
        let years = stmt
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<Vec<i64>, _>>()
            .expect("rows");
        (outcomes, years)
    }

    #[tokio::test]
    async fn a_command_failing_in_its_savepoint_leaves_the_rest_of_the_batch() {
        let (outcomes, years) = one_batch(vec![
            job::<false>(1, false, false),
            job::<true>(2, false, true),
            job::<false>(3, true, false),
            job::<false>(4, false, false),
        ])
        .await;
        assert_eq!(outcomes, vec![Ok(1), Err("invalid_field"), Err("invalid_field"), Ok(4)]);
        assert_eq!(years, vec![1, 4], "the failed commands' writes are not kept");
    }

    #[tokio::test]
    async fn a_command_without_savepoint_failing_after_writing_fails_its_whole_batch() {
        let (outcomes, years) = one_batch(vec![
            job::<false>(1, false, false),
            job::<false>(2, false, true),
            job::<true>(3, false, false),
        ])
        .await;
        assert_eq!(outcomes, vec![Err("unavailable"); 3], "nothing is acknowledged");
        assert!(years.is_empty(), "nothing is half-written: {years:?}");
    }
}
