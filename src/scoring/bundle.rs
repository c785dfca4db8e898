//! The model bundle: a self-contained folder that scores without the workspace.
//!
//! ```text
//! model.bin          the fitted pipeline (bincode), preceded by nothing else
//! bundle.json        format version, task, metric, score, algorithm, params, label classes
//! schema.json        input columns and kinds, label and classes
//! sample_input.json  a request body in the `{"data":[{...}]}` form, values as strings
//! score.py           Azure ML entry script scoring through `autotab score-worker`
//! MODEL.md           the model card
//! ```
//! A bundle written by a newer format, or whose files are damaged, is refused with a message
//! that says so.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{AutotabError, Result};
use crate::models::Params;
use crate::pipeline::{Pipeline, Predictions};

/// The bundle format this build writes and reads.
pub const BUNDLE_FORMAT_VERSION: u32 = 2;

const MODEL_FILE: &str = "model.bin";
const INFO_FILE: &str = "bundle.json";
const SCHEMA_FILE: &str = "schema.json";
const SAMPLE_FILE: &str = "sample_input.json";
const SCORE_SCRIPT_FILE: &str = "score.py";
const MODEL_CARD_FILE: &str = "MODEL.md";

/// Facts about the model, stored beside it as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleInfo {
    /// Bundle format version.
    pub format_version: u32,
    /// autotab version that wrote it.
    pub autotab_version: String,
    /// RFC 3339 creation time.
    pub created: String,
    /// Task name.
    pub task: String,
    /// Primary metric name.
    pub metric: String,
    /// Cross-validated score of the configuration.
    pub score: f64,
    /// Algorithm name.
    pub algorithm: String,
    /// Hyperparameters.
    pub params: Params,
    /// Label column.
    pub label: String,
    /// Class names (classification).
    pub classes: Vec<String>,
    /// Input feature columns, in order.
    pub input_columns: Vec<String>,
    /// Featurization steps, for the model card.
    pub featurization: Vec<String>,
    /// Experiment name.
    pub experiment: String,
    /// Run id, when tracked.
    pub run_id: Option<String>,
    /// Data guardrail findings of the run, for the model card.
    #[serde(default)]
    pub guardrails: Vec<serde_json::Value>,
    /// Fingerprint of the training data (hash, rows, schema), for the model card.
    #[serde(default)]
    pub data_fingerprint: Option<serde_json::Value>,
}

impl BundleInfo {
    /// The facts of `pipeline`, trained in `experiment`, scoring `score` on `metric`.
    pub fn new(
        pipeline: &Pipeline,
        experiment: &str,
        metric: &str,
        score: f64,
        params: &Params,
        run_id: Option<&str>,
    ) -> BundleInfo {
        BundleInfo {
            format_version: BUNDLE_FORMAT_VERSION,
            autotab_version: env!("CARGO_PKG_VERSION").to_string(),
            created: chrono::Utc::now().to_rfc3339(),
            task: pipeline.task.name().to_string(),
            metric: metric.to_string(),
            score,
            algorithm: pipeline.learner.name().to_string(),
            params: params.clone(),
            label: pipeline.label.clone(),
            classes: pipeline.label_encoding.classes().to_vec(),
            input_columns: pipeline.featurizer.input_columns().to_vec(),
            featurization: pipeline.featurizer.steps(),
            experiment: experiment.to_string(),
            run_id: run_id.map(String::from),
            guardrails: Vec::new(),
            data_fingerprint: None,
        }
    }

    /// The facts of a run's refit model, with its guardrail findings.
    pub fn of_outcome(outcome: &crate::engine::RunOutcome, run_id: Option<&str>) -> BundleInfo {
        let mut info = BundleInfo::new(
            &outcome.pipeline,
            &outcome.experiment,
            outcome.metric.name(),
            outcome.winner.score,
            &outcome.winner.params,
            run_id,
        );
        info.guardrails = outcome
            .guardrails
            .iter()
            .map(|g| serde_json::to_value(g).unwrap_or_default())
            .collect();
        info
    }
}

