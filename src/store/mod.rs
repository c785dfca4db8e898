//! Where a workspace keeps its records and files, behind two interfaces:
//!
//! - [`Store`]: experiments, parent and child runs (params, metrics per fold and final, logs,
//!   status), the model registry and registered datasets, as typed records ([`records`]).
//!   [`SqliteStore`] keeps a folder workspace in one SQLite file; `PostgresStore` (cargo
//!   feature `postgres`, on by default) keeps a shared workspace in a PostgreSQL database.
//!   Both pass one conformance suite (`conformance.rs`).
//! - [`ArtifactStore`]: folders (model bundles, run outputs) under string keys.
//!   [`LocalArtifacts`] keeps them in a local folder; `S3Artifacts` (cargo feature `s3`, on
//!   by default) in an S3 bucket, with local copies ([`s3`]).
//!
//! [`Workspace`](crate::tracking::Workspace) joins the two; the engine and the CLI only see the
//! workspace.

mod artifacts;
#[cfg(test)]
pub(crate) mod conformance;
mod owner;
#[cfg(feature = "postgres")]
mod postgres;
pub mod queue;
pub mod records;
pub mod s3;
mod sqlite;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::error::{AutotabError, Result};

#[cfg(feature = "postgres")]
pub use self::postgres::PostgresStore;
pub use artifacts::{ArtifactStore, LocalArtifacts, StagedArtifact};
pub use owner::{Liveness, ProcessOwner};
pub use queue::{
    ClaimedRun, ClaimedTrial, FinishedTrial, QueueRow, QueuedTrial, TrialResult, WorkQueue,
};
pub use records::{
    ChildRun, ChildRunRecord, DataFingerprint, DatasetRecord, DatasetRegistration,
    ExperimentSummary, ModelRecord, NewDataset, NewModel, NewRun, RunDetail, RunId, RunListEntry,
    RunStatus,
};
#[cfg(feature = "s3")]
pub use s3::S3Artifacts;
pub use s3::S3Location;
pub use sqlite::SqliteStore;

/// Called by [`Store::register_model`] inside its transaction, once the version is chosen:
/// puts the bundle in place and returns its artifact key. An error rolls the registration back.
pub type PublishModel<'a> = dyn FnMut(u32) -> Result<String> + 'a;

