//! The workspace store in a shared PostgreSQL database: the [`Store`] over one PostgreSQL
//! schema (the connection's `search_path`), with the same records and behaviour as the SQLite
//! store, for a team's processes on many machines.
//!
//! - Connecting: a small pool of clients (a [`Client`] is not `Sync`); error messages name the
//!   server without its password.
//! - The versioned schema, applied in one transaction under an advisory lock so that two
//!   processes opening a new database at once do not race.
//! - Every [`Store`] method is one transaction: writes at `READ COMMITTED` with explicit locks
//!   where a value is chosen (a model's next version through an upsert of its `model_names`
//!   row, a dataset's under a transaction-level advisory lock on its name), reads in a
//!   `REPEATABLE READ` read-only transaction (one snapshot). Tracking is in `runs.rs`, the
//!   model registry and registered datasets in `registry.rs`.

mod queue;
mod registry;
mod runs;

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use ::postgres::types::{FromSql, ToSql};
use ::postgres::{Client, Config, IsolationLevel, NoTls, Row, Transaction};

use super::queue::{
    ClaimedRun, ClaimedTrial, FinishedTrial, QueueRow, QueuedTrial, TrialResult, WorkQueue,
};
use super::records::{
    ChildRunRecord, DatasetRecord, DatasetRegistration, ExperimentSummary, ModelRecord, NewDataset,
    NewModel, NewRun, RunDetail, RunId, RunListEntry, RunStatus,
};
use super::{redact_url, store_err, to_json, ChildRow, ProcessOwner, PublishModel, Store};
use crate::error::{AutotabError, Result};

/// The store schema version this build writes and understands (the same numbering as the
/// SQLite store up to version 2, which has the registered datasets; version 3, the queue of
/// distributed runs, exists only here).
pub(crate) const SCHEMA_VERSION: i32 = 3;

/// The key of the transaction-level advisory lock held while the schema is created or
/// upgraded ("autotab" in ASCII), so that concurrent openers apply each migration once.
const MIGRATION_LOCK: i64 = 0x0061_7574_6f74_6162;

