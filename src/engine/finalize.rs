//! Stage 6, finalize: what the run ships, chosen by out-of-fold score and the time left: the
//! winning configuration (or ensemble) refit on every training row, or the validation folds'
//! own models averaged (bagging), wrapped with the featurizer(s) into the [`Pipeline`] that
//! is saved and scored.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ndarray::{Array2, Axis};
use rayon::prelude::*;

use super::load::LoadedData;
use super::observer::RunObserver;
use super::plan::RunPlan;
use crate::ensemble::{EnsembleRecord, Learner, Stack};
use crate::error::{AutotabError, Result};
use crate::featurize::{fit_featurizer_with_label, FittedFeaturizer};
use crate::leaderboard::Entry;
use crate::models::trees::BinnedData;
use crate::models::{
    uses_binned_features, Algorithm, AlgorithmParams, Estimator, FitContext, FittedModel, Params,
    StackInput, TrainSet,
};
use crate::pipeline::{FinalFit, FoldModel, Pipeline};
use crate::search::{early_stopping_train_rows, SearchOutcome, TrialRecord, WorkerPool};
use crate::target::Targets;
use crate::validation::subsample_rows;

/// How many of the best trials are tried, in order, when a refit fails.
const REFIT_ATTEMPTS: usize = 3;

/// Fewest seconds left in which a refit the estimate says cannot fit is still attempted (see
/// [`RefitPlan::Attempt`]).
const MIN_REFIT_ATTEMPT_S: f64 = 0.3;

/// What the finaliser does about refitting a winner on all rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefitPlan {
    /// The estimate fits in the time left: refit.
    Refit,
    /// The estimate does not fit, but the folds' models can be shipped if the refit does not
    /// finish: try it until the run's end ([`RefitCost`] carries a safety margin, and the
    /// search reserves a refit's expected time, without it, when fold models can stand in).
    Attempt,
    /// The estimate does not fit and there is nothing to fall back on, or no time at all.
    Skip,
}

/// The refit plan for a refit estimated at `needed` seconds with `left` seconds left;
/// `fallback`: whether the winner's fold models can be shipped instead.
fn refit_plan(needed: f64, left: f64, fallback: bool) -> RefitPlan {
    if needed <= left {
        RefitPlan::Refit
    } else if fallback && left >= MIN_REFIT_ATTEMPT_S {
        RefitPlan::Attempt
    } else {
        RefitPlan::Skip
    }
}

/// Safety margin on the estimated fit seconds of a refit.
pub(crate) const REFIT_MARGIN: f64 = 1.3;
/// Fixed seconds of a refit besides fitting and featurizing (binning, assembling).
const REFIT_OVERHEAD_S: f64 = 0.2;

/// Estimates how long refitting trials' configurations on all rows takes, from their fold
/// fits. A trial's fold fit ran on one thread (see `search::executor::run_isolated`); a refit's
/// members fit side by side on the pool's threads (see `refit_ensemble`), and the featurizer
/// on all rows is fitted once for them all. Measured against this estimate on adult at 60 s: a
/// 6-member vote refit in 3.6 s; the estimate that summed one whole refit per member (with
/// its own featurizing) said 10.9 s, and cost the run its refit on two seeds out of three.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefitCost {
    /// Mean training rows of a fold.
    pub mean_train_rows: f64,
    /// All rows over a fold's training rows.
    pub scale: f64,
    /// Seconds to featurize all rows (scaled from the folds).
    pub featurize_all: f64,
    /// Members a refit fits at once: the pool's threads, at most one per core.
    pub parallel: usize,
}

impl RefitCost {
    /// The estimate for `n_rows` rows, given folds of `mean_train_rows` featurized in
    /// `fold_seconds` in all, refit on a pool of `threads`.
    pub fn new(
        n_rows: usize,
        mean_train_rows: f64,
        fold_seconds: f64,
        n_folds: usize,
        threads: usize,
    ) -> Self {
        let scale = n_rows as f64 / mean_train_rows.max(1.0);
        RefitCost {
            mean_train_rows,
            scale,
            featurize_all: fold_seconds / n_folds.max(1) as f64 * scale,
            parallel: threads.clamp(1, WorkerPool::cores()),
        }
    }

