//! The workspace handle: where it is, its [`Store`] and [`ArtifactStore`], and the process
//! that opened it. Tracking calls check their input here and go to the store; registry calls
//! are in [`crate::registry`].

use std::path::{Path, PathBuf};

use crate::error::{AutotabError, Result};
use crate::store::{
    ArtifactStore, ChildRunRecord, DataFingerprint, ExperimentSummary, Liveness, LocalArtifacts,
    NewRun, ProcessOwner, RunDetail, RunId, RunListEntry, RunStatus, SqliteStore, Store,
};

/// The folder of a local workspace that holds its artifacts.
const ARTIFACTS_DIR: &str = "artifacts";

/// An autotab workspace: experiments, runs and registered models (its [`Store`]) and the
/// files they refer to (its [`ArtifactStore`]).
///
/// A local workspace is a folder holding `store.sqlite` and `artifacts/`. A `Workspace` can
/// be shared (`&Workspace`, `Arc`) by the engine's worker threads, and other processes may
/// open the same workspace at the same time.
#[derive(Debug)]
pub struct Workspace {
    location: PathBuf,
    pub(crate) store: Box<dyn Store>,
    pub(crate) artifacts: Box<dyn ArtifactStore>,
    owner: ProcessOwner,
}

impl Workspace {
    /// Opens the workspace at `location`, creating the folder and the store if missing.
    ///
    /// Parent runs left `running` by a process of this host that no longer exists are marked
    /// `interrupted`. Fails with a clear error if the store was written by a newer autotab, or
    /// if `location` is a database URL (only local folders are supported so far).
    pub fn open(location: &Path) -> Result<Workspace> {
        refuse_url(location)?;
        let artifacts = LocalArtifacts::create(&location.join(ARTIFACTS_DIR))?;
        let store = SqliteStore::open(location)?;
        Workspace::assemble(location, Box::new(store), Box::new(artifacts))
    }

    /// Opens the workspace at `location` for commands that only look at what it holds: a
    /// missing workspace is an error ("no workspace at ..."), and nothing is created.
    pub fn open_existing(location: &Path) -> Result<Workspace> {
        refuse_url(location)?;
        let missing = |what: &str| {
            AutotabError::Store(format!(
                "no workspace at {}: {what} (run `autotab run` to create one, or point \
                 --workspace / AUTOTAB_WORKSPACE at an existing one)",
                location.display()
            ))
        };
        if !location.is_dir() {
            return Err(missing("no such folder"));
        }
        if !location.join(SqliteStore::FILE_NAME).is_file() {
            return Err(missing(&format!(
                "the folder has no {}",
                SqliteStore::FILE_NAME
            )));
        }
        let artifacts = LocalArtifacts::existing(&location.join(ARTIFACTS_DIR));
        let store = SqliteStore::open_existing(location)?;
        Workspace::assemble(location, Box::new(store), Box::new(artifacts))
    }

    /// The workspace over `store` and `artifacts`, after marking the stale runs interrupted.
    fn assemble(
        location: &Path,
        store: Box<dyn Store>,
        artifacts: Box<dyn ArtifactStore>,
    ) -> Result<Workspace> {
        store.interrupt_stale_runs(&|owner| owner.liveness() == Liveness::Dead)?;
        Ok(Workspace {
            location: location.to_path_buf(),
            store,
            artifacts,
            owner: ProcessOwner::current(),
        })
    }

    /// The workspace folder.
    pub fn root(&self) -> &Path {
        &self.location
    }

    /// The folder for the artifacts of run `run_id` (`<root>/artifacts/runs/<run_id>`).
    /// It is not created here.
    pub fn artifacts_dir(&self, run_id: &str) -> PathBuf {
        self.artifacts
            .locate(&format!("runs/{run_id}"))
            .unwrap_or_else(|_| {
                // An id that is not a valid key (e.g. with '/') gets a folder of its own
                // name, still inside the artifacts: the store refuses such ids anyway.
                let safe: String = run_id
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '-' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                self.location.join(ARTIFACTS_DIR).join("runs").join(safe)
            })
    }

