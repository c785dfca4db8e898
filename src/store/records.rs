//! The typed records that go in and out of a [`Store`](super::Store): runs, child runs,
//! experiments and registered models. No storage detail (SQL, column names) appears here.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::owner::ProcessOwner;
use super::store_err;
use crate::error::{AutotabError, Result};

/// The state of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Submitted to a shared workspace's queue; no worker has claimed it yet.
    Queued,
    /// In progress (or its process died and no open has noticed yet).
    Running,
    /// Finished normally.
    Completed,
    /// Stopped by an error.
    Failed,
    /// Stopped on request (Ctrl-C).
    Canceled,
    /// Its process stopped without finishing it (found on a later open).
    Interrupted,
}

impl RunStatus {
    /// The lowercase name stored and printed by the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Canceled => "canceled",
            RunStatus::Interrupted => "interrupted",
        }
    }

    /// The status named `s` (as written by [`RunStatus::as_str`]); an error names a damaged
    /// store otherwise.
    pub fn parse(s: &str) -> Result<RunStatus> {
        Ok(match s {
            "queued" => RunStatus::Queued,
            "running" => RunStatus::Running,
            "completed" => RunStatus::Completed,
            "failed" => RunStatus::Failed,
            "canceled" => RunStatus::Canceled,
            "interrupted" => RunStatus::Interrupted,
            other => {
                return Err(store_err(format!(
                    "unknown run status '{other}' in the store"
                )))
            }
        })
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The id of a run: `run-<yyyymmdd-hhmmss>-<4 hex>` for a parent, `<parent>-t<index>` for a
/// child.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RunId(String);

impl RunId {
    /// A run id given as text (e.g. on the command line); the store checks it exists.
    pub fn parse(id: &str) -> RunId {
        RunId(id.trim().to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A new parent-run id for a run starting now (unique with high probability; a store
    /// checks it against the ids it holds).
    pub fn new_parent() -> RunId {
        RunId(format!(
            "run-{}-{:04x}",
            Utc::now().format("%Y%m%d-%H%M%S"),
            rand::random::<u16>()
        ))
    }

    /// The id of trial `index` of this parent run.
    pub fn child(&self, index: usize) -> RunId {
        RunId(format!("{}-t{index}", self.0))
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What identifies the training data of a run: hash of the file, its shape and schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataFingerprint {
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub columns: usize,
    /// The inferred schema, as JSON.
    pub schema_json: serde_json::Value,
}

impl DataFingerprint {
    /// Fingerprints the file at `path` (SHA-256 of its bytes) with the given shape and schema.
    pub fn of_file(
        path: &Path,
        rows: usize,
        columns: usize,
        schema_json: serde_json::Value,
    ) -> Result<DataFingerprint> {
        let mut file = std::fs::File::open(path).map_err(|e| AutotabError::io(path, e))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = file.read(&mut buf).map_err(|e| AutotabError::io(path, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(DataFingerprint {
            sha256: hex::encode(hasher.finalize()),
            rows,
            columns,
            schema_json,
        })
    }
}

/// A parent run to start: what [`Store::start_run`](super::Store::start_run) records.
#[derive(Debug, Clone, Copy)]
pub struct NewRun<'a> {
    /// The experiment's name (trimmed, non-empty); created if new.
    pub experiment: &'a str,
    /// The job spec, as JSON (stored as given, returned by `get_run`).
    pub spec: &'a serde_json::Value,
    /// The training data's fingerprint.
    pub fingerprint: &'a DataFingerprint,
    /// The process that runs it (see [`Store::interrupt_stale_runs`](super::Store)).
    pub owner: &'a ProcessOwner,
}

/// A finished trial, as the engine hands it to the store.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildRunRecord {
    /// The trial's index in the experiment (unique within the parent run).
    pub index: usize,
    /// The algorithm's name.
    pub algorithm: String,
    /// Hyperparameters, by name.
    pub params: BTreeMap<String, serde_json::Value>,
    /// `Completed` or `Failed` (or `Canceled` for a trial stopped by Ctrl-C).
    pub status: RunStatus,
    /// Why the trial failed, if it did.
    pub error: Option<String>,
    /// Metric values (mean over folds), by metric name.
    pub metrics: BTreeMap<String, f64>,
    /// Per-fold values, by metric name, in fold order.
    pub fold_metrics: BTreeMap<String, Vec<f64>>,
    /// When the trial started.
    pub started: DateTime<Utc>,
    /// When the trial ended.
    pub ended: DateTime<Utc>,
}

/// One line of `autotab runs list`: a parent run with its status, metrics and trial counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunListEntry {
    /// Run id.
    pub id: String,
    /// Experiment name.
    pub experiment: String,
    /// Current status.
    pub status: RunStatus,
    /// Start time, RFC 3339.
    pub started: String,
    /// End time, RFC 3339, if the run has ended.
    pub ended: Option<String>,
    /// Wall time in seconds, if the run has ended.
    pub duration_secs: Option<f64>,
    /// Metrics logged on the run itself (e.g. the best score), by name.
    pub metrics: BTreeMap<String, f64>,
    /// Number of child runs recorded.
    pub trials: usize,
    /// Number of child runs that failed.
    pub failed_trials: usize,
}

/// A child run (trial) as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChildRun {
    /// Run id (`<parent>-t<index>`).
    pub id: String,
    /// Trial index.
    pub index: usize,
    /// Algorithm name.
    pub algorithm: String,
    /// Status (`completed`, `failed`, ...).
    pub status: RunStatus,
    /// Error message of a failed trial.
    pub error: Option<String>,
    /// Hyperparameters, by name.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Metric values, by name (`NaN` where the value was not finite-representable).
    pub metrics: BTreeMap<String, f64>,
    /// Per-fold metric values, by name.
    pub fold_metrics: BTreeMap<String, Vec<f64>>,
    /// Start time, RFC 3339.
    pub started: String,
    /// End time, RFC 3339.
    pub ended: Option<String>,
    /// Wall time in seconds.
    pub duration_secs: Option<f64>,
}

/// Everything about one run, for `autotab runs show`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunDetail {
    /// Id, experiment, status, times, metrics and trial counts.
    pub summary: RunListEntry,
    /// The parent run's id, for a child run.
    pub parent: Option<String>,
    /// The algorithm, for a child run.
    pub algorithm: Option<String>,
    /// The error message of a failed or interrupted run.
    pub error: Option<String>,
    /// The job spec, for a parent run.
    pub spec: Option<serde_json::Value>,
    /// The training data's fingerprint, for a parent run.
    pub fingerprint: Option<DataFingerprint>,
    /// Params, by name.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Per-fold metric values, by name.
    pub fold_metrics: BTreeMap<String, Vec<f64>>,
    /// The outcome given when the run was finished.
    pub outcome: Option<serde_json::Value>,
    /// Host and pid of the process that ran it (parent runs).
    pub process: Option<(String, u32)>,
    /// Child runs in trial order.
    pub children: Vec<ChildRun>,
}

impl RunDetail {
    /// The child runs ranked by `metric` (best first); runs without a finite value of it
    /// (failed ones included) come last, in trial order.
    pub fn leaderboard(&self, metric: &str, higher_is_better: bool) -> Vec<&ChildRun> {
        let mut ranked: Vec<&ChildRun> = self.children.iter().collect();
        let key = |c: &ChildRun| c.metrics.get(metric).copied().filter(|v| v.is_finite());
        ranked.sort_by(|a, b| match (key(a), key(b)) {
            (Some(x), Some(y)) => {
                let ord = x.total_cmp(&y);
                if higher_is_better {
                    ord.reverse()
                } else {
                    ord
                }
            }
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.index.cmp(&b.index),
        });
        ranked
    }
}

/// One line of `autotab experiments list`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExperimentSummary {
    /// Experiment name.
    pub name: String,
    /// Creation time, RFC 3339.
    pub created: String,
    /// Number of parent runs.
    pub runs: usize,
    /// Start time of the latest parent run, RFC 3339.
    pub last_run: Option<String>,
}

/// A model version to register: what [`Store::register_model`](super::Store::register_model)
/// records (the version number is the store's to pick).
#[derive(Debug, Clone, Copy)]
pub struct NewModel<'a> {
    /// Model name (already validated).
    pub name: &'a str,
    /// The run that produced it; the store refuses an id it does not hold.
    pub run_id: Option<&'a str>,
    /// Free-text description.
    pub description: Option<&'a str>,
    /// Tags.
    pub tags: &'a BTreeMap<String, String>,
    /// Metrics recorded at registration (a JSON object).
    pub metrics: &'a serde_json::Value,
}

/// One registered model version as the store holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelRecord {
    /// Model name.
    pub name: String,
    /// Version, from 1; never reused within a name.
    pub version: u32,
    /// The key of its bundle folder in the workspace's artifact store.
    pub artifact: String,
    /// The run that produced it, if any.
    pub run_id: Option<String>,
    /// Free-text description.
    pub description: Option<String>,
    /// Tags (`key=value`).
    pub tags: BTreeMap<String, String>,
    /// Metrics recorded at registration.
    pub metrics: serde_json::Value,
    /// Registration time, RFC 3339.
    pub created: String,
}

