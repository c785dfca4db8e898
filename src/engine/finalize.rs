//! Stage 6, finalize: the winning configuration (or ensemble) refit on every training row and
//! wrapped with the featurizer into the [`Pipeline`] that is saved and scored.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ndarray::{Array2, Axis};

use super::load::LoadedData;
use super::observer::RunObserver;
use super::plan::RunPlan;
use crate::ensemble::{EnsembleRecord, Learner, Stack};
use crate::error::{AutotabError, Result};
use crate::featurize::{fit_featurizer, FittedFeaturizer};
use crate::leaderboard::Entry;
use crate::models::trees::BinnedData;
use crate::models::{
    uses_binned_features, Algorithm, Estimator, FitContext, FittedModel, Params, StackInput,
    TrainSet,
};
use crate::pipeline::Pipeline;
use crate::search::{SearchOutcome, TrialRecord, WorkerPool};
use crate::target::Targets;
use crate::validation::subsample_rows;

/// How many of the best trials are tried, in order, when a refit fails.
const REFIT_ATTEMPTS: usize = 3;

/// Estimates how long refitting a trial's configuration on all rows takes, from its fold fits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefitCost {
    /// Mean training rows of a fold.
    pub mean_train_rows: f64,
    /// All rows over a fold's training rows.
    pub scale: f64,
    /// Seconds to featurize all rows (scaled from the folds).
    pub featurize_all: f64,
}

impl RefitCost {
    /// The estimate for `n_rows` rows, given folds of `mean_train_rows` featurized in
    /// `fold_seconds` in all.
    pub fn new(n_rows: usize, mean_train_rows: f64, fold_seconds: f64, n_folds: usize) -> Self {
        let scale = n_rows as f64 / mean_train_rows.max(1.0);
        RefitCost {
            mean_train_rows,
            scale,
            featurize_all: fold_seconds / n_folds.max(1) as f64 * scale,
        }
    }

    /// Seconds to refit `trial` on all rows, with a safety margin.
    pub fn seconds(&self, trial: &TrialRecord) -> f64 {
        // A learner capped at fewer rows than a fold refits on the same number of rows.
        let capped = trial
            .algorithm
            .max_train_rows()
            .is_some_and(|cap| (cap as f64) < self.mean_train_rows);
        // A trial on a sample of the fold's rows grows from the sample to all rows.
        let scale = match trial.train_rows {
            Some(rows) => self.scale * self.mean_train_rows / rows.max(1) as f64,
            None => self.scale,
        };
        let growth = if capped { 1.0 } else { scale.max(1.0) };
        trial.fit_seconds_per_fold * growth * 1.3 + self.featurize_all + 0.2
    }
}

/// Fits configurations on every training row, sharing one binned copy for the tree learners.
pub(crate) struct Refitter<'a> {
    pool: &'a WorkerPool,
    x_all: Array2<f64>,
    targets: &'a Targets,
    binned_all: OnceLock<BinnedData>,
    seed: u64,
}

impl<'a> Refitter<'a> {
    /// A refitter of `features` (already transformed) against `targets`.
    pub fn new(pool: &'a WorkerPool, x_all: Array2<f64>, targets: &'a Targets, seed: u64) -> Self {
        Refitter {
            pool,
            x_all,
            targets,
            binned_all: OnceLock::new(),
            seed,
        }
    }

    /// Fits `algorithm` with `params` on all rows (subsampled for capped learners) by
    /// `deadline`, turning a panic of the learner into an error. Runs on the pool: its threads
    /// have the large stack some learners need.
    pub fn fit(
        &self,
        algorithm: Algorithm,
        params: &Params,
        deadline: Instant,
    ) -> Result<FittedModel> {
        let estimator = Estimator::new(algorithm, params)?;
        let ctx = FitContext {
            deadline: Some(deadline),
            seed: self.seed,
            valid: None,
        };
        let fit = || match algorithm
            .max_train_rows()
            .filter(|&c| c < self.x_all.nrows())
        {
            Some(cap) => {
                let rows = subsample_rows(self.x_all.nrows(), cap, self.seed);
                let x = self.x_all.select(Axis(0), &rows);
                let y = self.targets.select(&rows);
                let train = TrainSet {
                    x: x.view(),
                    y: y.as_ref(),
                    weights: None,
                    binned: None,
                };
                estimator.fit(&train, &ctx)
            }
            None => {
                let binned = uses_binned_features(algorithm).then(|| {
                    self.binned_all
                        .get_or_init(|| BinnedData::build(self.x_all.view(), 255, 0))
                });
                let train = TrainSet {
                    x: self.x_all.view(),
                    y: self.targets.as_ref(),
                    weights: None,
                    binned,
                };
                estimator.fit(&train, &ctx)
            }
        };
        self.pool.install(|| {
            catch_unwind(AssertUnwindSafe(fit))
                .unwrap_or_else(|_| Err(AutotabError::fit(algorithm, "the learner panicked")))
        })
    }

