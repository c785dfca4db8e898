//! One trial: an estimator trained and scored on every fold.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use ndarray::{Array2, Axis};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{AutotabError, Result};
use crate::metrics::Metric;
use crate::models::trees::BinnedData;
use crate::models::{
    uses_binned_features, Algorithm, Estimator, FitContext, FittedModel, ParamValue, Params,
    TrainSet,
};
use crate::target::Targets;
use crate::validation::{inner_split, subsample_rows};

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
    /// The training rows split again for boosting's early stopping (built on first use).
    inner: OnceLock<Option<InnerSplit>>,
    /// Row samples of the training part for low-fidelity trials, by size (built on first use).
    samples: Mutex<BTreeMap<usize, Arc<TrainSample>>>,
}

/// The first `rows` rows of a fixed shuffle of a fold's training rows: what a low-fidelity
/// trial trains on (a larger sample holds every row of a smaller one). Validation rows are
/// the fold's own, so scores at every fidelity are comparable.
#[derive(Debug)]
pub struct TrainSample {
    /// Sampled training rows.
    pub x: Array2<f64>,
    /// Their targets.
    pub y: Targets,
    /// The sampled rows binned with the fold's bin boundaries (when the fold was binned, that
    /// is when a tree learner is searched).
    pub binned: Option<BinnedData>,
    /// The sample's own split for boosting's early stopping.
    pub inner: Option<InnerSplit>,
}

/// A fold's training rows split into an inner training part and an inner validation part on
/// which gradient boosting stops its rounds. The fold's validation rows are never among them,
/// so the fold's score stays an honest out-of-sample figure.
#[derive(Debug)]
pub struct InnerSplit {
    /// Inner training rows.
    pub x_train: Array2<f64>,
    /// Their targets.
    pub y_train: Targets,
    /// Inner training rows, binned with the fold's bin boundaries.
    pub binned_train: BinnedData,
    /// Inner validation rows.
    pub x_valid: Array2<f64>,
    /// Their targets.
    pub y_valid: Targets,
    /// Inner validation rows, binned with the fold's bin boundaries.
    pub binned_valid: BinnedData,
}

/// Folds with fewer training rows than this train boosting without early stopping (an inner
/// validation part of a handful of rows would pick its rounds by noise).
pub const MIN_ROWS_FOR_INNER_SPLIT: usize = 200;
/// The inner validation part is one in this many of a fold's training rows (about 14%).
const INNER_PARTS: usize = 7;

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
            inner: OnceLock::new(),
            samples: Mutex::new(BTreeMap::new()),
        }
    }

    /// The training rows binned (built once; concurrent callers wait for the first).
    pub fn binned(&self) -> &BinnedData {
        self.binned
            .get_or_init(|| BinnedData::build(self.x_train.view(), 255, 0))
    }

    /// Training rows of this fold.
    pub fn train_rows(&self) -> usize {
        self.x_train.nrows()
    }

    /// The sample of `rows` training rows (see [`TrainSample`]); built once per size.
    pub fn sample(&self, rows: usize) -> Arc<TrainSample> {
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(samples.entry(rows).or_insert_with(|| {
            let mut order: Vec<usize> = (0..self.x_train.nrows()).collect();
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(0x005e_ed5a_3b1e));
            let mut chosen = order[..rows.min(order.len())].to_vec();
            chosen.sort_unstable();
            let x = self.x_train.select(Axis(0), &chosen);
            let y = self.y_train.select(&chosen);
            // Binning runs on the pool and must not start inside a trial (see
            // `engine::folds`): only a fold binned before the search gives binned samples.
            let binned = self.binned.get().map(|b| b.select_rows(&chosen));
            let inner = binned
                .as_ref()
                .and_then(|b| split_for_early_stopping(&x, &y, b));
            Arc::new(TrainSample {
                x,
                y,
                binned,
                inner,
            })
        }))
    }

    /// The inner split for early stopping, or `None` when the fold is too small for one.
    /// Built once, with a fixed seed, so every trial on the fold stops on the same rows.
    pub fn inner_split(&self) -> Option<&InnerSplit> {
        self.inner
            .get_or_init(|| split_for_early_stopping(&self.x_train, &self.y_train, self.binned()))
            .as_ref()
    }
}