/// A dataset version to register: what
/// [`Store::register_dataset`](super::Store::register_dataset) records (the version number is
/// the store's to pick).
#[derive(Debug, Clone, Copy)]
pub struct NewDataset<'a> {
    /// Dataset name (already validated).
    pub name: &'a str,
    /// Absolute location of the file or MLTable folder.
    pub location: &'a str,
    /// `csv`, `parquet` or `mltable`.
    pub format: &'a str,
    /// The columns and their inferred kinds, as JSON.
    pub schema: &'a serde_json::Value,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub columns: usize,
    /// SHA-256 of the content, lowercase hex (the run's data fingerprint).
    pub sha256: &'a str,
    /// Free-text description.
    pub description: Option<&'a str>,
    /// Tags.
    pub tags: &'a BTreeMap<String, String>,
}

impl NewModel<'_> {
    /// The record of this model registered as `version`, its bundle at `artifact`.
    pub(crate) fn record(&self, version: u32, artifact: String, created: String) -> ModelRecord {
        ModelRecord {
            name: self.name.to_string(),
            version,
            artifact,
            run_id: self.run_id.map(str::to_string),
            description: self.description.map(str::to_string),
            tags: self.tags.clone(),
            metrics: self.metrics.clone(),
            created,
        }
    }
}