    /// Fits every member of a weighted ensemble.
    pub fn fit_weighted(
        &self,
        members: &[(f64, Algorithm, Params)],
        deadline: Instant,
    ) -> Result<FittedModel> {
        let fitted = members
            .iter()
            .map(|(weight, algorithm, params)| {
                Ok((*weight, self.fit(*algorithm, params, deadline)?))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(FittedModel::Ensemble(fitted))
    }
}

/// An ensemble that beat the best trial, to refit in its place.
#[derive(Debug)]
pub(crate) struct Candidate {
    /// The ensemble.
    pub record: EnsembleRecord,
    /// A stack's meta-learner fitted on all out-of-fold rows, and what feeds it (`None` for a
    /// voting ensemble).
    pub meta: Option<(FittedModel, StackInput)>,
}

/// What finalizing produced.
#[derive(Debug)]
pub(crate) struct Finalized {
    /// The refit pipeline.
    pub pipeline: Pipeline,
    /// The leaderboard entry of what was refit.
    pub winner: Entry,
    /// Seconds spent.
    pub seconds: f64,
}

/// Refits the best trial (falling back to the next ones if it fails), then the first of the
/// `candidates` (ensembles that beat it, best first) whose members can be refit in the
/// remaining time.
#[allow(clippy::too_many_arguments)]
pub(crate) fn finalize(
    pool: &WorkerPool,
    data: &LoadedData,
    plan: &RunPlan,
    search: &SearchOutcome,
    candidates: Vec<Candidate>,
    cost: RefitCost,
    hard_end: Instant,
    seed: u64,
    observer: &mut dyn RunObserver,
) -> Result<Finalized> {
    let start = Instant::now();
    observer.message("refitting the best configuration on all rows");
    let featurizer = fit_featurizer(&data.schema, &data.features, &plan.featurizer)?;
    let refitter = Refitter::new(
        pool,
        featurizer.transform(&data.features)?,
        &data.targets,
        seed,
    );
    let deadline = || hard_end.max(Instant::now() + Duration::from_secs(1));
    let (best, model) = refit_best(&refitter, &search.ranked(data.metric), deadline, observer)?;
    let trials = &search.trials;
    let mut winner = Entry::of_trial(best);
    let mut model = model;
    for candidate in candidates {
        let record = &candidate.record;
        match refit_members(
            &refitter,
            record,
            trials,
            best.index,
            model,
            cost,
            hard_end,
            deadline(),
        ) {
            Ok(members) => {
                model = match candidate.meta {
                    Some((meta, input)) => {
                        Stack::model(meta, input, members.into_iter().map(|m| m.1).collect())
                    }
                    None => FittedModel::Ensemble(members),
                };
                winner = Entry::of_ensemble(record, trials);
                break;
            }
            Err(failed) => {
                let (kept, reason) = *failed;
                observer.message(&format!("skipped the {}: {reason}", record.kind.name()));
                model = kept;
            }
        }
    }
    let pipeline = pipeline(data, featurizer, winner.learner, model);
    Ok(Finalized {
        pipeline,
        winner,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn refit_best<'t>(
    refitter: &Refitter,
    ranked: &[&'t TrialRecord],
    deadline: impl Fn() -> Instant,
    observer: &mut dyn RunObserver,
) -> Result<(&'t TrialRecord, FittedModel)> {
    let mut last_error = None;
    for candidate in ranked.iter().take(REFIT_ATTEMPTS) {
        match refitter.fit(candidate.algorithm, &candidate.params, deadline()) {
            Ok(model) => return Ok((candidate, model)),
            Err(e) => {
                observer.message(&format!("refit of trial {} failed: {e}", candidate.index));
                last_error = Some(e);
            }
        }
    }
    Err(last_error.unwrap_or_else(|| AutotabError::Budget("no model could be refit".into())))
}

/// The best trial's model given back when an ensemble is not refit, with the reason.
type Kept = Box<(FittedModel, String)>;

/// Refits the ensemble's members, in member order with their weights (reusing the best
/// trial's model when it is one). On failure, or when its members cannot be refit in the time
/// left, gives back the best trial's model and the reason.
#[allow(clippy::too_many_arguments)]
fn refit_members(
    refitter: &Refitter,
    record: &EnsembleRecord,
    trials: &[TrialRecord],
    best_index: usize,
    best_model: FittedModel,
    cost: RefitCost,
    hard_end: Instant,
    deadline: Instant,
) -> std::result::Result<Vec<(f64, FittedModel)>, Kept> {
    let members = match record.member_trials(trials) {
        Ok(m) => m,
        Err(e) => return Err(Box::new((best_model, e.to_string()))),
    };
    let needed: f64 = members
        .iter()
        .filter(|(_, t)| t.index != best_index)
        .map(|(_, t)| cost.seconds(t))
        .sum();
    let left = hard_end
        .saturating_duration_since(Instant::now())
        .as_secs_f64();
    if needed > left {
        let reason = format!(
            "refitting its {} members needs about {needed:.1}s, {left:.1}s left",
            members.len()
        );
        return Err(Box::new((best_model, reason)));
    }
    let mut others = Vec::with_capacity(members.len());
    for (_, t) in members.iter().filter(|(_, t)| t.index != best_index) {
        match refitter.fit(t.algorithm, &t.params, deadline) {
            Ok(model) => others.push((t.index, model)),
            Err(e) => {
                let reason = format!("refit of trial {} failed: {e}", t.index);
                return Err(Box::new((best_model, reason)));
            }
        }
    }
    let mut best_model = Some(best_model);
    let fitted = members
        .iter()
        .map(|(w, t)| {
            let model = match others.iter().position(|(i, _)| *i == t.index) {
                Some(p) => others.swap_remove(p).1,
                None => best_model.take().expect("the best trial is one member"),
            };
            (*w, model)
        })
        .collect();
    Ok(fitted)
}

/// The pipeline of `model` on the run's data.
pub(crate) fn pipeline(
    data: &LoadedData,
    featurizer: FittedFeaturizer,
    learner: Learner,
    model: FittedModel,
) -> Pipeline {
    Pipeline {
        task: data.task,
        label: data.label.clone(),
        label_encoding: data.encoding.clone(),
        schema: data.schema.clone(),
        learner,
        featurizer,
        model,
    }
}