/// Rows a boosting trial's rounds were early-stopped on, for folds of `fold_train_rows`
/// training rows: the inner training part, or `None` when the folds are too small for an
/// inner split (the rounds then are the configuration's own, see [`ROUNDS_WITHOUT_EARLY_STOPPING`]).
pub fn early_stopping_train_rows(fold_train_rows: f64) -> Option<f64> {
    (fold_train_rows >= MIN_ROWS_FOR_INNER_SPLIT as f64)
        .then(|| fold_train_rows * (INNER_PARTS - 1) as f64 / INNER_PARTS as f64)
}

/// Splits training rows (and their binned copy) into an inner training and an inner
/// validation part, or `None` when there are too few rows for one.
fn split_for_early_stopping(
    x: &Array2<f64>,
    y: &Targets,
    binned: &BinnedData,
) -> Option<InnerSplit> {
    if x.nrows() < MIN_ROWS_FOR_INNER_SPLIT {
        return None;
    }
    let (train, valid) = inner_split(y, INNER_PARTS, 0x1a2b_3c4d);
    Some(InnerSplit {
        x_train: x.select(Axis(0), &train),
        y_train: y.select(&train),
        binned_train: binned.select_rows(&train),
        x_valid: x.select(Axis(0), &valid),
        y_valid: y.select(&valid),
        binned_valid: binned.select_rows(&valid),
    })
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
    /// Training rows of each fold when the trial ran on a sample of them (multi-fidelity);
    /// `None`: every training row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_rows: Option<usize>,
}

impl TrialRecord {
    /// The record of a trial without a score yet: `status` says why (a running trial is
    /// recorded `Completed` and scored afterwards).
    pub(crate) fn unscored(
        index: usize,
        algorithm: Algorithm,
        params: Params,
        status: TrialStatus,
        seconds: f64,
        started_at: f64,
        train_rows: Option<usize>,
    ) -> TrialRecord {
        TrialRecord {
            index,
            algorithm,
            params,
            status,
            score: None,
            score_std: None,
            fold_scores: Vec::new(),
            seconds,
            fit_seconds_per_fold: 0.0,
            started_at,
            train_rows,
        }
    }

