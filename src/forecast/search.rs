//! The forecasting search: the seasonal baselines first, then the other baselines, harmonic
//! regression (with and without trend), exponential smoothing variants, every regression learner at its low-cost and default
//! settings, then random configurations of the learners in turn, until the budget, the trial
//! cap or early stopping ends it. `threads` trials run at once; each is scored on every
//! rolling-origin fold (the mean of the folds' scores, as for the other tasks).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::baselines::Baseline;
use super::ets::{EtsConfig, Season};
use super::folds::Fold;
use super::forecaster::{forecast_fold, Context, FoldForecast, ForecasterSpec};
use super::harmonic::HarmonicConfig;
use crate::error::AutotabError;
use crate::leaderboard::rank_by_loss;
use crate::metrics::Metric;
use crate::models::params::ParamType;
use crate::models::{Algorithm, ParamSpec, ParamValue, Params, TargetScale};
use crate::search::executor::{fold_deadline, run_isolated};
use crate::search::{low_cost_params, random_params, EarlyStopping, CONVERGENCE_MIN_TRIALS};

/// One finished (or failed) trial.
#[derive(Debug, Clone)]
pub struct ForecastTrial {
    /// Launch order, from 0.
    pub index: usize,
    /// The method tried.
    pub forecaster: ForecasterSpec,
    /// Mean of the folds' scores; `None` when the trial failed.
    pub score: Option<f64>,
    /// Score of each fold.
    pub fold_scores: Vec<f64>,
    /// Wall seconds.
    pub seconds: f64,
    /// When it ended.
    pub finished: chrono::DateTime<chrono::Utc>,
    /// Why it failed.
    pub error: Option<String>,
    /// The folds' forecasts (for residuals and the report).
    pub forecasts: Vec<FoldForecast>,
}

/// Cycles of the longest season the recent-window harmonic regressions are fitted on.
const RECENT_CYCLES: usize = 8;

/// Most boosting rounds of a strong-start configuration in a forecasting search.
const FORECAST_MAX_ROUNDS: i64 = 300;

/// The order in which methods are tried.
pub struct Candidates {
    fixed: VecDeque<ForecasterSpec>,
    algorithms: Vec<Algorithm>,
    rng: ChaCha8Rng,
    round: usize,
}

impl Candidates {
    /// Seasonal baselines first (when there is a season), the other baselines, the smoothing
    /// variants that fit the data, then each learner's low-cost configuration, the strong
    /// start's boosting and elastic-net configurations, each learner's defaults, then random
    /// configurations in turn.
    /// `known_features`: whether the series have known features (harmonic regressions with
    /// feature interactions are tried then).
    pub fn new(
        season: usize,
        positive: bool,
        known_features: bool,
        algorithms: Vec<Algorithm>,
        seed: u64,
    ) -> Self {
        let mut fixed = VecDeque::new();
        if season > 1 {
            fixed.push_back(ForecasterSpec::Baseline(Baseline::SeasonalNaive));
            fixed.push_back(ForecasterSpec::Baseline(Baseline::SeasonalAverage));
        }
        fixed.push_back(ForecasterSpec::Baseline(Baseline::Naive));
        fixed.push_back(ForecasterSpec::Baseline(Baseline::Average));
        let interactions: &[bool] = if known_features {
            &[false, true]
        } else {
            &[false]
        };
        for &interactions in interactions {
            for recent_cycles in [None, Some(RECENT_CYCLES)] {
                for trend in [false, true] {
                    fixed.push_back(ForecasterSpec::Harmonic(HarmonicConfig {
                        trend,
                        recent_cycles,
                        interactions,
                    }));
                }
            }
        }
        let ets = |trend, damped, season| {
            ForecasterSpec::ExponentialSmoothing(EtsConfig {
                trend,
                damped,
                season,
            })
        };
        if season > 1 {
            fixed.push_back(ets(true, true, Season::Additive));
            if positive {
                fixed.push_back(ets(true, true, Season::Multiplicative));
                fixed.push_back(ets(true, false, Season::Multiplicative));
            }
            fixed.push_back(ets(true, false, Season::Additive));
            fixed.push_back(ets(false, false, Season::Additive));
        }
        fixed.push_back(ets(true, true, Season::None));
        fixed.push_back(ets(false, false, Season::None));
        for &algorithm in &algorithms {
            fixed.push_back(ForecasterSpec::Regression {
                algorithm,
                params: low_cost_params(algorithm.space()),
            });
        }
        // The tabular search's strong start for boosting and the elastic net (its table says
        // where each entry comes from), with the rounds capped: those entries count on early
        // stopping, which a forecasting fit has no validation rows for.
        for (algorithm, mut params) in crate::search::portfolio::strong_start(&algorithms) {
            if !matches!(
                algorithm,
                Algorithm::GradientBoosting | Algorithm::ElasticNet
            ) {
                continue;
            }
            // Boosting's label scale: forecasting keeps the series' own (`raw`); the lag and
            // trend features it learns from are built on that scale.
            if params
                .get(TargetScale::PARAM)
                .is_some_and(|t| *t != TargetScale::Raw.to_value())
            {
                continue;
            }
            if let Some(ParamValue::Int(rounds)) = params.get_mut("n_estimators") {
                *rounds = (*rounds).min(FORECAST_MAX_ROUNDS);
            }
            fixed.push_back(ForecasterSpec::Regression { algorithm, params });
        }
        for &algorithm in &algorithms {
            fixed.push_back(ForecasterSpec::Regression {
                algorithm,
                params: Params::new(),
            });
        }
        Candidates {
            fixed,
            algorithms,
            rng: ChaCha8Rng::seed_from_u64(seed),
            round: 0,
        }
    }
}