    /// The share of all rows a fold trains on.
    pub fn train_share(&self) -> f64 {
        1.0 / self.scale.max(1.0)
    }

    /// Seconds of one fit of `trial`'s configuration on all rows (no margin): its fold fit,
    /// grown to all rows.
    fn fit_seconds(&self, trial: &TrialRecord) -> f64 {
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
        trial.fit_seconds_per_fold * growth
    }

    /// Seconds to refit `trial` on all rows, with a safety margin.
    pub fn seconds(&self, trial: &TrialRecord) -> f64 {
        self.members_seconds([trial])
    }

    /// Seconds to refit the members of an ensemble on all rows, side by side on
    /// [`RefitCost::parallel`] threads, with a safety margin.
    pub fn members_seconds<'t>(&self, members: impl IntoIterator<Item = &'t TrialRecord>) -> f64 {
        let (sum, longest) = members
            .into_iter()
            .map(|t| self.fit_seconds(t))
            .fold((0.0, 0.0f64), |(sum, longest), s| (sum + s, longest.max(s)));
        self.side_by_side(sum, longest, REFIT_MARGIN)
    }

    /// Seconds to refit `members` ensemble members each as costly as `trial`, with the fit
    /// seconds multiplied by `margin` (1: the expected time; [`REFIT_MARGIN`]: a safe one).
    pub fn like_seconds(&self, trial: &TrialRecord, members: f64, margin: f64) -> f64 {
        let fit = self.fit_seconds(trial);
        self.side_by_side(members * fit, fit, margin)
    }

    /// Seconds to featurize all rows once, then fit members whose fits take `sum` seconds in
    /// all and `longest` at most, side by side on [`RefitCost::parallel`] threads, the fit
    /// seconds multiplied by `margin`.
    fn side_by_side(&self, sum: f64, longest: f64, margin: f64) -> f64 {
        self.featurize_all + REFIT_OVERHEAD_S + margin * longest.max(sum / self.parallel as f64)
    }
}

/// Most a refit multiplies the boosting rounds its trial kept (see [`refit_rounds_scale`]).
const MAX_REFIT_ROUNDS_SCALE: f64 = 1.5;

/// How many times the rounds a boosting trial kept a refit on `n_rows` rows trains, for folds
/// of `mean_train_rows` training rows: the square root of the rows refit over the rows the
/// rounds were early-stopped on (more rows carry more rounds before they overfit), at most
/// [`MAX_REFIT_ROUNDS_SCALE`]; 1 when the folds did not stop early. Measured with LightGBM on
/// the bench splits, stopping as the trials do and refitting on all rows (five seeds, two
/// boosters: `reports/scripts/refit_rounds.py`): against the kept rounds, 1.2 times them
/// gained 0.0014 r2 on ames_housing (9 of 10 runs), 0.0001 on diamonds (10 of 10), 0.0001 AUC
/// on adult (7 of 10), and lost 0.00005 on bank_marketing (5 of 10).
pub(crate) fn refit_rounds_scale(n_rows: usize, mean_train_rows: f64) -> f64 {
    match early_stopping_train_rows(mean_train_rows) {
        Some(stopped_on) => (n_rows as f64 / stopped_on)
            .sqrt()
            .clamp(1.0, MAX_REFIT_ROUNDS_SCALE),
        None => 1.0,
    }
}

