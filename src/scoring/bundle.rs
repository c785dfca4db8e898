//! The model bundle: a self-contained folder that scores without the workspace.
//!
//! ```text
//! model.bin          the fitted pipeline (bincode), preceded by nothing else
//! bundle.json        format version, task, metric, score, algorithm, params, label classes,
//!                    and the sha256 of every other file and of its own fields ("checksums")
//! schema.json        input columns and kinds, label and classes
//! sample_input.json  a request body in the `{"data":[{...}]}` form, values as strings
//! score.py           Azure ML entry script scoring through `autotab score-worker`
//! MODEL.md           the model card
//! ```
//! A bundle written by a newer or an older format, or whose files are damaged, is refused with
//! a message that says so. [`Predictor::load`] verifies every checksum before decoding
//! anything, decodes `model.bin` with a size limit (its own length: no length field read from
//! the file can make it allocate more), and checks the decoded models' internal indices
//! ([`crate::models::FittedModel::validate`]) so that a bundle with valid checksums but
//! inconsistent content is refused rather than scored. A bundle is data only: a fixed set of
//! plain types, no code.

use std::collections::BTreeMap;
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use bincode::Options as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::data::Dataset;
use crate::ensemble::Learner;
use crate::error::{AutotabError, Result};
use crate::featurize::Guardrail;
use crate::metrics::Metric;
use crate::models::Params;
use crate::pipeline::{FinalFit, Pipeline, Predictions};
use crate::task::Task;

/// The bundle format this build writes and reads (2: `bundle.json` carries checksums, the
/// pipeline names its learner: an algorithm or an ensemble; 3: the pipeline says how it was
/// trained for shipping, refit or bagged fold models, and holds the folds' models).
pub const BUNDLE_FORMAT_VERSION: u32 = 3;

const MODEL_FILE: &str = "model.bin";
const INFO_FILE: &str = "bundle.json";
const SCHEMA_FILE: &str = "schema.json";
const SAMPLE_FILE: &str = "sample_input.json";
const SCORE_SCRIPT_FILE: &str = "score.py";
const MODEL_CARD_FILE: &str = "MODEL.md";

/// The files of a bundle besides `bundle.json`, each with a checksum in it.
const CHECKED_FILES: [&str; 5] = [
    MODEL_FILE,
    SCHEMA_FILE,
    SAMPLE_FILE,
    SCORE_SCRIPT_FILE,
    MODEL_CARD_FILE,
];

/// The key of `bundle.json` holding the [`Checksums`].
const CHECKSUMS_KEY: &str = "checksums";

/// Largest `bundle.json` read (it holds metadata only: a few kilobytes).
const MAX_INFO_BYTES: u64 = 64 * 1024 * 1024;

/// The `checksums` object of `bundle.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Checksums {
    /// Always `sha256`.
    algorithm: String,
    /// Hex sha256 of the other fields of `bundle.json`, as compact JSON in field order.
    info: String,
    /// Hex sha256 of each file of [`CHECKED_FILES`], by file name.
    files: BTreeMap<String, String>,
}

/// Hex sha256 of `bytes`.
fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Hex sha256 of the bundle facts, serialised as compact JSON (the same bytes on write and on
/// read: fields in declaration order, floats written shortest-exact and read back exactly).
fn info_checksum(info: &BundleInfo) -> Result<String> {
    let bytes = serde_json::to_vec(info)
        .map_err(|e| AutotabError::data(format!("cannot encode the bundle facts: {e}")))?;
    Ok(sha256_hex(&bytes))
}

/// bincode settings of `model.bin`: those of `bincode::serialize` (fixed-width integers,
/// little endian), with no trailing bytes allowed on read.
fn model_encoding() -> impl bincode::Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .reject_trailing_bytes()
}

/// Facts about the model, stored beside it as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleInfo {
    /// Bundle format version.
    pub format_version: u32,
    /// autotab version that wrote it.
    pub autotab_version: String,
    /// RFC 3339 creation time.
    pub created: String,
    /// The task.
    pub task: Task,
    /// The primary metric.
    pub metric: Metric,
    /// Cross-validated score of the configuration.
    pub score: f64,
    /// What produced the model: an algorithm or an ensemble (JSON: its name).
    pub algorithm: Learner,
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
    pub guardrails: Vec<Guardrail>,
    /// Fingerprint of the training data (hash, rows, schema), for the model card.
    #[serde(default)]
    pub data_fingerprint: Option<serde_json::Value>,
    /// How the model was trained for shipping: refit on all rows, or the folds' models.
    pub final_fit: FinalFit,
    /// Permutation importance of the raw input columns, when the run computed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanations: Option<crate::explain::ExplanationSummary>,
}