impl Iterator for Candidates {
    type Item = ForecasterSpec;

    fn next(&mut self) -> Option<ForecasterSpec> {
        if let Some(spec) = self.fixed.pop_front() {
            return Some(spec);
        }
        if self.algorithms.is_empty() {
            return None;
        }
        let algorithm = self.algorithms[self.round % self.algorithms.len()];
        self.round += 1;
        // The label scale is not searched here: it is left out of the draws (which keeps the
        // other parameters' draws what they were before it existed) and set to `raw`.
        let space: Vec<ParamSpec> = algorithm
            .space()
            .iter()
            .filter(|s| s.name != TargetScale::PARAM)
            .cloned()
            .collect();
        let mut params = random_params(&space, &mut self.rng);
        if space.len() < algorithm.space().len() {
            params.insert(TargetScale::PARAM.to_string(), TargetScale::Raw.to_value());
        }
        Some(ForecasterSpec::Regression { algorithm, params })
    }
}

/// Limits of one forecasting search.
#[derive(Debug, Clone, Copy)]
pub struct SearchLimits {
    /// No trial starts after this, and running trials stop at it.
    pub end: Instant,
    /// Longest one trial may run.
    pub trial_timeout: Duration,
    /// Most trials.
    pub max_trials: Option<usize>,
    /// Trials at once.
    pub threads: usize,
    /// Experiment-level early stopping.
    pub early_stopping: Option<EarlyStopping>,
}

/// Why the search stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForecastStop {
    /// The time budget ran out.
    TimeBudget,
    /// The trial cap was reached.
    MaxTrials,
    /// Experiment-level early stopping (Azure's count rule or the convergence rule).
    EarlyStopping,
    /// Every candidate was tried.
    Exhausted,
}

fn run_trial(
    index: usize,
    forecaster: ForecasterSpec,
    ctx: &Context,
    folds: &[Fold],
    metric: Metric,
) -> ForecastTrial {
    let started = Instant::now();
    let mut trial = ForecastTrial {
        index,
        forecaster,
        score: None,
        fold_scores: Vec::new(),
        seconds: 0.0,
        finished: chrono::Utc::now(),
        error: None,
        forecasts: Vec::new(),
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut scores = Vec::new();
        let mut forecasts = Vec::new();
        // As in a tabular trial, fold `i` must end by its share of the trial's time, so a
        // learner that stops at its deadline (forests stop adding trees) finishes every fold
        // smaller rather than spending the whole trial on the first and failing the rest.
        for (i, fold) in folds.iter().enumerate() {
            let fold_ctx = Context {
                deadline: ctx
                    .deadline
                    .map(|d| fold_deadline(started, d, i, folds.len())),
                ..*ctx
            };
            let f = forecast_fold(&trial.forecaster, &fold_ctx, fold)?;
            scores.push(metric.regression(&f.actual, &f.predicted)?);
            forecasts.push(f);
        }
        Ok::<_, AutotabError>((scores, forecasts))
    }));
    match outcome {
        Ok(Ok((scores, forecasts))) => {
            trial.score = Some(scores.iter().sum::<f64>() / scores.len().max(1) as f64);
            trial.fold_scores = scores;
            trial.forecasts = forecasts;
        }
        Ok(Err(e)) => trial.error = Some(e.to_string()),
        Err(_) => trial.error = Some("the learner panicked".into()),
    }
    trial.seconds = started.elapsed().as_secs_f64();
    trial.finished = chrono::Utc::now();
    trial
}