/// Writes `pipeline` and its files into `dir` (created; replaced if it exists).
/// The folder is written beside its final place and renamed, so readers never see half a bundle.
pub fn save_bundle(
    dir: &Path,
    pipeline: &Pipeline,
    info: &BundleInfo,
    sample: &Dataset,
) -> Result<()> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(|e| AutotabError::io(parent, e))?;
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("model");
    let staging = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(|e| AutotabError::io(&staging, e))?;
    }
    fs::create_dir_all(&staging).map_err(|e| AutotabError::io(&staging, e))?;
    let model = bincode::serialize(pipeline)
        .map_err(|e| bundle_error(dir, format!("cannot encode the model: {e}")))?;
    write(&staging.join(MODEL_FILE), &model)?;
    write_json(&staging.join(INFO_FILE), info)?;
    let schema = serde_json::json!({
        "label": pipeline.label,
        "task": pipeline.task,
        "classes": info.classes,
        "columns": pipeline.schema.columns,
        "input_columns": info.input_columns,
    });
    write_json(&staging.join(SCHEMA_FILE), &schema)?;
    write_json(&staging.join(SAMPLE_FILE), &sample_request(sample))?;
    write(
        &staging.join(SCORE_SCRIPT_FILE),
        super::script::score_py(info).as_bytes(),
    )?;
    write(
        &staging.join(MODEL_CARD_FILE),
        super::script::model_card(info, pipeline).as_bytes(),
    )?;
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(|e| AutotabError::io(dir, e))?;
    }
    fs::rename(&staging, dir).map_err(|e| AutotabError::io(dir, e))?;
    Ok(())
}

/// `{"data":[{column: "value", ...}, ...]}` from the rows of `sample`, values as text.
pub(crate) fn sample_request(sample: &Dataset) -> serde_json::Value {
    let records: Vec<serde_json::Value> = (0..sample.n_rows())
        .map(|i| {
            let record: serde_json::Map<String, serde_json::Value> = sample
                .columns()
                .iter()
                .map(|c| {
                    let v = c
                        .values
                        .text_at(i)
                        .map(serde_json::Value::String)
                        .unwrap_or(serde_json::Value::Null);
                    (c.name.clone(), v)
                })
                .collect();
            serde_json::Value::Object(record)
        })
        .collect();
    serde_json::json!({ "data": records })
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).map_err(|e| AutotabError::io(path, e))
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text =
        serde_json::to_string_pretty(value).map_err(|e| AutotabError::data(e.to_string()))?;
    write(path, text.as_bytes())
}

fn bundle_error(path: &Path, message: impl Into<String>) -> AutotabError {
    AutotabError::Bundle {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// A loaded bundle, ready to score.
#[derive(Debug)]
pub struct Predictor {
    dir: PathBuf,
    info: BundleInfo,
    pipeline: Pipeline,
}

impl Predictor {
    /// Loads the bundle in `dir`, refusing newer formats and damaged files.
    pub fn load(dir: &Path) -> Result<Predictor> {
        if !dir.is_dir() {
            return Err(bundle_error(
                dir,
                "not found (expected a model bundle folder)",
            ));
        }
        let info_path = dir.join(INFO_FILE);
        let text = fs::read_to_string(&info_path)
            .map_err(|e| bundle_error(dir, format!("cannot read {INFO_FILE}: {e}")))?;
        let version: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| bundle_error(dir, format!("{INFO_FILE} is damaged: {e}")))?;
        let format = version
            .get("format_version")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        if format > BUNDLE_FORMAT_VERSION as u64 {
            return Err(bundle_error(
                dir,
                format!(
                    "written with bundle format {format}, this autotab reads up to {BUNDLE_FORMAT_VERSION}: upgrade autotab"
                ),
            ));
        }
        if format == 0 {
            return Err(bundle_error(
                dir,
                format!("{INFO_FILE} has no format_version"),
            ));
        }
        let info: BundleInfo = serde_json::from_value(version)
            .map_err(|e| bundle_error(dir, format!("{INFO_FILE} is damaged: {e}")))?;
        let model_path = dir.join(MODEL_FILE);
        let bytes = fs::read(&model_path)
            .map_err(|e| bundle_error(dir, format!("cannot read {MODEL_FILE}: {e}")))?;
        let pipeline: Pipeline = bincode::deserialize(&bytes)
            .map_err(|e| bundle_error(dir, format!("{MODEL_FILE} is damaged or truncated: {e}")))?;
        Ok(Predictor {
            dir: dir.to_path_buf(),
            info,
            pipeline,
        })
    }

    /// Wraps an in-memory pipeline (no folder).
    pub fn from_pipeline(pipeline: Pipeline, info: BundleInfo) -> Predictor {
        Predictor {
            dir: PathBuf::new(),
            info,
            pipeline,
        }
    }

    /// The bundle folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Facts about the model.
    pub fn info(&self) -> &BundleInfo {
        &self.info
    }

    /// The pipeline.
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// Scores raw rows.
    pub fn predict(&self, data: &Dataset) -> Result<Predictions> {
        self.pipeline.predict(data)
    }
}
