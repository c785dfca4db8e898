//! The workspace folder: `store.sqlite` (schema, connection settings, transactions) and
//! `artifacts/`, plus the recovery of runs left `running` by a process that died.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::owner::{Liveness, ProcessOwner};
use super::RunStatus;
use crate::error::{AutotabError, Result};

/// The store schema version this build writes and understands.
pub(crate) const SCHEMA_VERSION: i64 = 1;

/// How long a writer waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// File name of the SQLite database inside the workspace folder.
const DB_FILE: &str = "store.sqlite";

/// Tables of schema version 1 (tracking and registry).
const SCHEMA_V1: &str = "
CREATE TABLE schema_version (
    version INTEGER NOT NULL
);
CREATE TABLE experiments (
    id      INTEGER PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL
);
CREATE TABLE runs (
    id             TEXT PRIMARY KEY,
    experiment_id  INTEGER NOT NULL REFERENCES experiments(id),
    parent_id      TEXT REFERENCES runs(id) ON DELETE CASCADE,
    trial_index    INTEGER,
    algorithm      TEXT,
    status         TEXT NOT NULL
                   CHECK (status IN ('running','completed','failed','canceled','interrupted')),
    error          TEXT,
    started        TEXT NOT NULL,
    ended          TEXT,
    duration_secs  REAL,
    spec_json      TEXT,
    summary_json   TEXT,
    data_sha256    TEXT,
    data_rows      INTEGER,
    data_columns   INTEGER,
    data_schema_json TEXT,
    owner_host     TEXT,
    owner_pid      INTEGER,
    owner_start    TEXT,
    UNIQUE (parent_id, trial_index)
);
CREATE INDEX runs_by_experiment ON runs(experiment_id, started);
CREATE INDEX runs_by_parent ON runs(parent_id, trial_index);
CREATE TABLE params (
    run_id     TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    value_json TEXT NOT NULL,
    PRIMARY KEY (run_id, name)
);
CREATE TABLE metrics (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name   TEXT NOT NULL,
    value  REAL,
    PRIMARY KEY (run_id, name)
);
CREATE TABLE fold_metrics (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name   TEXT NOT NULL,
    fold   INTEGER NOT NULL,
    value  REAL,
    PRIMARY KEY (run_id, name, fold)
);
CREATE TABLE run_logs (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    logged TEXT NOT NULL,
    line   TEXT NOT NULL
);
CREATE INDEX run_logs_by_run ON run_logs(run_id, id);
CREATE TABLE model_names (
    name         TEXT PRIMARY KEY,
    last_version INTEGER NOT NULL
);
CREATE TABLE models (
    name         TEXT NOT NULL REFERENCES model_names(name),
    version      INTEGER NOT NULL,
    path         TEXT NOT NULL,
    run_id       TEXT,
    description  TEXT,
    tags_json    TEXT NOT NULL,
    metrics_json TEXT NOT NULL,
    created      TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
";

/// An autotab workspace: a folder holding `store.sqlite` (experiments, runs, registry) and
/// `artifacts/` (run outputs, registered model bundles).
///
/// One connection behind a mutex: a `Workspace` can be shared (`&Workspace`, `Arc`) by the
/// engine's worker threads. Other processes may open the same folder at the same time;
/// SQLite's locking (WAL mode, 10 s busy timeout) serialises their writes.
#[derive(Debug)]
pub struct Workspace {
    root: PathBuf,
    conn: Mutex<Connection>,
    owner: ProcessOwner,
}

impl Workspace {
    /// Opens the workspace at `root`, creating the folder and the store if missing.
    ///
    /// Parent runs left `running` by a process of this host that no longer exists are marked
    /// `interrupted`. Fails with a clear error if the store was written by a newer autotab.
    pub fn open(root: &Path) -> Result<Workspace> {
        std::fs::create_dir_all(root.join("artifacts")).map_err(|e| AutotabError::io(root, e))?;
        let db = root.join(DB_FILE);
        let conn = Connection::open(&db)
            .map_err(|e| store_err(format!("cannot open {}: {e}", db.display())))?;
        configure(&conn, &db)?;
        let ws = Workspace {
            root: root.to_path_buf(),
            conn: Mutex::new(conn),
            owner: ProcessOwner::current(),
        };
        ws.write(|tx| migrate(tx, &db))?;
        ws.recover_stale_runs()?;
        Ok(ws)
    }

    /// The workspace folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder for the artifacts of run `run_id` (`<root>/artifacts/runs/<run_id>`).
    /// It is not created here.
    pub fn artifacts_dir(&self, run_id: &str) -> PathBuf {
        self.root.join("artifacts").join("runs").join(run_id)
    }

    /// The process that opened this workspace (recorded as owner of the runs it starts).
    pub(crate) fn owner(&self) -> &ProcessOwner {
        &self.owner
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction, committed if `f` succeeds.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| store_err(format!("cannot start a write transaction: {e}")))?;
        let value = f(&tx)?;
        tx.commit()
            .map_err(|e| store_err(format!("cannot commit: {e}")))?;
        Ok(value)
    }

    /// Runs `f` in one read transaction (a consistent snapshot).
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(|e| store_err(format!("cannot start a read transaction: {e}")))?;
        let value = f(&tx)?;
        tx.commit()
            .map_err(|e| store_err(format!("cannot end a read transaction: {e}")))?;
        Ok(value)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock drops its transaction (rolled back): the connection
        // itself is still usable.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Marks `interrupted` every running parent run whose owner process is gone.
    fn recover_stale_runs(&self) -> Result<()> {
        self.write(|tx| {
            let mut stmt = tx.prepare(
                "SELECT id, owner_host, owner_pid, owner_start FROM runs
                 WHERE status = 'running' AND parent_id IS NULL",
            )?;
            let running = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<u32>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let now = super::now_rfc3339();
            for (id, host, pid, start) in running {
                let (Some(host), Some(pid)) = (host, pid) else {
                    continue;
                };
                let owner = ProcessOwner { host, pid, start };
                if owner.liveness() == Liveness::Dead {
                    tx.execute(
                        "UPDATE runs SET status = ?1, ended = ?2,
                             error = 'the process running it stopped without finishing it'
                         WHERE id = ?3 AND status = 'running'",
                        (RunStatus::Interrupted.as_str(), &now, &id),
                    )?;
                }
            }
            Ok(())
        })
    }
}

