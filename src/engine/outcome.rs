//! What a finished run produced, and its compact summary.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::data::{Dataset, Schema};
use crate::ensemble::EnsembleRecord;
use crate::error::Result;
use crate::featurize::Guardrail;
use crate::leaderboard::{Entry, Leaderboard};
use crate::metrics::Metric;
use crate::pipeline::Pipeline;
use crate::search::{StopReason, TrialRecord};
use crate::task::Task;

/// What a finished run produced.
#[derive(Debug)]
pub struct RunOutcome {
    /// The experiment it belongs to.
    pub experiment: String,
    /// The task solved.
    pub task: Task,
    /// The primary metric.
    pub metric: Metric,
    /// The inferred schema.
    pub schema: Schema,
    /// Guardrail findings.
    pub guardrails: Vec<Guardrail>,
    /// How rows were validated.
    pub validation: String,
    /// Every search trial, in launch order.
    pub trials: Vec<TrialRecord>,
    /// The ensembles scored after the search (a voting ensemble when a mixture beat the best
    /// trial, a stack ensemble when one could be built), whether or not they won.
    pub ensembles: Vec<EnsembleRecord>,
    /// What was shipped in the pipeline: the best trial or an ensemble that beat it.
    pub winner: Entry,
    /// The shipped pipeline: refit on all rows, or the folds' models (`pipeline.fit` says).
    pub pipeline: Pipeline,
    /// Why the search stopped.
    pub stop_reason: StopReason,
    /// Rows used for training (label present).
    pub n_rows: usize,
    /// Class counts (classification), in class order.
    pub class_counts: Vec<(String, usize)>,
    /// Wall seconds of the whole run.
    pub elapsed_s: f64,
    /// Seconds spent finalizing the winner (refitting it on all rows, or assembling its
    /// folds' models).
    pub refit_s: f64,
    /// The first training row's input columns, for a sample request.
    pub sample: Dataset,
    /// Out-of-fold predictions behind the shipped model's score, with the labels (for the
    /// report's curves); `None` when they were not kept.
    pub oof: Option<OutOfFold>,
}

/// Out-of-fold predictions of one learner on the rows that were in a validation part, with
/// their labels: what the report's ROC, precision-recall, calibration, confusion matrix and
/// residual charts are drawn from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutOfFold {
    /// Whose predictions they are: the winner, or the trial standing in for it (a stack's own
    /// out-of-fold predictions are not kept), as `"#3 LightGBM"`.
    pub source: String,
    /// Row numbers in the training table (label present), ascending.
    pub rows: Vec<usize>,
    /// Each row's label: a class index (classification) or the value (regression).
    pub labels: Vec<f64>,
    /// Each row's prediction: one probability per class (classification) or one value.
    pub predictions: Vec<Vec<f64>>,
}

/// A compact, serialisable summary of a run (the `--json` line's core).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeSummary {
    /// Task name.
    pub task: String,
    /// Metric name.
    pub metric: String,
    /// Best cross-validated score.
    pub best_score: f64,
    /// What produced the best model (an algorithm or an ensemble).
    pub best_algorithm: String,
    /// Number of search trials.
    pub trials: usize,
    /// Wall seconds.
    pub elapsed_s: f64,
    /// Why the search stopped.
    pub stop_reason: StopReason,
}

impl RunOutcome {
    /// The summary of this run.
    pub fn summary(&self) -> OutcomeSummary {
        OutcomeSummary {
            task: self.task.name().to_string(),
            metric: self.metric.name().to_string(),
            best_score: self.winner.score,
            best_algorithm: self.winner.learner.name().to_string(),
            trials: self.trials.len(),
            elapsed_s: self.elapsed_s,
            stop_reason: self.stop_reason,
        }
    }

    /// Completed trials and the ensembles, best first.
    pub fn leaderboard(&self) -> Leaderboard {
        Leaderboard::new(self.metric, &self.trials, &self.ensembles)
    }

    /// Saves the model as a self-contained bundle folder (see [`crate::scoring`]), with no
    /// tracking: the bundle records no run id.
    pub fn save_bundle(&self, dir: &Path) -> Result<()> {
        let info = crate::scoring::BundleInfo::of_outcome(self, None);
        crate::scoring::save_bundle(dir, &self.pipeline, &info, &self.sample)
    }
}