/// The records of a workspace: tracking (experiments, runs, child runs, params, metrics, logs),
/// the model registry and the registered datasets.
///
/// Every method is one transaction: a process killed at any point leaves every earlier write
/// whole and nothing of the interrupted one. Implementations are shared by the engine's worker
/// threads (`Send + Sync`) and may be opened by several processes at once.
///
/// Callers (the [`Workspace`](crate::tracking::Workspace)) validate input first: experiment and
/// model names, tags, and that a child run or a finished run does not have status `running`.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Starts a parent run (status `running`) in its experiment, created if new; returns its
    /// new id.
    fn start_run(&self, run: &NewRun<'_>) -> Result<RunId>;

    /// Records one finished trial under the parent run `parent` with all its params and
    /// metrics; returns its id (`<parent>-t<index>`). Refuses a trial index already recorded
    /// and a parent that is itself a child run.
    fn log_child_run(&self, parent: &RunId, child: &ChildRunRecord) -> Result<RunId>;

    /// Sets metric `name` of `run` to `value`, replacing an earlier value.
    fn log_metric(&self, run: &RunId, name: &str, value: f64) -> Result<()>;

    /// Sets param `name` of `run` to `value`, replacing an earlier value.
    fn log_param(&self, run: &RunId, name: &str, value: &serde_json::Value) -> Result<()>;

    /// Appends one line to the debug log of `run`.
    fn append_log(&self, run: &RunId, line: &str) -> Result<()>;

    /// Ends the running `run` with `status` and its outcome; refuses a run already ended.
    fn finish_run(&self, run: &RunId, status: RunStatus, outcome: &serde_json::Value)
        -> Result<()>;

    /// Marks `interrupted` every running parent run whose recorded owner `is_gone` says has
    /// stopped; returns their ids.
    fn interrupt_stale_runs(&self, is_gone: &dyn Fn(&ProcessOwner) -> bool) -> Result<Vec<RunId>>;

    /// Parent runs, newest first, of one experiment (an error naming the known experiments if
    /// it does not exist) or of all.
    fn list_runs(&self, experiment: Option<&str>) -> Result<Vec<RunListEntry>>;

    /// Everything about run `run_id` (parent or child), with its children in trial order.
    fn get_run(&self, run_id: &str) -> Result<RunDetail>;

    /// The debug log of `run_id`, in the order the lines were appended.
    fn run_log(&self, run_id: &str) -> Result<Vec<String>>;

    /// All experiments, by name.
    fn list_experiments(&self) -> Result<Vec<ExperimentSummary>>;

    /// Registers the next version of `model.name` (1 for a new name; a deleted version's
    /// number is never reused). `publish` is called with that version inside the same
    /// transaction; the row is committed only if it succeeds, so two registrations at once get
    /// distinct versions and a committed row always has its bundle.
    fn register_model(
        &self,
        model: &NewModel<'_>,
        publish: &mut PublishModel<'_>,
    ) -> Result<ModelRecord>;

    /// The latest version of every registered model, by name.
    fn list_models(&self) -> Result<Vec<ModelRecord>>;

    /// All versions of model `name`, oldest first; an error naming the registered models if
    /// there is none.
    fn model_versions(&self, name: &str) -> Result<Vec<ModelRecord>>;

    /// Deletes version `version` of `name`, or every version when `None`, in one transaction;
    /// returns the deleted records (whose artifacts the caller removes).
    fn delete_models(&self, name: &str, version: Option<u32>) -> Result<Vec<ModelRecord>>;

    /// Version `version` of `name`, or its latest version when `None`.
    fn resolve_model(&self, name: &str, version: Option<u32>) -> Result<ModelRecord> {
        let mut picked = pick_versions(name, version, self.model_versions(name)?)?;
        picked
            .pop()
            .ok_or_else(|| store_err(format!("no registered model named '{name}'")))
    }

    /// Registers the next version of dataset `dataset.name` (1 for a new name), in one
    /// transaction, so two registrations at once get distinct versions. When the name's
    /// latest version has the same location and content fingerprint, that version is
    /// returned unchanged instead (`created: false`).
    fn register_dataset(&self, dataset: &NewDataset<'_>) -> Result<DatasetRegistration>;

    /// The latest version of every registered dataset, by name.
    fn list_datasets(&self) -> Result<Vec<DatasetRecord>>;

    /// All versions of dataset `name`, oldest first; an error naming the registered datasets
    /// if there is none.
    fn dataset_versions(&self, name: &str) -> Result<Vec<DatasetRecord>>;

    /// Version `version` of dataset `name`, or its latest version when `None`.
    fn resolve_dataset(&self, name: &str, version: Option<u32>) -> Result<DatasetRecord> {
        let mut picked = pick_versions(name, version, self.dataset_versions(name)?)?;
        picked
            .pop()
            .ok_or_else(|| store_err(format!("no registered dataset named '{name}'")))
    }

    /// The queue of distributed runs, for a store that several machines share (PostgreSQL);
    /// `None` for one that cannot coordinate workers (SQLite).
    fn queue(&self) -> Option<&dyn WorkQueue> {
        None
    }
}

/// A versioned registry record (a model or a dataset version).
pub(crate) trait Versioned {
    /// What the registry holds, for messages: "model" or "dataset".
    const KIND: &'static str;
    /// The version number.
    fn version(&self) -> u32;
}

impl Versioned for ModelRecord {
    const KIND: &'static str = "model";
    fn version(&self) -> u32 {
        self.version
    }
}

impl Versioned for DatasetRecord {
    const KIND: &'static str = "dataset";
    fn version(&self) -> u32 {
        self.version
    }
}

/// Of `versions` (all versions of `name`, oldest first, not empty), the one numbered `version`,
/// or all of them when `None`; an error listing the versions if it is not there.
pub(crate) fn pick_versions<R: Versioned>(
    name: &str,
    version: Option<u32>,
    versions: Vec<R>,
) -> Result<Vec<R>> {
    let Some(v) = version else {
        return Ok(versions);
    };
    let list: Vec<String> = versions.iter().map(|m| m.version().to_string()).collect();
    match versions.into_iter().find(|m| m.version() == v) {
        Some(m) => Ok(vec![m]),
        None => Err(store_err(format!(
            "{} '{name}' has no version {v} (versions: {})",
            R::KIND,
            list.join(", ")
        ))),
    }
}

/// An [`AutotabError::Store`] from a message.
pub(crate) fn store_err(message: impl Into<String>) -> AutotabError {
    AutotabError::Store(message.into())
}

/// `url` with the password (if any) replaced by `***`.
pub(crate) fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else {
        return url.to_string();
    };
    format!(
        "{}{}:***{}",
        &url[..scheme_end + 3],
        &userinfo[..colon],
        &rest[at..]
    )
}