/// Connection settings: WAL, busy timeout, foreign keys, full sync on commit.
fn configure(conn: &Connection, db: &Path) -> Result<()> {
    let setup = || -> rusqlite::Result<String> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(mode)
    };
    // Switching a new database to WAL takes an exclusive lock that SQLite's busy handler does
    // not wait for: when another process opens the same new store at that moment, retry.
    let started = std::time::Instant::now();
    let mode = loop {
        match setup() {
            Ok(mode) => break mode,
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => return Err(store_err(format!("cannot configure {}: {e}", db.display()))),
        }
    };
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(store_err(format!(
            "cannot use {}: its journal mode stays '{mode}' (WAL is needed; is it on a \
             network file system?)",
            db.display()
        )));
    }
    Ok(())
}

/// Creates the tables of a new store, or checks the version of an existing one.
fn migrate(tx: &Transaction<'_>, db: &Path) -> Result<()> {
    let has_version_table: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version')",
        [],
        |r| r.get(0),
    )?;
    if !has_version_table {
        let other_tables: i64 = tx.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            [],
            |r| r.get(0),
        )?;
        if other_tables > 0 {
            return Err(store_err(format!(
                "{} is not an autotab store (it has tables but no schema_version table)",
                db.display()
            )));
        }
        tx.execute_batch(SCHEMA_V1)?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [SCHEMA_VERSION],
        )?;
        return Ok(());
    }
    let version: Option<i64> = tx
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .optional()?
        .flatten();
    match version {
        Some(v) if v == SCHEMA_VERSION => Ok(()),
        Some(v) if v > SCHEMA_VERSION => Err(store_err(format!(
            "{} was written by a newer autotab (store schema version {v}; this autotab \
             understands up to {SCHEMA_VERSION}): upgrade autotab or use another --workspace",
            db.display()
        ))),
        Some(v) => Err(store_err(format!(
            "{} has store schema version {v}, which this autotab cannot upgrade to \
             {SCHEMA_VERSION}",
            db.display()
        ))),
        None => Err(store_err(format!(
            "{} has an empty schema_version table: the store is damaged",
            db.display()
        ))),
    }
}

/// An [`AutotabError::Store`] from a message.
pub(crate) fn store_err(message: impl Into<String>) -> AutotabError {
    AutotabError::Store(message.into())
}

impl From<rusqlite::Error> for AutotabError {
    fn from(e: rusqlite::Error) -> Self {
        AutotabError::Store(e.to_string())
    }
}