    /// A short description of the main hyperparameters: `alpha=0.1 max_iterations=50`.
    pub fn params_summary(&self) -> String {
        self.params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What a trial produced besides its record: out-of-fold predictions for ensembling, and the
/// folds' models for bagging.
#[derive(Debug)]
pub struct TrialOutput {
    /// The record.
    pub record: TrialRecord,
    /// Out-of-fold predictions (rows of the training table x outputs); rows never in a
    /// validation part stay zero. `None` unless completed.
    pub oof: Option<Array2<f64>>,
    /// Each fold's fitted model, in fold order (`None` unless completed): averaged, they are
    /// the bagged model whose score the trial measured.
    pub fold_models: Option<Vec<FittedModel>>,
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
    /// Train each fold on a sample of this many of its rows (`None`: all of them).
    pub rows: Option<usize>,
}

/// Runs a trial, turning errors and panics into a failed record.
pub(crate) fn run_trial(job: TrialJob) -> TrialOutput {
    let start = Instant::now();
    let started_at = start.duration_since(job.search_start).as_secs_f64();
    let outcome = catch_unwind(AssertUnwindSafe(|| train_and_score(&job)));
    let seconds = start.elapsed().as_secs_f64();
    let mut record = TrialRecord::unscored(
        job.index,
        job.algorithm,
        job.params.clone(),
        TrialStatus::Completed,
        seconds,
        started_at,
        job.rows,
    );
    let (oof, fold_models) = match outcome {
        Ok(Ok(results)) => {
            let (mean, std) = crate::stats::mean_std(&results.scores);
            record.score = Some(mean);
            record.score_std = Some(std);
            record.fold_scores = results.scores;
            record.fit_seconds_per_fold = results.fit_seconds;
            if let Some(rounds) = chosen_rounds(&results.rounds) {
                record
                    .params
                    .insert("n_estimators".into(), ParamValue::Int(rounds as i64));
            }
            (Some(results.oof), Some(results.models))
        }
        Ok(Err(AutotabError::Budget(reason))) => {
            record.status = TrialStatus::TimedOut(reason);
            (None, None)
        }
        Ok(Err(e)) => {
            record.status = TrialStatus::Failed(e.to_string());
            (None, None)
        }
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            record.status = TrialStatus::Failed(format!("the learner panicked: {message}"));
            (None, None)
        }
    };
    TrialOutput {
        record,
        oof,
        fold_models,
    }
}

/// What training and scoring on every fold gave.
struct FoldResults {
    scores: Vec<f64>,
    oof: Array2<f64>,
    /// Mean wall seconds of one fold's fit.
    fit_seconds: f64,
    /// Boosting rounds each fold's model kept (after early stopping, or all it trained before
    /// the deadline); empty for other learners.
    rounds: Vec<usize>,
    /// Each fold's model.
    models: Vec<FittedModel>,
}

/// The rounds a refit on all rows trains: the mean of the rounds the folds' models kept.
/// Recorded as the trial's `n_estimators`, so the leaderboard, the child run and the refit all
/// show and use the rounds that were scored.
fn chosen_rounds(rounds: &[usize]) -> Option<usize> {
    if rounds.is_empty() {
        return None;
    }
    let mean = rounds.iter().sum::<usize>() as f64 / rounds.len() as f64;
    // Kept inside the declared range, so that the recorded configuration checks again.
    let (low, high) = match Algorithm::GradientBoosting
        .space()
        .iter()
        .find(|s| s.name == "n_estimators")
        .map(|s| &s.domain)
    {
        Some(crate::models::Domain::Int { low, high, .. }) => (*low as usize, *high as usize),
        _ => (1, usize::MAX),
    };
    Some((mean.round() as usize).clamp(low, high))
}

/// Fits on each fold's training part, scores its validation part.
fn train_and_score(job: &TrialJob) -> Result<FoldResults> {
    let estimator = Estimator::new(job.algorithm, &capped_rounds(job))?;
    let outputs = match &job.folds[0].y_train {
        Targets::Classes(_, k) => *k,
        Targets::Values(_) => 1,
    };
    let mut results = FoldResults {
        scores: Vec::with_capacity(job.folds.len()),
        oof: Array2::zeros((job.n_rows, outputs)),
        fit_seconds: 0.0,
        rounds: Vec::new(),
        models: Vec::with_capacity(job.folds.len()),
    };
    let start = Instant::now();
    for (f, fold) in job.folds.iter().enumerate() {
        let fold_deadline = super::executor::fold_deadline(start, job.deadline, f, job.folds.len());
        if Instant::now() >= job.deadline {
            return Err(AutotabError::Budget(format!(
                "deadline reached after {f} of {} folds",
                job.folds.len()
            )));
        }
        let seed = job.seed.wrapping_add(f as u64 * 7919);
        let fit_start = Instant::now();
        let sample = job
            .rows
            .filter(|&r| r < fold.train_rows())
            .map(|r| fold.sample(r));
        let rows = match &sample {
            Some(sample) => TrainRows::of_sample(sample),
            None => TrainRows::of_fold(fold, job.algorithm),
        };
        let model = fit_rows(job.algorithm, &estimator, rows, fold_deadline, seed)?;
        results.fit_seconds += fit_start.elapsed().as_secs_f64();
        if let Some(rounds) = model.boosting_rounds() {
            results.rounds.push(rounds);
        }
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
        results.scores.push(score);
        for (i, &row) in fold.valid_rows.iter().enumerate() {
            results.oof.row_mut(row).assign(&pred.row(i));
        }
        results.models.push(model);
    }
    results.fit_seconds /= job.folds.len() as f64;
    Ok(results)
}

/// Boosting rounds of a trial whose folds are too small to stop early: a cap written for
/// early stopping (the strong start's 1000 or 2000) would otherwise all be trained.
pub const ROUNDS_WITHOUT_EARLY_STOPPING: i64 = 300;

/// The trial's parameters, with boosting's rounds capped at [`ROUNDS_WITHOUT_EARLY_STOPPING`]
/// when no fold has an inner split to stop them on (the rounds trained are recorded either way).
fn capped_rounds(job: &TrialJob) -> Params {
    let mut params = job.params.clone();
    if job.algorithm == Algorithm::GradientBoosting
        && !job.folds.iter().any(|f| f.inner_split().is_some())
    {
        if let Some(ParamValue::Int(n)) = params.get_mut("n_estimators") {
            *n = (*n).min(ROUNDS_WITHOUT_EARLY_STOPPING);
        }
    }
    params
}

/// The training rows a fold's model is fitted on: all of the fold's, or a sample of them.
struct TrainRows<'a> {
    x: &'a Array2<f64>,
    y: &'a Targets,
    /// Their binned copy, for the tree learners.
    binned: Option<&'a BinnedData>,
    /// Their split for boosting's early stopping, when they are enough for one.
    inner: Option<&'a InnerSplit>,
}

