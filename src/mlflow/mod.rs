//! Export of recorded runs to an **MLflow tracking server** through its REST API, so the
//! MLflow UI (or any MLflow client) shows autotab's history.
//!
//! One autotab parent run becomes one MLflow run in the experiment of the same name (created
//! if missing), and each child run (trial or ensemble) an MLflow run tagged
//! `mlflow.parentRunId` with the parent's MLflow id. Logged: params (the job spec flattened
//! on the parent, hyperparameters on children), final metrics at step 0 and per-fold metrics
//! as `<metric>_fold` with the fold index as the step, tags (`mlflow.runName`,
//! `autotab.run_id`, `autotab.algorithm`, status, data fingerprint, the outcome's fields), start
//! and end times and status (completed -> `FINISHED`, failed -> `FAILED`, canceled or
//! interrupted -> `KILLED`, running stays `RUNNING`). Artifacts go through the server's
//! artifact proxy (`mlflow-artifacts:`, on by default in `mlflow server`): the model bundle
//! under `model/`, the run's `report.html` when there is one, and the run's log as
//! `autotab.log`; a registered child run's refit bundle under its own `model/`.
//!
//! Exporting the same run again does not duplicate it: every exported run carries the tag
//! `autotab.export_of` (the parent's autotab id), and the parent gets
//! `autotab.export_complete` last. A complete earlier export is left as it is; an incomplete
//! one (a failed export, or a run still in progress then) is deleted and exported anew.
//!
//! Only `http://` servers are reached (this build has no TLS). Credentials: a bearer token or
//! basic auth ([`Credentials`]), or `user:password@` in the URI.

mod client;
pub mod requests;

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{json, Value};

use crate::error::{AutotabError, Result};
use crate::experiment::RecordedOutcome;
use crate::tracking::{RunDetail, RunStatus, Workspace};

use client::Client;
pub use client::{Credentials, TrackingUri};
use requests::{TAG_EXPORT_COMPLETE, TAG_RUN_ID};

use crate::report::REPORT_FILE;
/// The artifact holding the run's debug log.
pub const LOG_ARTIFACT: &str = "autotab.log";

/// What one export did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportReport {
    /// The autotab parent run exported.
    pub run_id: String,
    /// The MLflow experiment's name (the autotab experiment's).
    pub experiment: String,
    /// The MLflow experiment's id.
    pub experiment_id: String,
    /// The MLflow id of the parent run.
    pub mlflow_run_id: String,
    /// Child runs exported.
    pub child_runs: usize,
    /// Artifact files uploaded.
    pub artifacts: usize,
    /// `true` when a complete earlier export was found and nothing was logged.
    pub already_exported: bool,
    /// MLflow runs of an incomplete earlier export that were deleted first.
    pub replaced_runs: usize,
    /// Things not exported, and why (e.g. artifacts when the server does not proxy them).
    pub warnings: Vec<String>,
    /// The MLflow UI page of the parent run.
    pub url: String,
}

/// An MLflow tracking server to export to.
pub struct MlflowExporter {
    client: Client,
    uri: TrackingUri,
}

impl std::fmt::Debug for MlflowExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MlflowExporter({})", self.uri)
    }
}

impl MlflowExporter {
    /// An exporter to the server at `uri` (nothing is sent yet).
    pub fn new(uri: &TrackingUri, credentials: &Credentials) -> MlflowExporter {
        MlflowExporter {
            client: Client::new(uri, credentials),
            uri: uri.clone(),
        }
    }

    /// Exports parent run `run_id` of `workspace` with its child runs and artifacts. A child
    /// run's id is refused, naming its parent.
    pub fn export_run(&self, workspace: &Workspace, run_id: &str) -> Result<ExportReport> {
        let detail = workspace.get_run(run_id)?;
        if let Some(parent) = &detail.parent {
            return Err(AutotabError::config(format!(
                "run {run_id} is a child run: export its parent run {parent}, which carries it"
            )));
        }
        let experiment_id = self.experiment_id(&detail.summary.experiment)?;
        let earlier = self.earlier_export(&experiment_id, run_id)?;
        let mut report = ExportReport {
            run_id: run_id.to_string(),
            experiment: detail.summary.experiment.clone(),
            experiment_id: experiment_id.clone(),
            mlflow_run_id: String::new(),
            child_runs: 0,
            artifacts: 0,
            already_exported: false,
            replaced_runs: 0,
            warnings: Vec::new(),
            url: String::new(),
        };
        if let Some(done) = earlier.iter().find(|r| is_complete_parent(r, run_id)) {
            report.mlflow_run_id = run_info(done, "run_id");
            report.child_runs = earlier.len() - 1;
            report.already_exported = true;
            report.url = self.uri.run_page(&experiment_id, &report.mlflow_run_id);
            return Ok(report);
        }
        for run in &earlier {
            self.client
                .post("runs/delete", &json!({"run_id": run_info(run, "run_id")}))?;
        }
        report.replaced_runs = earlier.len();
        self.export_fresh(workspace, &detail, &experiment_id, &mut report)?;
        report.url = self.uri.run_page(&experiment_id, &report.mlflow_run_id);
        Ok(report)
    }

