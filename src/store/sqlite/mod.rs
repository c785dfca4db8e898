//! The SQLite [`Store`]: one database file per workspace (`store.sqlite`), in WAL mode with a
//! busy timeout so several processes can use it at once, every write one `BEGIN IMMEDIATE`
//! transaction with a full sync on commit.
//!
//! All of autotab's SQL is in this folder: the schema and its versioned migrations here,
//! tracking in `runs.rs`, the model registry in `models.rs`, registered datasets in
//! `datasets.rs`. `rusqlite` errors stop here: they become
//! [`AutotabError::Store`](crate::AutotabError::Store) messages saying what was being done.

mod datasets;
mod models;
mod runs;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};

use super::records::{
    ChildRunRecord, DatasetRecord, DatasetRegistration, ExperimentSummary, ModelRecord, NewDataset,
    NewModel, NewRun, RunDetail, RunId, RunListEntry, RunStatus,
};
use super::{store_err, to_json, to_usize, ChildRow, ProcessOwner, PublishModel, Store};
use crate::error::Result;

/// The store schema version this build writes and understands.
pub(crate) const SCHEMA_VERSION: i64 = 2;

/// How long a writer waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

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

/// Schema version 2: registered datasets (one row per version).
const SCHEMA_V2: &str = "
CREATE TABLE datasets (
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    location    TEXT NOT NULL,
    format      TEXT NOT NULL,
    schema_json TEXT NOT NULL,
    n_rows      INTEGER NOT NULL,
    n_columns   INTEGER NOT NULL,
    sha256      TEXT NOT NULL,
    description TEXT,
    tags_json   TEXT NOT NULL,
    created     TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
";

/// The migrations, in order: `MIGRATIONS[i]` takes a store from version `i` to `i + 1`
/// (version 0 is an empty database). A store is upgraded in place, in one transaction.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [SCHEMA_V1, SCHEMA_V2];

/// A workspace store in one SQLite file.
///
/// One connection behind a mutex: the store can be shared (`&`, `Arc`) by the engine's worker
/// threads. Other processes may open the same file at the same time; SQLite's locking (WAL
/// mode, 10 s busy timeout) serialises their writes.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// File name of the database inside a workspace folder.
    pub const FILE_NAME: &'static str = "store.sqlite";

    /// Opens the store in the folder `dir` (which must exist), creating the database and its
    /// tables if missing. Fails with a clear error if the file is not an autotab store or was
    /// written by a newer autotab.
    pub fn open(dir: &Path) -> Result<SqliteStore> {
        SqliteStore::connect(dir, OpenFlags::default())
    }

    /// Opens the store in the folder `dir`, which must already have one (nothing is created).
    pub fn open_existing(dir: &Path) -> Result<SqliteStore> {
        let flags = OpenFlags::default() - OpenFlags::SQLITE_OPEN_CREATE;
        SqliteStore::connect(dir, flags)
    }

    fn connect(dir: &Path, flags: OpenFlags) -> Result<SqliteStore> {
        let path = dir.join(SqliteStore::FILE_NAME);
        let conn = Connection::open_with_flags(&path, flags)
            .map_err(|e| store_err(format!("cannot open {}: {e}", path.display())))?;
        configure(&conn, &path)?;
        let store = SqliteStore {
            path,
            conn: Mutex::new(conn),
        };
        store.write(|tx| migrate(tx, &store.path))?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction, committed if `f` succeeds.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx("start a write transaction")?;
        let value = f(&tx)?;
        tx.commit().ctx("commit")?;
        Ok(value)
    }

    /// Runs `f` in one read transaction (a consistent snapshot).
    fn read<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .ctx("start a read transaction")?;
        let value = f(&tx)?;
        tx.commit().ctx("end a read transaction")?;
        Ok(value)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock drops its transaction (rolled back): the connection
        // itself is still usable.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Store for SqliteStore {
    fn start_run(&self, run: &NewRun<'_>) -> Result<RunId> {
        let row = runs::NewRunRow::encode(run)?;
        self.write(|tx| runs::start_run(tx, &row))
    }

    fn log_child_run(&self, parent: &RunId, child: &ChildRunRecord) -> Result<RunId> {
        let row = ChildRow::encode(parent, child)?;
        self.write(|tx| runs::log_child_run(tx, parent, &row))
    }

    fn log_metric(&self, run: &RunId, name: &str, value: f64) -> Result<()> {
        self.write(|tx| runs::log_metric(tx, run, name, value))
    }

    fn log_param(&self, run: &RunId, name: &str, value: &serde_json::Value) -> Result<()> {
        let value = to_json(value, &format!("param '{name}'"))?;
        self.write(|tx| runs::log_param(tx, run, name, &value))
    }

    fn append_log(&self, run: &RunId, line: &str) -> Result<()> {
        self.write(|tx| runs::append_log(tx, run, line))
    }

    fn finish_run(
        &self,
        run: &RunId,
        status: RunStatus,
        outcome: &serde_json::Value,
    ) -> Result<()> {
        let outcome = to_json(outcome, "run outcome")?;
        self.write(|tx| runs::finish_run(tx, run, status, &outcome))
    }

    fn interrupt_stale_runs(&self, is_gone: &dyn Fn(&ProcessOwner) -> bool) -> Result<Vec<RunId>> {
        self.write(|tx| runs::interrupt_stale_runs(tx, is_gone))
    }

    fn list_runs(&self, experiment: Option<&str>) -> Result<Vec<RunListEntry>> {
        self.read(|tx| runs::list_runs(tx, experiment))
    }

    fn get_run(&self, run_id: &str) -> Result<RunDetail> {
        self.read(|tx| runs::get_run(tx, run_id))
    }

    fn run_log(&self, run_id: &str) -> Result<Vec<String>> {
        self.read(|tx| runs::run_log(tx, run_id))
    }

    fn list_experiments(&self) -> Result<Vec<ExperimentSummary>> {
        self.read(runs::list_experiments)
    }

    fn register_model(
        &self,
        model: &NewModel<'_>,
        publish: &mut PublishModel<'_>,
    ) -> Result<ModelRecord> {
        let row = models::NewModelRow::encode(model)?;
        self.write(|tx| models::register(tx, &row, publish))
    }

    fn list_models(&self) -> Result<Vec<ModelRecord>> {
        self.read(models::latest_versions)
    }

    fn model_versions(&self, name: &str) -> Result<Vec<ModelRecord>> {
        self.read(|tx| models::versions(tx, name))
    }

    fn delete_models(&self, name: &str, version: Option<u32>) -> Result<Vec<ModelRecord>> {
        self.write(|tx| models::delete(tx, name, version))
    }

    fn register_dataset(&self, dataset: &NewDataset<'_>) -> Result<DatasetRegistration> {
        self.write(|tx| datasets::register(tx, dataset))
    }

    fn list_datasets(&self) -> Result<Vec<DatasetRecord>> {
        self.read(datasets::latest_versions)
    }

    fn dataset_versions(&self, name: &str) -> Result<Vec<DatasetRecord>> {
        self.read(|tx| datasets::versions(tx, name))
    }
}