impl<'a> TrainRows<'a> {
    /// Every training row of `fold`; its binned copy and inner split are asked for only by
    /// the learners that use them (the inner split is built on first use).
    fn of_fold(fold: &'a PreparedFold, algorithm: Algorithm) -> Self {
        TrainRows {
            x: &fold.x_train,
            y: &fold.y_train,
            binned: uses_binned_features(algorithm).then(|| fold.binned()),
            inner: (algorithm == Algorithm::GradientBoosting)
                .then(|| fold.inner_split())
                .flatten(),
        }
    }

    /// A sample of a fold's training rows.
    fn of_sample(sample: &'a TrainSample) -> Self {
        TrainRows {
            x: &sample.x,
            y: &sample.y,
            binned: sample.binned.as_ref(),
            inner: sample.inner.as_ref(),
        }
    }
}

/// Fits one fold's model: on a row sample for learners capped in rows, on the inner training
/// part with early stopping on the inner validation part for boosting, else on every row given.
fn fit_rows(
    algorithm: Algorithm,
    estimator: &Estimator,
    rows: TrainRows,
    deadline: Instant,
    seed: u64,
) -> Result<FittedModel> {
    if let Some(cap) = algorithm
        .max_train_rows()
        .filter(|&cap| rows.x.nrows() > cap)
    {
        let kept = subsample_rows(rows.x.nrows(), cap, seed);
        let x = rows.x.select(Axis(0), &kept);
        let y = rows.y.select(&kept);
        let train = TrainSet {
            x: x.view(),
            y: y.as_ref(),
            weights: None,
            binned: None,
        };
        return fit(estimator, &train, None, deadline, seed);
    }
    if let Some(inner) = rows
        .inner
        .filter(|_| algorithm == Algorithm::GradientBoosting)
    {
        return fit_inner(estimator, inner, deadline, seed);
    }
    let train = TrainSet {
        x: rows.x.view(),
        y: rows.y.as_ref(),
        weights: None,
        binned: rows.binned.filter(|_| uses_binned_features(algorithm)),
    };
    fit(estimator, &train, None, deadline, seed)
}

/// Fits boosting on an inner training part, stopping its rounds on the inner validation part.
fn fit_inner(
    estimator: &Estimator,
    inner: &InnerSplit,
    deadline: Instant,
    seed: u64,
) -> Result<FittedModel> {
    let train = TrainSet {
        x: inner.x_train.view(),
        y: inner.y_train.as_ref(),
        weights: None,
        binned: Some(&inner.binned_train),
    };
    let valid = TrainSet {
        x: inner.x_valid.view(),
        y: inner.y_valid.as_ref(),
        weights: None,
        binned: Some(&inner.binned_valid),
    };
    fit(estimator, &train, Some(valid), deadline, seed)
}

fn fit(
    estimator: &Estimator,
    train: &TrainSet,
    valid: Option<TrainSet>,
    deadline: Instant,
    seed: u64,
) -> Result<FittedModel> {
    // The fold's validation part scores the trial, so it is never shown to the learner: the
    // early-stopping rows, when there are any, come from the fold's training part.
    let ctx = FitContext {
        deadline: Some(deadline),
        seed,
        valid,
    };
    estimator.fit(train, &ctx)
}
