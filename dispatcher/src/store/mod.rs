//! Durable storage: SQLite (embedded, the default) or PostgreSQL, through one code path.
//!
//! Both backends run the same SQL through sqlx's `Any` driver (`$1` placeholders,
//! `RETURNING`, plain types), so one test suite covers both. Reads use a pool;
//! all writes go through [`crate::core`]'s single writer connection, which
//! batches them into group commits.

pub mod checkpoint;
mod dbfile;
mod read;
pub mod sql;
mod walbuf;
pub mod write;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, Executor};

use checkpoint::Checkpointer;
pub use read::{IncidentFilter, Snapshot};

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Cheap to clone: pools are reference-counted.
#[derive(Debug, Clone)]
pub struct Store {
    /// Readers (and one-off writes outside the event log, such as tokens).
    pub(crate) pool: AnyPool,
    /// The single writer connection used by the core's group-commit loop
    /// (on SQLite only for migrations: the writer opens a native connection).
    pub(crate) writer: AnyPool,
    pub backend: Backend,
    /// The SQLite database file, for the native writer connection.
    sqlite_file: Option<PathBuf>,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The URL of the embedded SQLite database under `data_dir`.
pub fn sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("dispatcher.sqlite").display())
}

impl Store {
    /// Connects, applies migrations and checks durability settings.
    pub async fn connect(url: &str) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            anyhow::bail!("database URL must start with sqlite: or postgres://");
        };
        let options = AnyConnectOptions::from_str(url).context("parsing the database URL")?;
        let readers = match backend {
            Backend::Sqlite => 4,
            Backend::Postgres => 16,
        };
        let pool = pool_options(readers)
            .connect_with(options.clone())
            .await
            .context("connecting to the database")?;
        let writer = pool_options(1)
            .connect_with(options)
            .await
            .context("connecting the writer")?;
        MIGRATOR.run(&writer).await.context("applying migrations")?;
        fill_incident_columns(&writer)
            .await
            .context("filling the incident columns added by migration 0003")?;
        let sqlite_file = match backend {
            Backend::Sqlite => {
                let file = SqliteConnectOptions::from_str(url)
                    .context("parsing the SQLite URL")?
                    .get_filename()
                    .to_owned();
                anyhow::ensure!(
                    file.as_os_str() != ":memory:",
                    "an in-memory SQLite database is not supported: give a file (the writer has its own connection)"
                );
                Some(file)
            }
            Backend::Postgres => None,
        };
        Ok(Store {
            pool,
            writer,
            backend,
            sqlite_file,
        })
    }

    /// On SQLite, a native connection for the single writer, with the same
    /// durability settings as the pool's (checked, not assumed); `None` on PostgreSQL.
    pub(crate) fn open_native_writer(&self) -> anyhow::Result<Option<(rusqlite::Connection, Checkpointer)>> {
        let Some(file) = &self.sqlite_file else {
            return Ok(None);
        };
        let opening = || format!("opening {} for the writer", file.display());
        // Through the VFS that writes a commit's WAL frames in a few large
        // writes; it sets WAL and synchronous=FULL (checked again below).
        let conn = walbuf::open(file).with_context(opening)?;
        conn.pragma_update(None, "foreign_keys", "ON").with_context(opening)?;
        // Checkpoints run on their own thread (see `checkpoint`), not inside the writer's commits.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .with_context(opening)?;
        conn.busy_timeout(Duration::from_secs(10)).with_context(opening)?;
        // 8 MiB of page cache (SQLite's default is 2 MiB): more of the index
        // pages a batch touches stay in memory instead of being read back with
        // a `pread` each. Not more: B-tree rebalancing parks a page at a
        // temporary page number far past the end of the file, so most commits
        // end with a scan of the whole cache's hash table
        // (`pcache1TruncateUnsafe`). With 32 MiB that scan was 9 % of the
        // writer's time and ingest ran 10-25 % slower than with 4-8 MiB
        // (`cargo bench -p dispatcher --bench ingest`, 2026-12-04).
        conn.pragma_update(None, "cache_size", -8 * 1024)
            .with_context(opening)?;
        // Savepoints (auto-dispatch, most commands) copy the pages they touch
        // to a sub-journal, which SQLite keeps in memory only up to 64 KiB and
        // then moves to a temporary file: `write` calls on the writer's thread
        // (7 % of it in the ingest benchmark). With `temp_store=MEMORY` it
        // never leaves memory; it lives for one batch and holds only pages
        // that batch touched.
        conn.pragma_update(None, "temp_store", "MEMORY").with_context(opening)?;
        // Every statement the writer runs stays prepared.
        conn.set_prepared_statement_cache_capacity(128);
        let journal: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
        let synchronous: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0))?;
        anyhow::ensure!(
            journal.eq_ignore_ascii_case("wal") && synchronous == 2,
            "SQLite writer is not durable: journal_mode={journal}, synchronous={synchronous} (want wal, 2 = FULL)"
        );
        let checkpointer = Checkpointer::start(file)?;
        Ok(Some((conn, checkpointer)))
    }

    /// Closes every connection (after the writer has drained).
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}

/// Copies `reports`, `category` and `outside_badung` from the body of every
/// incident stored before migration 0003 added those columns: SQLite and
/// PostgreSQL read JSON with different functions, so the migration cannot.
/// Idempotent (nodes starting together may both do it), and a no-op once done.
async fn fill_incident_columns(writer: &AnyPool) -> anyhow::Result<()> {
    use sqlx::Row;
    let mut filled = 0_usize;
    loop {
        let rows = sqlx::query("SELECT id, body FROM incidents WHERE reports IS NULL LIMIT 500")
            .fetch_all(writer)
            .await?;
        if rows.is_empty() {
            break;
        }
        let mut tx = writer.begin().await?;
        for row in &rows {
            let id: String = row.try_get(0)?;
            let incident: incident_types::Incident = write::decode(&row.try_get::<String, _>(1)?)?;
            sqlx::query("UPDATE incidents SET reports = $1, category = $2, outside_badung = $3 WHERE id = $4")
                .bind(i64::from(incident.reports))
                .bind(incident.category.as_str())
                .bind(incident.outside_badung)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        filled += rows.len();
    }
    if filled > 0 {
        tracing::info!(incidents = filled, "incident columns filled from their bodies");
    }
    Ok(())
}

/// Creates a fresh, empty PostgreSQL database next to `admin_url`'s and returns its URL
/// (for tests and benchmarks that need a database of their own).
pub async fn create_postgres_database(admin_url: &str, name: &str) -> anyhow::Result<String> {
    use sqlx::Connection;
    anyhow::ensure!(
        name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "database names here are [A-Za-z0-9_]"
    );
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(admin_url)
        .await
        .context("connecting to PostgreSQL")?;
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .context("creating the database")?;
    conn.close().await?;
    let (base, _) = admin_url
        .rsplit_once('/')
        .ok_or_else(|| anyhow::anyhow!("admin URL has no database part"))?;
    Ok(format!("{base}/{name}"))
}

fn pool_options(max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                if conn.backend_name().eq_ignore_ascii_case("sqlite") {
                    // sqlx does not turn WAL on by itself; FULL makes every
                    // commit fsync before we acknowledge it.
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                } else {
                    conn.execute("SET synchronous_commit = on").await?;
                }
                Ok(())
            })
        })
}