/// Turns a `rusqlite` error into an [`AutotabError::Store`](crate::AutotabError::Store)
/// saying what was being done.
trait SqlContext<T> {
    /// `Err(e)` becomes "cannot {what}: {e}".
    fn ctx(self, what: &str) -> Result<T>;
}

impl<T> SqlContext<T> for rusqlite::Result<T> {
    fn ctx(self, what: &str) -> Result<T> {
        self.map_err(|e| store_err(format!("cannot {what}: {e}")))
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

/// Creates the tables of a new store, upgrades an older one in place (every migration after
/// its version, then the new version recorded, all in the caller's transaction), or refuses a
/// store written by a newer autotab.
fn migrate(tx: &Transaction<'_>, db: &Path) -> Result<()> {
    let has_version_table: bool = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version')",
            [],
            |r| r.get(0),
        )
        .ctx("read the store's tables")?;
    let current = if has_version_table {
        let version: Option<i64> = tx
            .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
            .optional()
            .ctx("read the store's schema version")?
            .flatten();
        match version {
            Some(v) if v > SCHEMA_VERSION => {
                return Err(store_err(format!(
                    "{} was written by a newer autotab (store schema version {v}; this autotab \
                     understands up to {SCHEMA_VERSION}): upgrade autotab or use another --workspace",
                    db.display()
                )))
            }
            Some(v) if v >= 1 => v,
            Some(v) => {
                return Err(store_err(format!(
                    "{} has store schema version {v}, which no autotab writes: the store is damaged",
                    db.display()
                )))
            }
            None => {
                return Err(store_err(format!(
                    "{} has an empty schema_version table: the store is damaged",
                    db.display()
                )))
            }
        }
    } else {
        let other_tables: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
                [],
                |r| r.get(0),
            )
            .ctx("read the store's tables")?;
        if other_tables > 0 {
            return Err(store_err(format!(
                "{} is not an autotab store (it has tables but no schema_version table)",
                db.display()
            )));
        }
        0
    };
    if current == SCHEMA_VERSION {
        return Ok(());
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(to_usize(current)) {
        tx.execute_batch(sql).map_err(|e| {
            store_err(format!(
                "cannot upgrade {} from store schema version {from} to {}: {e}",
                db.display(),
                from + 1
            ))
        })?;
    }
    tx.execute(
        "INSERT INTO schema_version (version) VALUES (?1)",
        [SCHEMA_VERSION],
    )
    .ctx("record the store's schema version")?;
    Ok(())
}

#[cfg(test)]
mod tests;
