//! One trial: an estimator trained and scored on every fold.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;
use std::time::Instant;

use ndarray::{Array2, Axis};
use serde::{Deserialize, Serialize};

use crate::error::{AutotabError, Result};
use crate::metrics::Metric;
use crate::models::trees::BinnedData;
use crate::models::{uses_binned_features, Algorithm, Estimator, FitContext, Params, TrainSet};
use crate::target::Targets;
use crate::validation::subsample_rows;

/// A featurized train/validation split, shared read-only by every trial.
#[derive(Debug)]
pub struct PreparedFold {
    /// Featurized training rows.
    pub x_train: Array2<f64>,
    /// Their targets.
    pub y_train: Targets,
    /// Featurized validation rows.
    pub x_valid: Array2<f64>,
    /// Their targets.
    pub y_valid: Targets,
    /// Row numbers (in the training table) of the validation rows.
    pub valid_rows: Vec<usize>,
    /// `x_train` binned for the tree learners: built before the search (see
    /// `engine::folds`), then shared read-only.
    pub binned: OnceLock<BinnedData>,
}

impl PreparedFold {
    /// A fold from its parts (the binned copy is built by [`PreparedFold::binned`]).
    pub fn new(
        x_train: Array2<f64>,
        y_train: Targets,
        x_valid: Array2<f64>,
        y_valid: Targets,
        valid_rows: Vec<usize>,
    ) -> Self {
        PreparedFold {
            x_train,
            y_train,
            x_valid,
            y_valid,
            valid_rows,
            binned: OnceLock::new(),
        }
    }

    /// The training rows binned (built once; concurrent callers wait for the first).
    pub fn binned(&self) -> &BinnedData {
        self.binned
            .get_or_init(|| BinnedData::build(self.x_train.view(), 255, 0))
    }
}

/// How a trial ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "reason")]
pub enum TrialStatus {
    /// Trained and scored on every fold.
    Completed,
    /// Failed (an error or a panic in the learner); the reason is kept.
    Failed(String),
    /// Stopped by its deadline before every fold was scored.
    TimedOut(String),
}

/// The record of one finished trial: what ran, how it scored, what it cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// 0-based trial number, in launch order.
    pub index: usize,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The complete hyperparameters.
    pub params: Params,
    /// Completed, failed or timed out.
    pub status: TrialStatus,
    /// Mean of the fold scores (completed trials).
    pub score: Option<f64>,
    /// Standard deviation of the fold scores.
    pub score_std: Option<f64>,
    /// The primary metric on each fold.
    pub fold_scores: Vec<f64>,
    /// Wall seconds of the whole trial.
    pub seconds: f64,
    /// Mean wall seconds of one fold's fit.
    pub fit_seconds_per_fold: f64,
    /// Seconds since the search started when the trial began.
    pub started_at: f64,
}

impl TrialRecord {
    /// A short description of the main hyperparameters: `alpha=0.1 max_iterations=50`.
    pub fn params_summary(&self) -> String {
        self.params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What a trial produced besides its record: out-of-fold predictions for ensembling.
#[derive(Debug)]
pub struct TrialOutput {
    /// The record.
    pub record: TrialRecord,
    /// Out-of-fold predictions (rows of the training table x outputs); rows never in a
    /// validation part stay zero. `None` unless completed.
    pub oof: Option<Array2<f64>>,
}

/// Everything a trial needs.
pub(crate) struct TrialJob<'a> {
    pub index: usize,
    pub algorithm: Algorithm,
    pub params: Params,
    pub folds: &'a [PreparedFold],
    pub n_rows: usize,
    pub metric: Metric,
    pub deadline: Instant,
    pub seed: u64,
    pub search_start: Instant,
}

/// Runs a trial, turning errors and panics into a failed record.
pub(crate) fn run_trial(job: TrialJob) -> TrialOutput {
    let start = Instant::now();
    let started_at = start.duration_since(job.search_start).as_secs_f64();
    let outcome = catch_unwind(AssertUnwindSafe(|| train_and_score(&job)));
    let seconds = start.elapsed().as_secs_f64();
    let mut record = TrialRecord {
        index: job.index,
        algorithm: job.algorithm,
        params: job.params.clone(),
        status: TrialStatus::Completed,
        score: None,
        score_std: None,
        fold_scores: Vec::new(),
        seconds,
        fit_seconds_per_fold: 0.0,
        started_at,
    };
    let oof = match outcome {
        Ok(Ok((scores, oof, fit_seconds))) => {
            let (mean, std) = crate::stats::mean_std(&scores);
            record.score = Some(mean);
            record.score_std = Some(std);
            record.fold_scores = scores;
            record.fit_seconds_per_fold = fit_seconds;
            Some(oof)
        }
        Ok(Err(AutotabError::Budget(reason))) => {
            record.status = TrialStatus::TimedOut(reason);
            None
        }
        Ok(Err(e)) => {
            record.status = TrialStatus::Failed(e.to_string());
            None
        }
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            record.status = TrialStatus::Failed(format!("the learner panicked: {message}"));
            None
        }
    };
    TrialOutput { record, oof }
}