/// The "no such run" error.
pub(crate) fn no_such_run(run_id: &str) -> AutotabError {
    store_err(format!(
        "no run with id '{run_id}' in this workspace (see `autotab runs list`)"
    ))
}

/// `names` for an error message: comma-separated, or "none yet".
pub(crate) fn name_list(names: &[String]) -> String {
    if names.is_empty() {
        "none yet".to_string()
    } else {
        names.join(", ")
    }
}

/// `value` as JSON text; `what` names it in the error.
pub(crate) fn to_json<T: serde::Serialize + ?Sized>(value: &T, what: &str) -> Result<String> {
    serde_json::to_string(value).map_err(|e| store_err(format!("cannot encode the {what}: {e}")))
}

/// JSON text stored for run `run_id`, decoded.
pub(crate) fn from_json(text: &str, run_id: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text)
        .map_err(|e| store_err(format!("stored JSON of run {run_id} is damaged: {e}")))
}

/// A count or index as the stores' 64-bit integer.
pub(crate) fn to_i64(n: usize, what: &str) -> Result<i64> {
    i64::try_from(n).map_err(|_| store_err(format!("{what} {n} is too large to store")))
}

/// `n` as a count or index read back from a store.
pub(crate) fn to_usize(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

/// A [`ChildRunRecord`] with its params encoded, ready for either store to insert.
pub(crate) struct ChildRow<'a> {
    pub(crate) child: &'a ChildRunRecord,
    pub(crate) id: RunId,
    pub(crate) index: i64,
    pub(crate) params: Vec<(&'a String, String)>,
    pub(crate) duration_secs: f64,
}

impl<'a> ChildRow<'a> {
    /// Encodes `child` of run `parent` (outside the store's transaction).
    pub(crate) fn encode(parent: &RunId, child: &'a ChildRunRecord) -> Result<ChildRow<'a>> {
        let mut params = Vec::with_capacity(child.params.len());
        for (name, value) in &child.params {
            params.push((name, to_json(value, &format!("param '{name}'"))?));
        }
        Ok(ChildRow {
            child,
            id: parent.child(child.index),
            index: to_i64(child.index, "trial index")?,
            params,
            duration_secs: (child.ended - child.started).num_milliseconds().max(0) as f64 / 1000.0,
        })
    }
}

/// The current time as RFC 3339 with milliseconds, UTC.
pub(crate) fn now_rfc3339() -> String {
    rfc3339(Utc::now())
}

/// `t` as RFC 3339 with milliseconds, UTC.
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}