impl NewDataset<'_> {
    /// The record of this dataset registered as `version`.
    pub(crate) fn record(&self, version: u32, created: String) -> DatasetRecord {
        DatasetRecord {
            name: self.name.to_string(),
            version,
            location: self.location.to_string(),
            format: self.format.to_string(),
            schema: self.schema.clone(),
            rows: self.rows,
            columns: self.columns,
            sha256: self.sha256.to_string(),
            description: self.description.map(str::to_string),
            tags: self.tags.clone(),
            created,
        }
    }
}

/// One registered dataset version as the store holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasetRecord {
    /// Dataset name.
    pub name: String,
    /// Version, from 1, per name.
    pub version: u32,
    /// Absolute location of the file or MLTable folder.
    pub location: String,
    /// `csv`, `parquet` or `mltable`.
    pub format: String,
    /// The columns and their inferred kinds, as JSON.
    pub schema: serde_json::Value,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub columns: usize,
    /// SHA-256 of the content at registration, lowercase hex.
    pub sha256: String,
    /// Free-text description.
    pub description: Option<String>,
    /// Tags (`key=value`).
    pub tags: BTreeMap<String, String>,
    /// Registration time, RFC 3339.
    pub created: String,
}

/// What [`Store::register_dataset`](super::Store::register_dataset) did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasetRegistration {
    /// The version registered, or the existing one returned.
    pub record: DatasetRecord,
    /// False when the latest version of the name already had the same location and content
    /// fingerprint: that version is returned unchanged and no new version is made.
    pub created: bool,
}