    /// Exports every parent run of `experiment` (oldest first).
    pub fn export_experiment(
        &self,
        workspace: &Workspace,
        experiment: &str,
    ) -> Result<Vec<ExportReport>> {
        let mut runs = workspace.list_runs(Some(experiment))?;
        runs.reverse();
        runs.iter()
            .map(|r| self.export_run(workspace, &r.id))
            .collect()
    }

    /// The id of MLflow experiment `name`, created when missing; a deleted one is an error
    /// (MLflow keeps its name).
    fn experiment_id(&self, name: &str) -> Result<String> {
        let found = self
            .client
            .try_get("experiments/get-by-name", &[("experiment_name", name)])?;
        match found {
            Ok(answer) => {
                let experiment = &answer["experiment"];
                if experiment["lifecycle_stage"].as_str() == Some("deleted") {
                    return Err(self.client.error(format!(
                        "experiment '{name}' is deleted there; restore it (mlflow experiments \
                         restore) or delete it for good (mlflow gc) before exporting"
                    )));
                }
                experiment["experiment_id"]
                    .as_str()
                    .map(String::from)
                    .ok_or_else(|| {
                        self.client
                            .error("experiments/get-by-name: no experiment_id")
                    })
            }
            Err(failure) if failure.code == "RESOURCE_DOES_NOT_EXIST" || failure.status == 404 => {
                let created = self
                    .client
                    .post("experiments/create", &requests::create_experiment(name))?;
                created["experiment_id"]
                    .as_str()
                    .map(String::from)
                    .ok_or_else(|| self.client.error("experiments/create: no experiment_id"))
            }
            Err(failure) => Err(self.client.api_error("experiments/get-by-name", &failure)),
        }
    }