/// Schema version 1: tracking and the model registry (the SQLite tables, with PostgreSQL
/// types; times are RFC 3339 text in UTC, as in SQLite, so they sort and compare alike).
const SCHEMA_V1: &str = "
CREATE TABLE schema_version (
    version INTEGER NOT NULL
);
CREATE TABLE experiments (
    id      BIGSERIAL PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL
);
CREATE TABLE runs (
    id             TEXT PRIMARY KEY,
    experiment_id  BIGINT NOT NULL REFERENCES experiments(id),
    parent_id      TEXT REFERENCES runs(id) ON DELETE CASCADE,
    trial_index    BIGINT,
    algorithm      TEXT,
    status         TEXT NOT NULL
                   CHECK (status IN ('running','completed','failed','canceled','interrupted')),
    error          TEXT,
    started        TEXT NOT NULL,
    ended          TEXT,
    duration_secs  DOUBLE PRECISION,
    spec_json      TEXT,
    summary_json   TEXT,
    data_sha256    TEXT,
    data_rows      BIGINT,
    data_columns   BIGINT,
    data_schema_json TEXT,
    owner_host     TEXT,
    owner_pid      BIGINT,
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
    value  DOUBLE PRECISION,
    PRIMARY KEY (run_id, name)
);
CREATE TABLE fold_metrics (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name   TEXT NOT NULL,
    fold   BIGINT NOT NULL,
    value  DOUBLE PRECISION,
    PRIMARY KEY (run_id, name, fold)
);
CREATE TABLE run_logs (
    id     BIGSERIAL PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    logged TEXT NOT NULL,
    line   TEXT NOT NULL
);
CREATE INDEX run_logs_by_run ON run_logs(run_id, id);
CREATE TABLE model_names (
    name         TEXT PRIMARY KEY,
    last_version BIGINT NOT NULL
);
CREATE TABLE models (
    name         TEXT NOT NULL REFERENCES model_names(name),
    version      BIGINT NOT NULL,
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
    version     BIGINT NOT NULL,
    location    TEXT NOT NULL,
    format      TEXT NOT NULL,
    schema_json TEXT NOT NULL,
    n_rows      BIGINT NOT NULL,
    n_columns   BIGINT NOT NULL,
    sha256      TEXT NOT NULL,
    description TEXT,
    tags_json   TEXT NOT NULL,
    created     TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
";

/// The migrations, in order: `MIGRATIONS[i]` takes a store from version `i` to `i + 1`
/// (version 0 is an empty schema).
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [SCHEMA_V1, SCHEMA_V2, queue::SCHEMA_V3];

/// Most idle clients kept for reuse; more are opened when needed and closed after use.
const MAX_IDLE: usize = 4;

/// A connection to a workspace in a PostgreSQL database (`postgres://` or `postgresql://`
/// URL), with its schema created or upgraded on open.
pub struct PostgresStore {
    config: Config,
    /// The URL without its password, for messages.
    server: String,
    idle: Mutex<Vec<Client>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database at `url`, creates the workspace tables in a new database
    /// (in the connection's `search_path` schema) and upgrades an older one; refuses a
    /// database written by a newer autotab or holding other tables without autotab's
    /// `schema_version`.
    pub fn open(url: &str) -> Result<PostgresStore> {
        PostgresStore::connect(url, true)
    }

    /// Connects to the database at `url`, which must already hold a workspace (an older one
    /// is upgraded); nothing is created in a database without one.
    pub fn open_existing(url: &str) -> Result<PostgresStore> {
        PostgresStore::connect(url, false)
    }

    fn connect(url: &str, create: bool) -> Result<PostgresStore> {
        let server = redact_url(url);
        let config: Config = url.parse().map_err(|e| {
            store_err(format!(
                "'{server}' is not a valid PostgreSQL connection URL: {e}"
            ))
        })?;
        let store = PostgresStore {
            config,
            server,
            idle: Mutex::new(Vec::new()),
        };
        store.with_client(|client, server| {
            let mut tx = client
                .transaction()
                .map_err(|e| pg_err(server, "begin the schema transaction", &e))?;
            migrate(&mut tx, server, create)?;
            tx.commit()
                .map_err(|e| pg_err(server, "commit the store schema", &e))
        })?;
        Ok(store)
    }

    /// The URL of the server, without its password.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Runs `f` on a pooled client (a new one if none is idle); the client goes back to the
    /// pool afterwards unless its connection was closed.
    fn with_client<T>(&self, f: impl FnOnce(&mut Client, &str) -> Result<T>) -> Result<T> {
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut client = match pooled {
            Some(c) if !c.is_closed() => c,
            _ => self
                .config
                .connect(NoTls)
                .map_err(|e| pg_err(&self.server, "connect", &e))?,
        };
        let out = f(&mut client, &self.server);
        if !client.is_closed() {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < MAX_IDLE {
                idle.push(client);
            }
        }
        out
    }

    /// Runs `f` in one read-write transaction (`READ COMMITTED`), committed if it succeeds and
    /// rolled back otherwise.
    fn write<T>(&self, f: impl FnOnce(&mut Db<'_>) -> Result<T>) -> Result<T> {
        self.with_client(|client, server| {
            let tx = client
                .transaction()
                .map_err(|e| pg_err(server, "start a write transaction", &e))?;
            let mut db = Db { tx, server };
            let value = f(&mut db)?;
            db.tx.commit().map_err(|e| pg_err(server, "commit", &e))?;
            Ok(value)
        })
    }

    /// Runs `f` in one read-only `REPEATABLE READ` transaction (a consistent snapshot).
    fn read<T>(&self, f: impl FnOnce(&mut Db<'_>) -> Result<T>) -> Result<T> {
        self.with_client(|client, server| {
            let tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .map_err(|e| pg_err(server, "start a read transaction", &e))?;
            let mut db = Db { tx, server };
            let value = f(&mut db)?;
            db.tx
                .commit()
                .map_err(|e| pg_err(server, "end a read transaction", &e))?;
            Ok(value)
        })
    }
}

impl Store for PostgresStore {
    fn start_run(&self, run: &NewRun<'_>) -> Result<RunId> {
        let row = runs::NewRunRow::encode(run)?;
        self.write(|db| runs::start_run(db, &row))
    }

    fn log_child_run(&self, parent: &RunId, child: &ChildRunRecord) -> Result<RunId> {
        let row = ChildRow::encode(parent, child)?;
        self.write(|db| runs::log_child_run(db, parent, &row))
    }

    fn log_metric(&self, run: &RunId, name: &str, value: f64) -> Result<()> {
        self.write(|db| runs::log_metric(db, run, name, value))
    }

    fn log_param(&self, run: &RunId, name: &str, value: &serde_json::Value) -> Result<()> {
        let value = to_json(value, &format!("param '{name}'"))?;
        self.write(|db| runs::log_param(db, run, name, &value))
    }

    fn append_log(&self, run: &RunId, line: &str) -> Result<()> {
        self.write(|db| runs::append_log(db, run, line))
    }

    fn finish_run(
        &self,
        run: &RunId,
        status: RunStatus,
        outcome: &serde_json::Value,
    ) -> Result<()> {
        let outcome = to_json(outcome, "run outcome")?;
        self.write(|db| runs::finish_run(db, run, status, &outcome))
    }

    fn interrupt_stale_runs(&self, is_gone: &dyn Fn(&ProcessOwner) -> bool) -> Result<Vec<RunId>> {
        self.write(|db| runs::interrupt_stale_runs(db, is_gone))
    }

    fn list_runs(&self, experiment: Option<&str>) -> Result<Vec<RunListEntry>> {
        self.read(|db| runs::list_runs(db, experiment))
    }

    fn get_run(&self, run_id: &str) -> Result<RunDetail> {
        self.read(|db| runs::get_run(db, run_id))
    }

    fn run_log(&self, run_id: &str) -> Result<Vec<String>> {
        self.read(|db| runs::run_log(db, run_id))
    }

    fn list_experiments(&self) -> Result<Vec<ExperimentSummary>> {
        self.read(runs::list_experiments)
    }

    fn register_model(
        &self,
        model: &NewModel<'_>,
        publish: &mut PublishModel<'_>,
    ) -> Result<ModelRecord> {
        let tags = to_json(model.tags, "tags")?;
        let metrics = to_json(model.metrics, "metrics")?;
        self.write(|db| registry::register_model(db, model, &tags, &metrics, publish))
    }

    fn list_models(&self) -> Result<Vec<ModelRecord>> {
        self.read(registry::latest_models)
    }

    fn model_versions(&self, name: &str) -> Result<Vec<ModelRecord>> {
        self.read(|db| registry::model_versions(db, name))
    }

    fn delete_models(&self, name: &str, version: Option<u32>) -> Result<Vec<ModelRecord>> {
        self.write(|db| registry::delete_models(db, name, version))
    }

    fn register_dataset(&self, dataset: &NewDataset<'_>) -> Result<DatasetRegistration> {
        let schema = to_json(dataset.schema, "dataset schema")?;
        let tags = to_json(dataset.tags, "tags")?;
        self.write(|db| registry::register_dataset(db, dataset, &schema, &tags))
    }

    fn list_datasets(&self) -> Result<Vec<DatasetRecord>> {
        self.read(registry::latest_datasets)
    }

    fn dataset_versions(&self, name: &str) -> Result<Vec<DatasetRecord>> {
        self.read(|db| registry::dataset_versions(db, name))
    }

    fn queue(&self) -> Option<&dyn WorkQueue> {
        Some(self)
    }
}

impl WorkQueue for PostgresStore {
    fn submit(&self, run: &NewRun<'_>, request: &serde_json::Value) -> Result<RunId> {
        let row = runs::NewRunRow::encode(run)?;
        let request = to_json(request, "submission")?;
        self.write(|db| queue::submit(db, &row, &request))
    }

    fn claim_run(
        &self,
        worker: &str,
        owner: &ProcessOwner,
        lease: Duration,
    ) -> Result<Option<ClaimedRun>> {
        self.write(|db| queue::claim_run(db, worker, owner, lease))
    }

    fn renew_run(&self, run: &RunId, worker: &str, lease: Duration) -> Result<bool> {
        self.write(|db| queue::renew_run(db, run, worker, lease))
    }

    fn open_trials(
        &self,
        run: &RunId,
        folds_digest: &str,
        search_start: f64,
        max_running: usize,
    ) -> Result<()> {
        self.write(|db| queue::open_trials(db, run, folds_digest, search_start, max_running))
    }

    fn push_trial(&self, run: &RunId, trial: &QueuedTrial) -> Result<()> {
        self.write(|db| queue::push_trial(db, run, trial))
    }

    fn claim_trial(
        &self,
        worker: &str,
        lease: Duration,
        skip: &[RunId],
    ) -> Result<Option<ClaimedTrial>> {
        self.write(|db| queue::claim_trial(db, worker, lease, skip))
    }

    fn renew_trial(
        &self,
        run: &RunId,
        index: usize,
        worker: &str,
        lease: Duration,
    ) -> Result<bool> {
        self.write(|db| queue::renew_trial(db, run, index, worker, lease))
    }

    fn release_trial(&self, run: &RunId, index: usize, worker: &str) -> Result<()> {
        self.write(|db| queue::release_trial(db, run, index, worker))
    }

    fn complete_trial(
        &self,
        run: &RunId,
        index: usize,
        worker: &str,
        result: &TrialResult,
    ) -> Result<bool> {
        self.write(|db| queue::complete_trial(db, run, index, worker, result))
    }

    fn trials_better_than(&self, run: &RunId, loss: f64) -> Result<usize> {
        self.read(|db| queue::trials_better_than(db, run, loss))
    }

    fn collect_trials(&self, run: &RunId) -> Result<Vec<FinishedTrial>> {
        self.write(|db| queue::collect_trials(db, run))
    }

    fn abandon_trials(&self, run: &RunId) -> Result<Vec<usize>> {
        self.write(|db| queue::abandon_trials(db, run))
    }

    fn finish_submission(&self, run: &RunId, worker: &str) -> Result<()> {
        self.write(|db| queue::finish_submission(db, run, worker))
    }

    fn trials_of(&self, run: &RunId) -> Result<Vec<QueueRow>> {
        self.read(|db| queue::trials_of(db, run))
    }

    fn abandon_trial(&self, run: &RunId, index: usize) -> Result<bool> {
        self.write(|db| queue::abandon_trial(db, run, index))
    }
}

/// Parameters of a statement.
type Params<'p> = [&'p (dyn ToSql + Sync)];

/// One open transaction and the server it is on, for messages: every statement's error says
/// what was being done.
pub(super) struct Db<'c> {
    tx: Transaction<'c>,
    server: &'c str,
}

impl Db<'_> {
    /// Runs a statement; returns the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &Params<'_>, what: &str) -> Result<u64> {
        self.tx
            .execute(sql, params)
            .map_err(|e| pg_err(self.server, what, &e))
    }

    /// The rows of a query.
    fn query(&mut self, sql: &str, params: &Params<'_>, what: &str) -> Result<Vec<Row>> {
        self.tx
            .query(sql, params)
            .map_err(|e| pg_err(self.server, what, &e))
    }

    /// The one row of a query, or none.
    fn query_opt(&mut self, sql: &str, params: &Params<'_>, what: &str) -> Result<Option<Row>> {
        self.tx
            .query_opt(sql, params)
            .map_err(|e| pg_err(self.server, what, &e))
    }

    /// The one row of a query (an error if there is none).
    fn query_one(&mut self, sql: &str, params: &Params<'_>, what: &str) -> Result<Row> {
        self.tx
            .query_one(sql, params)
            .map_err(|e| pg_err(self.server, what, &e))
    }

    /// Column `i` of `row`; a type mismatch is a damaged store.
    fn get<'r, T: FromSql<'r>>(&self, row: &'r Row, i: usize) -> Result<T> {
        row.try_get(i).map_err(|e| {
            store_err(format!(
                "PostgreSQL workspace {}: a stored value has an unexpected type (column {} of \
                 {:?}): {e}; the store is damaged",
                self.server,
                i,
                row.columns().get(i).map(|c| c.name())
            ))
        })
    }
}

