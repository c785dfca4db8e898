//! Runs whose trials are spread over many processes and machines, coordinated through a shared
//! PostgreSQL workspace (the pattern Optuna uses): no process talks to another, every one
//! talks to the database, which orders them with row locks.
//!
//! - [`submit`] (`autotab run --submit`) records a run as `queued` with its job spec.
//! - [`run_worker`] (`autotab worker`) claims work in a loop: trials of any running submitted
//!   run on its trial slots, and, on one more thread, the coordination of a queued run.
//! - The coordinator of a run ([`coordinator`]) is the ordinary run of the engine
//!   ([`crate::experiment::run_submitted`]): the same load, plan, folds, search, ensembles,
//!   refit and packaging, recorded as the run goes, except that the search's
//!   [`TrialBackend`](crate::search::TrialBackend) is the queue: a launched trial is a row
//!   workers claim, a finished trial is a row the coordinator collects. So the time budget,
//!   the trial cap and early stopping hold across all workers, and the refit and the bundle are
//!   made once, by the coordinator.
//! - Leases: a claimed trial (or run) is held for a lease its worker renews while it works. A
//!   worker killed mid-trial loses only that trial, which another worker claims again once the
//!   lease runs out; the killed worker's late result, if it ever came, would be refused.
//! - Every worker reads the run's data itself (a path every machine can read: a shared file
//!   system), checks its bytes against the fingerprint recorded at submission and its folds
//!   against the coordinator's digest, and refuses the run's trials otherwise.

pub mod coordinator;
mod wire;
pub mod worker;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{AutotabError, Result};
use crate::experiment::Registration;
use crate::job::JobSpec;
use crate::store::{NewRun, RunId};
use crate::tracking::Workspace;

pub use coordinator::QueueBackend;
pub use worker::{run_worker, WorkerEvent, WorkerOptions, WorkerSummary};

/// What a submitted run asks of its coordinator besides the job spec.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SubmitRequest {
    /// Register the model under this name (with description and tags) when the run completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub register: Option<SubmittedRegistration>,
}

/// A registration asked for at submission.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SubmittedRegistration {
    /// Model name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

impl From<&Registration> for SubmittedRegistration {
    fn from(r: &Registration) -> Self {
        SubmittedRegistration {
            name: r.name.clone(),
            description: r.description.clone(),
            tags: r.tags.clone(),
        }
    }
}

impl From<SubmittedRegistration> for Registration {
    fn from(r: SubmittedRegistration) -> Self {
        Registration {
            name: r.name,
            description: r.description,
            tags: r.tags,
        }
    }
}

/// Queues `spec` in `workspace` (which must be a shared PostgreSQL one) for `autotab worker`
/// processes and returns the run's id. The job is checked first as a run would check it (the
/// data is read, the label found, the task and metric inferred), so a bad job fails here, not
/// on a worker; its data paths are made absolute, since workers start elsewhere.
pub fn submit(
    workspace: &Workspace,
    spec: &JobSpec,
    register: Option<&Registration>,
) -> Result<RunId> {
    let queue = workspace.queue("--submit")?;
    if spec.task == Some(crate::task::Task::Forecasting) {
        return Err(AutotabError::config(
            "--submit runs tabular jobs (classification, regression); a forecasting job runs \
             in one process: leave --submit out",
        ));
    }
    let experiment = spec.experiment.trim();
    if experiment.is_empty() {
        return Err(AutotabError::config(
            "experiment name is empty: give a name such as --experiment heart-failure",
        ));
    }
    let mut spec = spec.clone();
    absolutize(&mut spec.data.training.path)?;
    if let Some(v) = &mut spec.data.validation {
        absolutize(&mut v.path)?;
    }
    if let Some(t) = &mut spec.data.test {
        absolutize(&mut t.path)?;
    }
    let inspected = crate::engine::inspect_job(&spec)?;
    let fingerprint = crate::experiment::fingerprint(
        spec.data.training.path(),
        inspected.rows,
        inspected.columns,
        inspected.schema,
    )?;
    let spec_json = serde_json::to_value(&spec)
        .map_err(|e| AutotabError::config(format!("cannot encode the job spec: {e}")))?;
    let request = SubmitRequest {
        register: register.map(SubmittedRegistration::from),
    };
    let request = serde_json::to_value(&request)
        .map_err(|e| AutotabError::config(format!("cannot encode the submission: {e}")))?;
    queue.submit(
        &NewRun {
            experiment,
            spec: &spec_json,
            fingerprint: &fingerprint,
            owner: workspace.owner(),
        },
        &request,
    )
}

/// Makes `path` absolute (against the current directory), refusing one that does not exist
/// here: the submitter must see the file the workers will read.
fn absolutize(path: &mut PathBuf) -> Result<()> {
    let absolute = std::fs::canonicalize(Path::new(path.as_os_str()))
        .map_err(|e| AutotabError::io(path.as_path(), e))?;
    *path = absolute;
    Ok(())
}