    /// Starts a parent run in `experiment` (created if new), owned by the calling process.
    pub fn start_run(
        &self,
        experiment: &str,
        spec_json: &serde_json::Value,
        fingerprint: &DataFingerprint,
    ) -> Result<RunId> {
        let experiment = experiment.trim();
        if experiment.is_empty() {
            return Err(AutotabError::config(
                "experiment name is empty: give a name such as --experiment heart-failure",
            ));
        }
        self.store.start_run(&NewRun {
            experiment,
            spec: spec_json,
            fingerprint,
            owner: &self.owner,
        })
    }

    /// Records one finished trial under `parent`, in one transaction, and returns its id
    /// (`<parent>-t<index>`).
    pub fn log_child_run(&self, parent: &RunId, child: &ChildRunRecord) -> Result<RunId> {
        if child.status == RunStatus::Running {
            return Err(AutotabError::config(format!(
                "trial {} of run {parent} is logged with status 'running': only finished \
                 trials are recorded",
                child.index
            )));
        }
        self.store.log_child_run(parent, child)
    }

    /// Sets metric `name` of `run` to `value` (replacing an earlier value).
    pub fn log_metric(&self, run: &RunId, name: &str, value: f64) -> Result<()> {
        self.store.log_metric(run, name, value)
    }

    /// Sets param `name` of `run` to `value` (replacing an earlier value).
    pub fn log_param(&self, run: &RunId, name: &str, value: &serde_json::Value) -> Result<()> {
        self.store.log_param(run, name, value)
    }

    /// Appends one line to the debug log of `run`.
    pub fn append_log(&self, run: &RunId, line: &str) -> Result<()> {
        self.store.append_log(run, line)
    }

    /// Ends the running `run` with `status` and a summary (best trial, scores, ...).
    pub fn finish_run(
        &self,
        run: &RunId,
        status: RunStatus,
        summary: &serde_json::Value,
    ) -> Result<()> {
        if status == RunStatus::Running {
            return Err(AutotabError::config(format!(
                "run {run} cannot be finished with status 'running'"
            )));
        }
        self.store.finish_run(run, status, summary)
    }

    /// Parent runs, newest first, of one experiment or of all.
    pub fn list_runs(&self, experiment: Option<&str>) -> Result<Vec<RunListEntry>> {
        self.store.list_runs(experiment)
    }

    /// Everything about run `run_id` (parent or child), with its children in trial order.
    pub fn get_run(&self, run_id: &str) -> Result<RunDetail> {
        self.store.get_run(run_id)
    }

    /// The debug log of `run_id`, in the order the lines were appended.
    pub fn run_log(&self, run_id: &str) -> Result<Vec<String>> {
        self.store.run_log(run_id)
    }

    /// All experiments, by name.
    pub fn list_experiments(&self) -> Result<Vec<ExperimentSummary>> {
        self.store.list_experiments()
    }
}

/// A database URL as workspace: a clear "not supported yet" error.
fn refuse_url(location: &Path) -> Result<()> {
    let text = location.to_string_lossy();
    let Some((scheme, rest)) = text.split_once("://") else {
        return Ok(());
    };
    // Never print a password given in the URL.
    let text = match rest.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://***@{host}"),
        None => text.to_string(),
    };
    let postgres = ["postgres", "postgresql"]
        .iter()
        .any(|p| scheme.eq_ignore_ascii_case(p));
    Err(AutotabError::config(if postgres {
        format!(
            "workspace {text}: PostgreSQL workspaces are not supported yet; use a local \
             folder (--workspace DIR)"
        )
    } else {
        format!(
            "workspace {text}: '{scheme}://' URLs are not supported; use a local folder \
             (--workspace DIR)"
        )
    }))
}