/// Fits on each fold's training part, scores its validation part.
/// Returns fold scores, out-of-fold predictions and mean fit seconds per fold.
fn train_and_score(job: &TrialJob) -> Result<(Vec<f64>, Array2<f64>, f64)> {
    let estimator = Estimator::new(job.algorithm, &job.params)?;
    let outputs = match &job.folds[0].y_train {
        Targets::Classes(_, k) => *k,
        Targets::Values(_) => 1,
    };
    let mut oof = Array2::zeros((job.n_rows, outputs));
    let mut scores = Vec::with_capacity(job.folds.len());
    let mut fit_seconds = 0.0;
    let start = Instant::now();
    let n_folds = job.folds.len() as u32;
    for (f, fold) in job.folds.iter().enumerate() {
        // Each fold gets its share of the trial's time, so iterative learners stop in time
        // for the later folds.
        let fold_deadline =
            start + job.deadline.saturating_duration_since(start) * (f as u32 + 1) / n_folds;
        if Instant::now() >= job.deadline {
            return Err(AutotabError::Budget(format!(
                "deadline reached after {f} of {} folds",
                job.folds.len()
            )));
        }
        let seed = job.seed.wrapping_add(f as u64 * 7919);
        let fit_start = Instant::now();
        let model = match job.algorithm.max_train_rows() {
            Some(cap) if fold.x_train.nrows() > cap => {
                let rows = subsample_rows(fold.x_train.nrows(), cap, seed);
                let x = fold.x_train.select(Axis(0), &rows);
                let y = fold.y_train.select(&rows);
                fit(&estimator, &x, &y, None, fold_deadline, seed)?
            }
            _ => {
                let binned = uses_binned_features(job.algorithm).then(|| fold.binned());
                fit(
                    &estimator,
                    &fold.x_train,
                    &fold.y_train,
                    binned,
                    fold_deadline,
                    seed,
                )?
            }
        };
        fit_seconds += fit_start.elapsed().as_secs_f64();
        let pred = model.predict_before(fold.x_valid.view(), Some(fold_deadline))?;
        let score = match &fold.y_valid {
            Targets::Classes(labels, _) => job.metric.classification(labels, pred.view())?,
            Targets::Values(values) => job.metric.regression(values, &pred.column(0).to_vec())?,
        };
        if !score.is_finite() {
            return Err(AutotabError::fit(
                job.algorithm,
                format!("{} is not finite on fold {}", job.metric, f + 1),
            ));
        }
        scores.push(score);
        for (i, &row) in fold.valid_rows.iter().enumerate() {
            oof.row_mut(row).assign(&pred.row(i));
        }
    }
    Ok((scores, oof, fit_seconds / job.folds.len() as f64))
}

fn fit(
    estimator: &Estimator,
    x: &Array2<f64>,
    y: &Targets,
    binned: Option<&BinnedData>,
    deadline: Instant,
    seed: u64,
) -> Result<crate::models::FittedModel> {
    let train = TrainSet {
        x: x.view(),
        y: y.as_ref(),
        weights: None,
        binned,
    };
    // The validation part scores the trial, so it is never shown to the learner.
    let ctx = FitContext {
        deadline: Some(deadline),
        seed,
        valid: None,
    };
    estimator.fit(&train, &ctx)
}