/// Completed trials, best first under `metric` (ties to the earlier trial).
pub fn ranked(trials: &[ForecastTrial], metric: Metric) -> Vec<&ForecastTrial> {
    let mut done: Vec<&ForecastTrial> = trials.iter().filter(|t| t.score.is_some()).collect();
    rank_by_loss(
        &mut done,
        |t| t.score.map(|s| metric.to_loss(s)),
        |t| t.index,
    );
    done
}

/// Runs trials until a limit holds; `on_trial` hears each as it finishes (on this thread).
pub fn run_search(
    ctx: &Context,
    folds: &[Fold],
    metric: Metric,
    limits: SearchLimits,
    candidates: Candidates,
    mut on_trial: impl FnMut(&ForecastTrial),
) -> (Vec<ForecastTrial>, ForecastStop) {
    let queue = Mutex::new((candidates, 0usize));
    let stop = AtomicBool::new(false);
    let reason = Mutex::new(ForecastStop::TimeBudget);
    let (sender, receiver) = mpsc::channel::<ForecastTrial>();
    let mut trials: Vec<ForecastTrial> = Vec::new();
    let isolate = limits.threads > 1;
    std::thread::scope(|scope| {
        for _ in 0..limits.threads.max(1) {
            let sender = sender.clone();
            let (queue, stop, reason) = (&queue, &stop, &reason);
            scope.spawn(move || loop {
                if stop.load(Ordering::SeqCst) || Instant::now() >= limits.end {
                    break;
                }
                let next = {
                    let mut q = queue.lock().unwrap_or_else(|e| e.into_inner());
                    if limits.max_trials.is_some_and(|m| q.1 >= m) {
                        *reason.lock().unwrap_or_else(|e| e.into_inner()) = ForecastStop::MaxTrials;
                        None
                    } else {
                        match q.0.next() {
                            Some(spec) => {
                                q.1 += 1;
                                Some((q.1 - 1, spec))
                            }
                            None => {
                                *reason.lock().unwrap_or_else(|e| e.into_inner()) =
                                    ForecastStop::Exhausted;
                                None
                            }
                        }
                    }
                };
                let Some((index, spec)) = next else { break };
                let deadline = limits.end.min(Instant::now() + limits.trial_timeout);
                let trial_ctx = Context {
                    deadline: Some(deadline),
                    ..*ctx
                };
                // On the global pool, a 2 s boosting trial beside a random forest was held past
                // its 15 s deadline on nyc_energy.
                let trial = run_isolated(isolate, || {
                    run_trial(index, spec, &trial_ctx, folds, metric)
                });
                if sender.send(trial).is_err() {
                    break;
                }
            });
        }
        drop(sender);
        let mut best: Option<f64> = None;
        let mut since_best = 0usize;
        let mut completed = 0usize;
        let started = Instant::now();
        // When (seconds in) and after how many completed trials the best improved by more
        // than the convergence rule's tolerance.
        let mut last_real_gain = (0.0_f64, 0usize);
        for trial in receiver {
            on_trial(&trial);
            if let Some(score) = trial.score {
                completed += 1;
                let loss = metric.to_loss(score);
                if best.is_none_or(|b| loss < b) {
                    let tolerance = match limits.early_stopping {
                        Some(EarlyStopping::Convergence { tolerance }) => tolerance,
                        _ => 0.0,
                    };
                    if best.is_none_or(|b| b - loss > tolerance) {
                        last_real_gain = (started.elapsed().as_secs_f64(), completed);
                    }
                    best = Some(loss);
                    since_best = 0;
                } else {
                    since_best += 1;
                }
                let stale = match limits.early_stopping {
                    Some(EarlyStopping::Azure {
                        min_trials,
                        patience,
                    }) => completed >= min_trials && since_best >= patience,
                    // As the tabular search's rule: enough trials, and no real gain during the
                    // last half of the elapsed time and of the trials.
                    Some(EarlyStopping::Convergence { .. }) => {
                        completed >= CONVERGENCE_MIN_TRIALS
                            && started.elapsed().as_secs_f64() >= 2.0 * last_real_gain.0
                            && completed >= 2 * last_real_gain.1
                    }
                    None => false,
                };
                if stale {
                    *reason.lock().unwrap_or_else(|e| e.into_inner()) = ForecastStop::EarlyStopping;
                    stop.store(true, Ordering::SeqCst);
                }
            }
            trials.push(trial);
        }
    });
    trials.sort_by_key(|t| t.index);
    let reason = *reason.lock().unwrap_or_else(|e| e.into_inner());
    (trials, reason)
}

/// Most trials an ensemble picks from (the best completed ones).
const ENSEMBLE_CANDIDATES: usize = 15;

/// Rounds of greedy ensemble selection.
const ENSEMBLE_ROUNDS: usize = 20;