/// A stored version number (`BIGINT`) as a registry version.
fn to_version(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

/// A PostgreSQL error as a store error naming the server and what failed.
fn pg_err(server: &str, what: &str, e: &::postgres::Error) -> AutotabError {
    let detail = match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    };
    store_err(format!(
        "PostgreSQL workspace {server}: cannot {what}: {detail}"
    ))
}

/// Creates the tables of a new store (when `create`) or upgrades an older one in place, in
/// the caller's transaction, under the migration advisory lock; refuses a newer or foreign
/// schema, and a missing one when not `create`.
fn migrate(tx: &mut Transaction<'_>, server: &str, create: bool) -> Result<()> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(|e| pg_err(server, "take the schema migration lock", &e))?;
    let row = tx
        .query_one(
            "SELECT to_regclass('schema_version') IS NOT NULL, \
             (SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema())",
            &[],
        )
        .map_err(|e| pg_err(server, "read the store's tables", &e))?;
    let has_version_table: bool = row
        .try_get(0)
        .map_err(|e| pg_err(server, "read the store's tables", &e))?;
    let tables: i64 = row
        .try_get(1)
        .map_err(|e| pg_err(server, "read the store's tables", &e))?;
    let current = if has_version_table {
        let version: Option<i32> = tx
            .query_one("SELECT MAX(version) FROM schema_version", &[])
            .and_then(|r| r.try_get(0))
            .map_err(|e| pg_err(server, "read the store's schema version", &e))?;
        match version {
            Some(v) if v > SCHEMA_VERSION => {
                return Err(store_err(format!(
                    "PostgreSQL workspace {server} was written by a newer autotab (store schema \
                     version {v}; this autotab understands up to {SCHEMA_VERSION}): upgrade \
                     autotab or use another --workspace"
                )))
            }
            Some(v) if v >= 1 => v,
            Some(v) => {
                return Err(store_err(format!(
                    "PostgreSQL workspace {server} has store schema version {v}, which no \
                     autotab writes: the store is damaged"
                )))
            }
            None => {
                return Err(store_err(format!(
                    "PostgreSQL workspace {server} has an empty schema_version table: the \
                     store is damaged"
                )))
            }
        }
    } else if !create {
        return Err(store_err(format!(
            "no workspace in PostgreSQL database {server}: it has no autotab tables (run \
             `autotab run` with this --workspace to create one, or check the URL's database \
             and search_path)"
        )));
    } else if tables > 0 {
        return Err(store_err(format!(
            "PostgreSQL workspace {server} is not an autotab store (its schema has tables but \
             no schema_version table)"
        )));
    } else {
        0
    };
    if current == SCHEMA_VERSION {
        return Ok(());
    }
    let skip = usize::try_from(current).unwrap_or(0);
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(skip) {
        tx.batch_execute(sql).map_err(|e| {
            pg_err(
                server,
                &format!("upgrade from store schema version {from} to {}", from + 1),
                &e,
            )
        })?;
    }
    tx.execute("DELETE FROM schema_version", &[])
        .and_then(|_| {
            tx.execute(
                "INSERT INTO schema_version (version) VALUES ($1)",
                &[&SCHEMA_VERSION],
            )
        })
        .map_err(|e| pg_err(server, "record the store's schema version", &e))?;
    Ok(())
}

#[cfg(test)]
mod tests;