impl BundleInfo {
    /// The facts of `pipeline`, trained in `experiment`, scoring `score` on `metric`.
    pub fn new(
        pipeline: &Pipeline,
        experiment: &str,
        metric: Metric,
        score: f64,
        params: &Params,
        run_id: Option<&str>,
    ) -> BundleInfo {
        BundleInfo {
            format_version: BUNDLE_FORMAT_VERSION,
            autotab_version: env!("CARGO_PKG_VERSION").to_string(),
            created: chrono::Utc::now().to_rfc3339(),
            task: pipeline.task,
            metric,
            score,
            algorithm: pipeline.learner,
            params: params.clone(),
            label: pipeline.label.clone(),
            classes: pipeline.label_encoding.classes().to_vec(),
            input_columns: pipeline.featurizer.input_columns().to_vec(),
            featurization: pipeline.featurizer.steps(),
            experiment: experiment.to_string(),
            run_id: run_id.map(String::from),
            guardrails: Vec::new(),
            data_fingerprint: None,
            final_fit: pipeline.fit,
            explanations: None,
        }
    }

    /// The facts of a run's refit model, with its guardrail findings.
    pub fn of_outcome(outcome: &crate::engine::RunOutcome, run_id: Option<&str>) -> BundleInfo {
        let mut info = BundleInfo::new(
            &outcome.pipeline,
            &outcome.experiment,
            outcome.metric,
            outcome.winner.score,
            &outcome.winner.params,
            run_id,
        );
        info.guardrails = outcome.guardrails.clone();
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
    let model = model_encoding()
        .serialize(pipeline)
        .map_err(|e| bundle_error(dir, format!("cannot encode the model: {e}")))?;
    write(&staging.join(MODEL_FILE), &model)?;
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
    let mut files = BTreeMap::new();
    for name in CHECKED_FILES {
        let path = staging.join(name);
        let bytes = fs::read(&path).map_err(|e| AutotabError::io(&path, e))?;
        files.insert(name.to_string(), sha256_hex(&bytes));
    }
    let checksums = Checksums {
        algorithm: "sha256".into(),
        info: info_checksum(info)?,
        files,
    };
    let mut info_json =
        serde_json::to_value(info).map_err(|e| AutotabError::data(e.to_string()))?;
    if let serde_json::Value::Object(fields) = &mut info_json {
        fields.insert(
            CHECKSUMS_KEY.into(),
            serde_json::to_value(&checksums).map_err(|e| AutotabError::data(e.to_string()))?,
        );
    }
    write_json(&staging.join(INFO_FILE), &info_json)?;
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
    /// Loads the bundle in `dir`, refusing other formats and damaged files.
    ///
    /// Every file's checksum (and that of `bundle.json`'s own fields) is verified before
    /// anything is decoded; a mismatch names the file. `model.bin` is decoded with a size
    /// limit, then its models are checked for internal consistency.
    pub fn load(dir: &Path) -> Result<Predictor> {
        let (info, model) = verify_files(dir)?;
        let pipeline = decode_pipeline(&model)
            .map_err(|message| bundle_error(dir, format!("{MODEL_FILE} {message}")))?;
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

    /// Scores raw rows. A panic while scoring (a defect, reported on stderr by the binary's
    /// panic hook) becomes an error, so a server keeps serving.
    pub fn predict(&self, data: &Dataset) -> Result<Predictions> {
        catch_unwind(AssertUnwindSafe(|| self.pipeline.predict(data))).unwrap_or_else(|_| {
            Err(bundle_error(
                &self.dir,
                "internal error while scoring with this model (reported in the log)",
            ))
        })
    }
}

/// Checks the bundle in `dir` without decoding its model: its format version and the checksum
/// of every file (a mismatch names the file). Returns the facts of `bundle.json`. What
/// [`Predictor::load`] does first; for commands that show or copy a bundle without scoring.
pub fn verify_bundle(dir: &Path) -> Result<BundleInfo> {
    verify_files(dir).map(|(info, _)| info)
}

/// [`verify_bundle`], also returning the verified bytes of `model.bin`.
fn verify_files(dir: &Path) -> Result<(BundleInfo, Vec<u8>)> {
    if !dir.is_dir() {
        return Err(bundle_error(
            dir,
            "not found (expected a model bundle folder)",
        ));
    }
    let (info, checksums) = read_info(dir)?;
    let mut model = Vec::new();
    for name in CHECKED_FILES {
        let expected = checksums
            .files
            .get(name)
            .ok_or_else(|| bundle_error(dir, format!("{INFO_FILE} has no checksum for {name}")))?;
        let bytes = fs::read(dir.join(name))
            .map_err(|e| bundle_error(dir, format!("cannot read {name}: {e}")))?;
        if !sha256_hex(&bytes).eq_ignore_ascii_case(expected) {
            return Err(bundle_error(
                dir,
                format!(
                    "{name} does not match its checksum in {INFO_FILE}: the file is damaged \
                     or was changed after the model was saved"
                ),
            ));
        }
        if name == MODEL_FILE {
            model = bytes;
        }
    }
    Ok((info, model))
}

/// Reads `bundle.json`: checks its format version and its own checksum, and returns the facts
/// and the checksums of the other files.
fn read_info(dir: &Path) -> Result<(BundleInfo, Checksums)> {
    let info_path = dir.join(INFO_FILE);
    let size = fs::metadata(&info_path)
        .map_err(|e| bundle_error(dir, format!("cannot read {INFO_FILE}: {e}")))?
        .len();
    if size > MAX_INFO_BYTES {
        return Err(bundle_error(
            dir,
            format!("{INFO_FILE} is {size} bytes, more than the {MAX_INFO_BYTES} expected of it"),
        ));
    }
    let text = fs::read_to_string(&info_path)
        .map_err(|e| bundle_error(dir, format!("cannot read {INFO_FILE}: {e}")))?;
    let damaged = |e: serde_json::Error| bundle_error(dir, format!("{INFO_FILE} is damaged: {e}"));
    let mut value: serde_json::Value = serde_json::from_str(&text).map_err(damaged)?;
    let format = value
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
    if format < BUNDLE_FORMAT_VERSION as u64 {
        let written_by = value
            .get("autotab_version")
            .and_then(|v| v.as_str())
            .unwrap_or("unknown");
        return Err(bundle_error(
            dir,
            format!(
                "written with bundle format {format} (autotab {written_by}); this autotab \
                 reads format {BUNDLE_FORMAT_VERSION} only: train the model again with this \
                 version"
            ),
        ));
    }
    let checksums = value
        .as_object_mut()
        .and_then(|fields| fields.remove(CHECKSUMS_KEY))
        .ok_or_else(|| bundle_error(dir, format!("{INFO_FILE} has no checksums")))?;
    let checksums: Checksums = serde_json::from_value(checksums)
        .map_err(|e| bundle_error(dir, format!("{INFO_FILE}: the checksums are damaged: {e}")))?;
    if checksums.algorithm != "sha256" {
        return Err(bundle_error(
            dir,
            format!(
                "{INFO_FILE}: checksum algorithm '{}' is not supported (expected sha256)",
                checksums.algorithm
            ),
        ));
    }
    let info: BundleInfo = serde_json::from_value(value).map_err(damaged)?;
    if !info_checksum(&info)?.eq_ignore_ascii_case(&checksums.info) {
        return Err(bundle_error(
            dir,
            format!(
                "{INFO_FILE} does not match its checksum: the file is damaged or was changed \
                 after the model was saved"
            ),
        ));
    }
    Ok((info, checksums))
}

/// Decodes `model.bin` (at most its own length is ever allocated for it) and checks its
/// models. The error completes the sentence "model.bin ...".
pub fn decode_pipeline(bytes: &[u8]) -> std::result::Result<Pipeline, String> {
    let pipeline: Pipeline = model_encoding()
        .with_limit(bytes.len() as u64)
        .deserialize(bytes)
        .map_err(|e| format!("is damaged or truncated: {e}"))?;
    check_pipeline(&pipeline).map_err(|e| format!("is inconsistent: {e}"))?;
    Ok(pipeline)
}

/// Checks what scoring relies on: the model's own indices, and that a classifier has as many
/// outputs as the label has classes.
fn check_pipeline(pipeline: &Pipeline) -> Result<()> {
    let classes = pipeline.label_encoding.classes().len();
    for (_, model) in pipeline.members() {
        model.validate()?;
        if let Some(outputs) = model.n_outputs() {
            if outputs != classes.max(1) {
                return Err(AutotabError::data(format!(
                    "the model has {outputs} outputs but the label has {classes} classes"
                )));
            }
        }
    }
    let expected = match pipeline.fit {
        crate::pipeline::FinalFit::Refit => 1,
        crate::pipeline::FinalFit::Folds { models } => models,
    };
    if pipeline.bag.len() + 1 != expected {
        return Err(AutotabError::data(format!(
            "the pipeline says {} but holds {} models",
            pipeline.fit.describe(),
            pipeline.bag.len() + 1
        )));
    }
    Ok(())
}