/// Fits configurations on every training row, sharing one binned copy for the tree learners.
pub(crate) struct Refitter<'a> {
    pool: &'a WorkerPool,
    x_all: Array2<f64>,
    targets: &'a Targets,
    binned_all: OnceLock<BinnedData>,
    seed: u64,
    /// Times the recorded boosting rounds the refit trains (see [`refit_rounds_scale`]).
    rounds_scale: f64,
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
            rounds_scale: 1.0,
        }
    }

    /// The refitter training `scale` times the recorded boosting rounds (see
    /// [`refit_rounds_scale`]).
    pub fn with_rounds_scale(mut self, scale: f64) -> Self {
        self.rounds_scale = scale;
        self
    }

    /// The estimator of `params`, boosting's rounds multiplied by the refitter's scale.
    fn estimator(&self, algorithm: Algorithm, params: &Params) -> Result<Estimator> {
        let mut typed = AlgorithmParams::check(algorithm, params)?;
        if let AlgorithmParams::GradientBoosting(p) = &mut typed {
            p.n_estimators = ((p.n_estimators as f64 * self.rounds_scale).round() as usize).max(1);
        }
        Ok(Estimator::from_typed(typed))
    }

    /// Fits `algorithm` with `params` on all rows (subsampled for capped learners) by
    /// `deadline`, turning a panic of the learner into an error, and a model the deadline cut
    /// short (see [`cut_short`]) into a budget error. Runs on the pool: its threads have the
    /// large stack some learners need.
    pub fn fit(
        &self,
        algorithm: Algorithm,
        params: &Params,
        deadline: Instant,
    ) -> Result<FittedModel> {
        let (model, cut) = self.fit_even_cut_short(algorithm, params, deadline)?;
        match cut {
            Some(reason) => Err(AutotabError::Budget(format!(
                "{} refit cut short: {reason}",
                algorithm.name()
            ))),
            None => Ok(model),
        }
    }

    /// [`Refitter::fit`], keeping a model the deadline cut short, with why it is short (for a
    /// last resort: a run with nothing else to ship).
    pub fn fit_even_cut_short(
        &self,
        algorithm: Algorithm,
        params: &Params,
        deadline: Instant,
    ) -> Result<(FittedModel, Option<String>)> {
        let estimator = self.estimator(algorithm, params)?;
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
                let binned = uses_binned_features(algorithm).then(|| self.binned_all());
                let train = TrainSet {
                    x: self.x_all.view(),
                    y: self.targets.as_ref(),
                    weights: None,
                    binned,
                };
                estimator.fit(&train, &ctx)
            }
        };
        let model = self.pool.install(|| {
            catch_unwind(AssertUnwindSafe(fit))
                .unwrap_or_else(|_| Err(AutotabError::fit(algorithm, "the learner panicked")))
        })?;
        let cut = cut_short(&estimator, &model);
        Ok((model, cut))
    }

    /// The binned copy of all rows the tree learners share, built now (on every pool thread)
    /// rather than by the first of several members refitting at once, which would hold the
    /// others waiting for it.
    fn bin_for(&self, algorithms: impl IntoIterator<Item = Algorithm>) {
        if algorithms.into_iter().any(uses_binned_features) {
            self.pool.install(|| {
                self.binned_all();
            });
        }
    }

    /// The binned copy of all rows (built once; concurrent callers wait for the first).
    fn binned_all(&self) -> &BinnedData {
        self.binned_all
            .get_or_init(|| BinnedData::build(self.x_all.view(), 255, 0))
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

/// Why `model` is less than `estimator` asked for, if it is: past its deadline boosting stops
/// its rounds and a forest its trees, keeping what was built. A trial is scored on what it
/// built; a refit cut short is not the configuration that was scored, and is not shipped in its
/// place (seen on diamonds: a 7-member vote whose refit was attempted in the 14.6 s left shipped
/// with boosting members stopped early, test r2 0.9741 against its holdout's 0.9822).
fn cut_short(estimator: &Estimator, model: &FittedModel) -> Option<String> {
    let (asked, built, what) = match (estimator.typed_params(), model) {
        (AlgorithmParams::GradientBoosting(p), FittedModel::Boosting(m)) => {
            (p.n_estimators, m.gbm.best_iteration(), "rounds")
        }
        (
            AlgorithmParams::RandomForest(p) | AlgorithmParams::ExtraTrees(p),
            FittedModel::Forest(f),
        ) => (p.n_estimators, f.forest.n_trees(), "trees"),
        _ => return None,
    };
    (built < asked).then(|| format!("the deadline stopped it after {built} of its {asked} {what}"))
}

/// An ensemble that beat the best trial, to ship in its place.
#[derive(Debug)]
pub(crate) struct Candidate {
    /// The ensemble.
    pub record: EnsembleRecord,
    /// A stack's meta-learner fitted on all out-of-fold rows, and what feeds it (`None` for a
    /// voting ensemble).
    pub meta: Option<(FittedModel, StackInput)>,
}

/// The validation folds' featurizers and the fold models the search kept (of its best
/// trials): what a bagged pipeline is assembled from.
pub(crate) struct FoldModels {
    featurizers: Vec<FittedFeaturizer>,
    models: HashMap<usize, Vec<FittedModel>>,
}

impl FoldModels {
    /// The folds' `featurizers` and the kept `(trial index, fold models)`.
    pub fn new(featurizers: Vec<FittedFeaturizer>, kept: Vec<(usize, Vec<FittedModel>)>) -> Self {
        FoldModels {
            featurizers,
            models: kept.into_iter().collect(),
        }
    }

    /// Whether every one of `trials` has its fold models (one per fold).
    fn has(&self, trials: &[usize]) -> bool {
        !trials.is_empty()
            && trials.iter().all(|t| {
                self.models
                    .get(t)
                    .is_some_and(|m| m.len() == self.featurizers.len())
            })
    }

    /// Takes the fold models of `trials` (checked with [`FoldModels::has`]) and makes each
    /// fold's model from its members' models with `combine`; returns the folds' featurizers
    /// and models, in fold order.
    fn assemble(
        &mut self,
        trials: &[usize],
        mut combine: impl FnMut(Vec<FittedModel>) -> Result<FittedModel>,
    ) -> Result<Vec<(FittedFeaturizer, FittedModel)>> {
        let mut per_trial: Vec<std::vec::IntoIter<FittedModel>> = trials
            .iter()
            .map(|t| {
                self.models.remove(t).map(Vec::into_iter).ok_or_else(|| {
                    AutotabError::config(format!("the fold models of trial {t} were not kept"))
                })
            })
            .collect::<Result<_>>()?;
        self.featurizers
            .iter()
            .map(|featurizer| {
                let members = per_trial
                    .iter_mut()
                    .map(|models| {
                        models.next().ok_or_else(|| {
                            AutotabError::config("a trial has fewer fold models than folds")
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok((featurizer.clone(), combine(members)?))
            })
            .collect()
    }
}

/// What finalizing produced.
#[derive(Debug)]
pub(crate) struct Finalized {
    /// The pipeline to ship (refit, or the folds' models).
    pub pipeline: Pipeline,
    /// The leaderboard entry of what is shipped.
    pub winner: Entry,
    /// Seconds spent.
    pub seconds: f64,
}

/// The featurizer and the refitter on every training row, made on first need (a bagged
/// pipeline needs neither).
struct AllRows<'a> {
    featurizer: FittedFeaturizer,
    refitter: Refitter<'a>,
}

impl<'a> AllRows<'a> {
    /// The all-rows featurizer and refitter already made in `slot`, else made now by `make`.
    fn take_or_fit(
        slot: &mut Option<AllRows<'a>>,
        make: impl FnOnce() -> Result<AllRows<'a>>,
    ) -> Result<Self> {
        match slot.take() {
            Some(rows) => Ok(rows),
            None => make(),
        }
    }

    fn fit(
        pool: &'a WorkerPool,
        data: &'a LoadedData,
        plan: &RunPlan,
        cost: &RefitCost,
        seed: u64,
    ) -> Result<Self> {
        let featurizer = fit_featurizer_with_label(
            &data.schema,
            &data.features,
            Some(&data.targets),
            &plan.featurizer,
        )?;
        let refitter = Refitter::new(
            pool,
            featurizer.transform(&data.features)?,
            &data.targets,
            seed,
        )
        .with_rounds_scale(refit_rounds_scale(data.data.n_rows(), cost.mean_train_rows));
        Ok(AllRows {
            featurizer,
            refitter,
        })
    }
}

/// Chooses what to ship and builds it. In order of out-of-fold score, the ensembles that beat
/// the best trial (`candidates`, best first), then the best trial: each is shipped as its
/// folds' models (see [`RunPlan::prefers_fold_models`]) or refit on all rows when the time
/// left allows it, falling back to its folds' models when it does not and they may stand in
/// ([`RunPlan::may_ship_fold_models`]); an ensemble that can be neither is skipped. The best
/// trial is refit even late (falling back to the next trials if its refit fails) when its fold
/// models cannot be shipped.
#[allow(clippy::too_many_arguments)]
pub(crate) fn finalize(
    pool: &WorkerPool,
    data: &LoadedData,
    plan: &RunPlan,
    search: &SearchOutcome,
    candidates: Vec<Candidate>,
    mut folds: FoldModels,
    cost: RefitCost,
    hard_end: Instant,
    seed: u64,
    observer: &mut dyn RunObserver,
) -> Result<Finalized> {
    let start = Instant::now();
    let trials = &search.trials;
    let ranked = search.ranked(data.metric);
    let best = *ranked
        .first()
        .ok_or_else(|| AutotabError::Budget("no trial completed".into()))?;
    let allow_folds = plan.may_ship_fold_models(cost.train_share());
    let prefer_folds = plan.prefers_fold_models();
    let deadline = || hard_end.max(Instant::now() + Duration::from_secs(1));
    let left = || {
        hard_end
            .saturating_duration_since(Instant::now())
            .as_secs_f64()
    };
    let all_rows_fit = || AllRows::fit(pool, data, plan, &cost, seed);
    let mut all_rows: Option<AllRows> = None;
    let finished = |pipeline: Pipeline, winner: Entry| Finalized {
        pipeline,
        winner,
        seconds: start.elapsed().as_secs_f64(),
    };
    let refit_trial = |rows: AllRows, trial: &TrialRecord, model: FittedModel| {
        finished(
            refit_pipeline(
                data,
                rows.featurizer,
                Learner::Algorithm(trial.algorithm),
                model,
            ),
            Entry::of_trial(trial),
        )
    };

    for candidate in candidates {
        let record = &candidate.record;
        let members = match record.member_trials(trials) {
            Ok(m) => m,
            Err(e) => {
                observer.message(&format!("skipped the {}: {e}", record.kind.name()));
                continue;
            }
        };
        let indices: Vec<usize> = members.iter().map(|(_, t)| t.index).collect();
        let bag = allow_folds && folds.has(&indices);
        let winner = Entry::of_ensemble(record, trials);
        let learner = Learner::Ensemble(record.kind);
        if !(prefer_folds && bag) {
            let needed = cost.members_seconds(members.iter().map(|(_, t)| *t));
            let left_before = left();
            let refit_start = Instant::now();
            let refit = match refit_plan(needed, left_before, bag) {
                RefitPlan::Refit => {
                    refit_ensemble(pool, all_rows_fit, &mut all_rows, &members, deadline())
                }
                RefitPlan::Attempt => {
                    refit_ensemble(pool, all_rows_fit, &mut all_rows, &members, hard_end)
                        .map_err(|e| {
                            format!(
                                "refitting its {} members, estimated at {needed:.1}s, did not finish in the {left_before:.1}s left ({e})",
                                members.len()
                            )
                        })
                }
                RefitPlan::Skip => Err(format!(
                    "refitting its {} members needs about {needed:.1}s, {left_before:.1}s left",
                    members.len()
                )),
            };
            match refit {
                Ok(models) => {
                    let model = match candidate.meta {
                        Some((meta, input)) => {
                            Stack::model(meta, input, models.into_iter().map(|m| m.1).collect())
                        }
                        None => FittedModel::Ensemble(models),
                    };
                    let rows = all_rows.take().expect("refit on all rows");
                    observer.message(&format!(
                        "refit the {} on all rows in {:.1}s (estimated {needed:.1}s)",
                        record.kind.name(),
                        refit_start.elapsed().as_secs_f64()
                    ));
                    return Ok(finished(
                        refit_pipeline(data, rows.featurizer, learner, model),
                        winner,
                    ));
                }
                Err(reason) if !bag => {
                    observer.message(&format!("skipped the {}: {reason}", record.kind.name()));
                    continue;
                }
                Err(reason) => observer.message(&format!(
                    "not refitting the {}: {reason}; shipping its fold models",
                    record.kind.name()
                )),
            }
        }
        let weights: Vec<f64> = members.iter().map(|(w, _)| *w).collect();
        let parts = match &candidate.meta {
            Some((meta, input)) => folds.assemble(&indices, |models| {
                Ok(Stack::model(meta.duplicate()?, *input, models))
            })?,
            None => folds.assemble(&indices, |models| {
                Ok(FittedModel::Ensemble(
                    weights.iter().copied().zip(models).collect(),
                ))
            })?,
        };
        let pipeline = folds_pipeline(data, learner, parts);
        observer.message(&format!(
            "shipping the {}: {}",
            record.kind.name(),
            pipeline.fit.describe()
        ));
        return Ok(finished(pipeline, winner));
    }

    let bag = allow_folds && folds.has(&[best.index]);
    let left_before = left();
    let best_refit = cost.seconds(best);
    let affordable = best_refit <= left_before;
    let try_refit = refit_plan(best_refit, left_before, bag) == RefitPlan::Attempt;
    if try_refit && !prefer_folds {
        let refit_start = Instant::now();
        let attempt = AllRows::take_or_fit(&mut all_rows, all_rows_fit).and_then(|rows| {
            let model = rows.refitter.fit(best.algorithm, &best.params, hard_end)?;
            Ok((rows, model))
        });
        match attempt {
            Ok((rows, model)) => {
                observer.message(&format!(
                    "refit trial {} on all rows in {:.1}s (estimated {best_refit:.1}s)",
                    best.index,
                    refit_start.elapsed().as_secs_f64(),
                ));
                return Ok(refit_trial(rows, best, model));
            }
            Err(e) => observer.message(&format!(
                "not refitting trial {}: its refit, estimated at {best_refit:.1}s, did not finish in the {left_before:.1}s left ({e}); shipping its fold model",
                best.index,
            )),
        }
    }
    if bag && (prefer_folds || !affordable) {
        if !prefer_folds && !try_refit {
            observer.message(&format!(
                "not refitting trial {}: its refit needs about {best_refit:.1}s, {:.1}s left; shipping its fold model",
                best.index,
                left()
            ));
        }
        let parts = folds.assemble(&[best.index], |mut models| {
            models
                .pop()
                .ok_or_else(|| AutotabError::config("no fold model"))
        })?;
        let pipeline = folds_pipeline(data, Learner::Algorithm(best.algorithm), parts);
        observer.message(&format!(
            "shipping trial {}: {}",
            best.index,
            pipeline.fit.describe()
        ));
        return Ok(finished(pipeline, Entry::of_trial(best)));
    }
    observer.message("refitting the best configuration on all rows");
    let refit_start = Instant::now();
    let rows = AllRows::take_or_fit(&mut all_rows, all_rows_fit)?;
    let (best, model) = refit_best(&rows.refitter, &ranked, deadline, observer)?;
    observer.message(&format!(
        "refit trial {} on all rows in {:.1}s (estimated {:.1}s)",
        best.index,
        refit_start.elapsed().as_secs_f64(),
        cost.seconds(best)
    ));
    Ok(refit_trial(rows, best, model))
}

fn refit_best<'t>(
    refitter: &Refitter,
    ranked: &[&'t TrialRecord],
    deadline: impl Fn() -> Instant,
    observer: &mut dyn RunObserver,
) -> Result<(&'t TrialRecord, FittedModel)> {
    let mut last_error = None;
    for candidate in ranked.iter().take(REFIT_ATTEMPTS) {
        match refitter.fit_even_cut_short(candidate.algorithm, &candidate.params, deadline()) {
            Ok((model, cut)) => {
                if let Some(reason) = cut {
                    observer.message(&format!(
                        "warning: the refit of trial {} was cut short ({reason}); shipped as it is, with nothing else to ship",
                        candidate.index
                    ));
                }
                return Ok((candidate, model));
            }
            Err(e) => {
                observer.message(&format!("refit of trial {} failed: {e}", candidate.index));
                last_error = Some(e);
            }
        }
    }
    Err(last_error.unwrap_or_else(|| AutotabError::Budget("no model could be refit".into())))
}

/// Refits an ensemble's members on all rows (fitting the featurizer on all rows first if
/// `all_rows` has none yet), in member order with their weights; the error is the reason.
fn refit_ensemble<'a>(
    pool: &WorkerPool,
    make: impl FnOnce() -> Result<AllRows<'a>>,
    all_rows: &mut Option<AllRows<'a>>,
    members: &[(f64, &TrialRecord)],
    deadline: Instant,
) -> std::result::Result<Vec<(f64, FittedModel)>, String> {
    if all_rows.is_none() {
        *all_rows = Some(make().map_err(|e| e.to_string())?);
    }
    let refitter = &all_rows.as_ref().expect("just fitted").refitter;
    refitter.bin_for(members.iter().map(|(_, t)| t.algorithm));
    // The members refit side by side, one per pool thread: each learner's own parallel loops
    // use a second core less well than a second member does.
    pool.install(|| {
        members
            .par_iter()
            .map(|(w, t)| {
                refitter
                    .fit(t.algorithm, &t.params, deadline)
                    .map(|model| (*w, model))
                    .map_err(|e| format!("refit of trial {} failed: {e}", t.index))
            })
            .collect()
    })
}

/// The pipeline of the folds' `parts` (featurizer and model of each fold, in fold order).
fn folds_pipeline(
    data: &LoadedData,
    learner: Learner,
    parts: Vec<(FittedFeaturizer, FittedModel)>,
) -> Pipeline {
    let models = parts.len();
    let mut parts = parts.into_iter();
    let (featurizer, model) = parts.next().expect("at least one fold");
    let mut pipeline = refit_pipeline(data, featurizer, learner, model);
    pipeline.fit = FinalFit::Folds { models };
    pipeline.bag = parts
        .map(|(featurizer, model)| FoldModel { featurizer, model })
        .collect();
    pipeline
}

/// The pipeline of `model`, refit on all of the run's rows.
pub(crate) fn refit_pipeline(
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
        fit: FinalFit::Refit,
        bag: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::TrialStatus;

    /// A completed boosting trial whose fold fit took `seconds`.
    fn fitted(seconds: f64) -> TrialRecord {
        let mut t = TrialRecord::unscored(
            0,
            Algorithm::GradientBoosting,
            Params::new(),
            TrialStatus::Completed,
            seconds,
            0.0,
            None,
        );
        t.fit_seconds_per_fold = seconds;
        t
    }

    #[test]
    fn a_refit_trains_more_rounds_the_more_rows_it_has_over_the_early_stopping_rows() {
        // Folds of 900 rows stop on 6/7 of them: 1000 rows are 1.296 times as many.
        let scale = refit_rounds_scale(1000, 900.0);
        assert!((scale - (1000.0f64 / (900.0 * 6.0 / 7.0)).sqrt()).abs() < 1e-12);
        assert_eq!(refit_rounds_scale(100_000, 900.0), MAX_REFIT_ROUNDS_SCALE);
        // Folds too small to stop early: the configuration's rounds are trained as they are.
        assert_eq!(refit_rounds_scale(150, 100.0), 1.0);

        let (pool, _) = WorkerPool::new(1).unwrap();
        let targets = Targets::Values(vec![0.0, 1.0]);
        let refitter =
            Refitter::new(&pool, Array2::zeros((2, 1)), &targets, 0).with_rounds_scale(1.2);
        let mut params = Params::new();
        params.insert("n_estimators".into(), crate::models::ParamValue::Int(100));
        let boosting = refitter
            .estimator(Algorithm::GradientBoosting, &params)
            .unwrap();
        match boosting.typed_params() {
            AlgorithmParams::GradientBoosting(p) => assert_eq!(p.n_estimators, 120),
            other => panic!("not boosting: {other:?}"),
        }
        let mut forest = Params::new();
        forest.insert("n_estimators".into(), crate::models::ParamValue::Int(100));
        assert_eq!(
            refitter
                .estimator(Algorithm::RandomForest, &forest)
                .unwrap()
                .params()
                .get("n_estimators"),
            Some(&crate::models::ParamValue::Int(100))
        );
    }

    #[test]
    fn a_refit_the_deadline_cut_short_is_an_error_unless_kept_as_a_last_resort() {
        let (pool, _) = WorkerPool::new(1).unwrap();
        let x = Array2::from_shape_fn((400, 3), |(i, j)| ((i * (j + 3)) % 17) as f64);
        let targets = Targets::Values((0..400).map(|i| (i % 17) as f64).collect());
        let refitter = Refitter::new(&pool, x, &targets, 0);
        let far = Instant::now() + Duration::from_secs(600);
        for algorithm in [
            Algorithm::GradientBoosting,
            Algorithm::RandomForest,
            Algorithm::ExtraTrees,
        ] {
            let mut params = Params::new();
            params.insert("n_estimators".into(), crate::models::ParamValue::Int(40));
            // Time to train everything: the model is whole.
            let (_, cut) = refitter
                .fit_even_cut_short(algorithm, &params, far)
                .unwrap();
            assert_eq!(cut, None, "{algorithm:?}");
            assert!(refitter.fit(algorithm, &params, far).is_ok());
        }
        // Thousands of rounds or trees on 20,000 rows take seconds; a deadline 0.3 s away
        // (the binned rows built before it) stops them after at least one.
        let n = 20_000;
        let x = Array2::from_shape_fn((n, 4), |(i, j)| ((i * (j + 7)) % 101) as f64);
        let large_targets = Targets::Values((0..n).map(|i| ((i * 13) % 101) as f64).collect());
        let large = Refitter::new(&pool, x, &large_targets, 0);
        large.bin_for([Algorithm::GradientBoosting]);
        for (algorithm, asked, unit) in [
            (Algorithm::GradientBoosting, 2000, "rounds"),
            (Algorithm::RandomForest, 1000, "trees"),
            (Algorithm::ExtraTrees, 1000, "trees"),
        ] {
            let (leaves, most) = match algorithm {
                Algorithm::GradientBoosting => ("num_leaves", 255),
                _ => ("max_leaves", 32768),
            };
            let params: Params = [
                (
                    "n_estimators".to_string(),
                    crate::models::ParamValue::Int(asked),
                ),
                (leaves.to_string(), crate::models::ParamValue::Int(most)),
            ]
            .into_iter()
            .collect();
            let soon = || Instant::now() + Duration::from_millis(300);
            let (_, cut) = large
                .fit_even_cut_short(algorithm, &params, soon())
                .unwrap();
            let reason = cut.unwrap_or_else(|| panic!("{algorithm:?} not cut short"));
            assert!(
                reason.contains(&format!("of its {asked} {unit}")),
                "{reason}"
            );
            match large.fit(algorithm, &params, soon()) {
                Err(AutotabError::Budget(m)) => assert!(m.contains("cut short"), "{m}"),
                other => panic!("{algorithm:?}: {other:?}"),
            }
        }
        // Learners without rounds or trees are not checked.
        let (_, cut) = refitter
            .fit_even_cut_short(Algorithm::ElasticNet, &Params::new(), far)
            .unwrap();
        assert_eq!(cut, None);
    }

    #[test]
    fn members_refit_side_by_side_after_one_featurizing() {
        // Folds of 900 rows out of 1000: a fold fit of 0.9 s is 1 s on all rows.
        let cost = RefitCost {
            mean_train_rows: 900.0,
            scale: 1000.0 / 900.0,
            featurize_all: 0.5,
            parallel: 2,
        };
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        let fixed = 0.5 + REFIT_OVERHEAD_S;
        let four = [fitted(0.9), fitted(0.9), fitted(0.9), fitted(0.9)];
        assert!(close(
            cost.members_seconds(&four),
            fixed + REFIT_MARGIN * 2.0
        ));
        assert!(close(cost.seconds(&four[0]), fixed + REFIT_MARGIN));
        // The longest member bounds the time from below.
        let uneven = [fitted(9.0), fitted(0.09)];
        assert!(close(
            cost.members_seconds(&uneven),
            fixed + REFIT_MARGIN * 10.0
        ));
        // Members like a trial: four of 1 s on two threads, with and without the margin.
        assert!(close(cost.like_seconds(&four[0], 4.0, 1.0), fixed + 2.0));
        assert!(close(
            cost.like_seconds(&four[0], 1.0, REFIT_MARGIN),
            fixed + REFIT_MARGIN
        ));
        // One thread fits them one after another.
        let serial = RefitCost {
            parallel: 1,
            ..cost
        };
        assert!(close(
            serial.members_seconds(&four),
            fixed + REFIT_MARGIN * 4.0
        ));
    }

    #[test]
    fn a_refit_over_its_estimate_is_attempted_only_with_fold_models_to_fall_back_on() {
        assert_eq!(refit_plan(2.0, 5.0, false), RefitPlan::Refit);
        assert_eq!(refit_plan(2.0, 5.0, true), RefitPlan::Refit);
        assert_eq!(refit_plan(13.1, 9.6, true), RefitPlan::Attempt);
        assert_eq!(refit_plan(13.1, 9.6, false), RefitPlan::Skip);
        assert_eq!(
            refit_plan(13.1, MIN_REFIT_ATTEMPT_S / 2.0, true),
            RefitPlan::Skip
        );
    }
}