    /// The active MLflow runs of an earlier export of `run_id` (parent and children).
    fn earlier_export(&self, experiment_id: &str, run_id: &str) -> Result<Vec<Value>> {
        let mut runs = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let body = requests::search_export(experiment_id, run_id, token.as_deref());
            let page = self.client.post("runs/search", &body)?;
            if let Some(list) = page["runs"].as_array() {
                runs.extend(list.iter().cloned());
            }
            token = page["next_page_token"]
                .as_str()
                .filter(|t| !t.is_empty())
                .map(String::from);
            if token.is_none() {
                return Ok(runs);
            }
        }
    }

    /// Creates the parent run, its children and artifacts, then marks the export complete.
    fn export_fresh(
        &self,
        workspace: &Workspace,
        detail: &RunDetail,
        experiment_id: &str,
        report: &mut ExportReport,
    ) -> Result<()> {
        let id = detail.summary.id.as_str();
        let start = requests::epoch_ms(&detail.summary.started)?;
        let end = detail
            .summary
            .ended
            .as_deref()
            .map(requests::epoch_ms)
            .transpose()?;
        let created = self.client.post(
            "runs/create",
            &requests::create_run(experiment_id, id, start, &requests::parent_tags(detail)),
        )?;
        let (parent, artifact_uri) = self.created_run(&created)?;
        report.mlflow_run_id = parent.clone();
        self.log_batch(
            &parent,
            &requests::parent_batch(detail, end.unwrap_or(start)),
        )?;

        for child in &detail.children {
            let start = requests::epoch_ms(&child.started)?;
            let end = child.ended.as_deref().map(requests::epoch_ms).transpose()?;
            let created = self.client.post(
                "runs/create",
                &requests::create_run(
                    experiment_id,
                    &requests::child_name(child),
                    start,
                    &requests::child_tags(child, id, &parent),
                ),
            )?;
            let (child_id, child_artifacts) = self.created_run(&created)?;
            self.log_batch(
                &child_id,
                &requests::child_batch(child, end.unwrap_or(start)),
            )?;
            let refit = workspace.artifacts_dir(&child.id).join("model");
            if refit.join("bundle.json").is_file() {
                report.artifacts +=
                    self.upload_dir(&child_artifacts, &refit, "model", &mut report.warnings)?;
            }
            let status = child.status;
            self.client.post(
                "runs/update",
                &requests::update_run(
                    &child_id,
                    status,
                    end.filter(|_| status != RunStatus::Running),
                ),
            )?;
            report.child_runs += 1;
        }

        let model_dir = RecordedOutcome::of(detail.outcome.as_ref())
            .map(|o| o.model_path)
            .or_else(|| {
                detail
                    .outcome
                    .as_ref()
                    .and_then(|o| o["model_path"].as_str())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| workspace.artifacts_dir(id).join("model"));
        if model_dir.join("bundle.json").is_file() {
            report.artifacts +=
                self.upload_dir(&artifact_uri, &model_dir, "model", &mut report.warnings)?;
        }
        let report_file = workspace.artifacts_dir(id).join(REPORT_FILE);
        if report_file.is_file() {
            report.artifacts += self.upload_file(
                &artifact_uri,
                &report_file,
                REPORT_FILE,
                &mut report.warnings,
            )?;
        }
        let log = workspace.run_log(id)?;
        if !log.is_empty() {
            let mut text = log.join("\n");
            text.push('\n');
            report.artifacts += self.upload_bytes(
                &artifact_uri,
                LOG_ARTIFACT,
                text.as_bytes(),
                &mut report.warnings,
            )?;
        }

        let status = detail.summary.status;
        self.client.post(
            "runs/update",
            &requests::update_run(
                &parent,
                status,
                end.filter(|_| status != RunStatus::Running),
            ),
        )?;
        if status != RunStatus::Running {
            self.client.post(
                "runs/set-tag",
                &json!({"run_id": parent, "key": TAG_EXPORT_COMPLETE, "value": "true"}),
            )?;
        }
        Ok(())
    }

    /// The id and artifact URI of a `runs/create` answer.
    fn created_run(&self, created: &Value) -> Result<(String, String)> {
        let info = &created["run"]["info"];
        let id = info["run_id"]
            .as_str()
            .ok_or_else(|| self.client.error("runs/create: the answer has no run id"))?;
        Ok((
            id.to_string(),
            info["artifact_uri"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ))
    }

    /// Sends `batch` to run `run_id` in as many `runs/log-batch` calls as MLflow's limits ask.
    fn log_batch(&self, run_id: &str, batch: &requests::Batch) -> Result<()> {
        for body in batch.requests(run_id) {
            self.client.post("runs/log-batch", &body)?;
        }
        Ok(())
    }

    /// Uploads the files of `dir` (recursively, in name order) under `prefix`; returns how
    /// many.
    fn upload_dir(
        &self,
        artifact_uri: &str,
        dir: &Path,
        prefix: &str,
        warnings: &mut Vec<String>,
    ) -> Result<usize> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| AutotabError::io(dir, e))?
            .collect::<std::io::Result<_>>()
            .map_err(|e| AutotabError::io(dir, e))?;
        entries.sort_by_key(|e| e.file_name());
        let mut count = 0;
        for entry in entries {
            let path = entry.path();
            let name = format!("{prefix}/{}", entry.file_name().to_string_lossy());
            if path.is_dir() {
                count += self.upload_dir(artifact_uri, &path, &name, warnings)?;
            } else if path.is_file() {
                count += self.upload_file(artifact_uri, &path, &name, warnings)?;
            }
        }
        Ok(count)
    }

    /// Uploads file `path` as artifact `name`; returns 1, or 0 with a warning when the server
    /// does not proxy artifacts.
    fn upload_file(
        &self,
        artifact_uri: &str,
        path: &Path,
        name: &str,
        warnings: &mut Vec<String>,
    ) -> Result<usize> {
        let bytes = std::fs::read(path).map_err(|e| AutotabError::io(path, e))?;
        self.upload_bytes(artifact_uri, name, &bytes, warnings)
    }

    /// Uploads `bytes` as artifact `name` of the run whose artifacts are at `artifact_uri`.
    fn upload_bytes(
        &self,
        artifact_uri: &str,
        name: &str,
        bytes: &[u8],
        warnings: &mut Vec<String>,
    ) -> Result<usize> {
        match requests::artifact_path(artifact_uri, name) {
            Some(path) => {
                self.client.put(&path, bytes)?;
                Ok(1)
            }
            None => {
                let warning = format!(
                    "artifacts not uploaded: the server keeps this run's artifacts at \
                     '{artifact_uri}', which it does not serve (start `mlflow server` with \
                     artifact serving on, its default)"
                );
                if !warnings.contains(&warning) {
                    warnings.push(warning);
                }
                Ok(0)
            }
        }
    }
}

/// Field `key` of a searched run's `info`.
fn run_info(run: &Value, key: &str) -> String {
    run["info"][key].as_str().unwrap_or_default().to_string()
}

/// Whether searched `run` is the parent run of a complete export of `run_id`.
fn is_complete_parent(run: &Value, run_id: &str) -> bool {
    let tag = |key: &str| {
        run["data"]["tags"]
            .as_array()
            .and_then(|tags| tags.iter().find(|t| t["key"].as_str() == Some(key)))
            .and_then(|t| t["value"].as_str())
            .map(String::from)
    };
    tag(TAG_RUN_ID).as_deref() == Some(run_id)
        && tag(TAG_EXPORT_COMPLETE).as_deref() == Some("true")
}