fn fold_scores(
    members: &[(usize, usize)],
    trials: &[&ForecastTrial],
    metric: Metric,
) -> Option<(Vec<f64>, Vec<FoldForecast>)> {
    let total: usize = members.iter().map(|m| m.1).sum();
    let first = trials[members[0].0];
    let mut scores = Vec::new();
    let mut forecasts = Vec::new();
    for (f, base) in first.forecasts.iter().enumerate() {
        let mut combined = vec![0.0; base.predicted.len()];
        for &(m, count) in members {
            let other = &trials[m].forecasts[f].predicted;
            if other.len() != combined.len() {
                return None;
            }
            let w = count as f64 / total as f64;
            combined
                .iter_mut()
                .zip(other)
                .for_each(|(c, p)| *c += w * p);
        }
        scores.push(metric.regression(&base.actual, &combined).ok()?);
        forecasts.push(FoldForecast {
            predicted: combined,
            ..base.clone()
        });
    }
    Some((scores, forecasts))
}

/// Greedy ensemble selection (Caruana et al., with replacement) over the best trials' fold
/// forecasts: a `VotingEnsemble` trial (numbered `index`) when its mean fold score beats the
/// best single trial, else `None`.
pub fn select_ensemble(
    trials: &[ForecastTrial],
    metric: Metric,
    index: usize,
) -> Option<ForecastTrial> {
    let pool: Vec<&ForecastTrial> = ranked(trials, metric)
        .into_iter()
        .take(ENSEMBLE_CANDIDATES)
        .collect();
    if pool.len() < 2 {
        return None;
    }
    let started = Instant::now();
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len().max(1) as f64;
    let best_single = metric.to_loss(pool[0].score?);
    let mut members: Vec<(usize, usize)> = vec![(0, 1)];
    let mut current = best_single;
    for _ in 0..ENSEMBLE_ROUNDS {
        let mut round_best: Option<(f64, usize)> = None;
        for c in 0..pool.len() {
            let mut trial_members = members.clone();
            match trial_members.iter_mut().find(|m| m.0 == c) {
                Some(m) => m.1 += 1,
                None => trial_members.push((c, 1)),
            }
            let Some((scores, _)) = fold_scores(&trial_members, &pool, metric) else {
                continue;
            };
            let loss = metric.to_loss(mean(&scores));
            if round_best.is_none_or(|(b, _)| loss < b) {
                round_best = Some((loss, c));
            }
        }
        match round_best {
            Some((loss, c)) if loss < current - 1e-12 => {
                current = loss;
                match members.iter_mut().find(|m| m.0 == c) {
                    Some(m) => m.1 += 1,
                    None => members.push((c, 1)),
                }
            }
            _ => break,
        }
    }
    if current >= best_single || members.len() < 2 {
        return None;
    }
    let (scores, forecasts) = fold_scores(&members, &pool, metric)?;
    let total: usize = members.iter().map(|m| m.1).sum();
    Some(ForecastTrial {
        index,
        forecaster: ForecasterSpec::Ensemble(
            members
                .iter()
                .map(|&(m, count)| (count as f64 / total as f64, pool[m].forecaster.clone()))
                .collect(),
        ),
        score: Some(mean(&scores)),
        fold_scores: scores,
        seconds: started.elapsed().as_secs_f64(),
        finished: chrono::Utc::now(),
        error: None,
        forecasts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seasonal_baselines_come_first() {
        let mut c = Candidates::new(12, true, true, vec![Algorithm::GradientBoosting], 1);
        assert_eq!(c.next().unwrap().name(), "SeasonalNaive");
        assert_eq!(c.next().unwrap().name(), "SeasonalAverage");
        let rest: Vec<String> = c.take(20).map(|s| s.name()).collect();
        assert!(rest.contains(&"ExponentialSmoothing".to_string()));
        assert_eq!(rest.last().unwrap(), "LightGBM");
        let mut plain = Candidates::new(1, false, false, Vec::new(), 1);
        assert_eq!(plain.next().unwrap().name(), "Naive");
        assert_eq!(plain.by_ref().count(), 7);
    }

    #[test]
    fn boosting_forecasts_on_the_series_own_scale() {
        let c = Candidates::new(12, true, false, vec![Algorithm::GradientBoosting], 5);
        let boosting: Vec<Params> = c
            .take(200)
            .filter_map(|spec| match spec {
                ForecasterSpec::Regression { params, .. } => Some(params),
                _ => None,
            })
            .collect();
        assert!(boosting.len() > 100);
        assert!(boosting.iter().all(|p| p
            .get(TargetScale::PARAM)
            .is_none_or(|t| *t == TargetScale::Raw.to_value())));
    }
}
