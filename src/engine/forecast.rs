//! A forecasting run as stages: load the table, split it into regular series (guardrails),
//! plan the features and the rolling-origin folds, search (baselines first) under the budget,
//! refit the best method on the whole history (falling back to the next on failure), and
//! keep what prediction needs in a [`ForecastModel`].

use std::time::{Duration, Instant};

use super::{load_job_table, RunObserver};
use crate::data::Dataset;
use crate::error::{AutotabError, Result};
use crate::featurize::Guardrail;
use crate::forecast::features::{auto_lags, auto_windows, FeaturePlan};
use crate::forecast::folds::rolling_origin_folds;
use crate::forecast::forecaster::{fit_final, Context};
use crate::forecast::model::{series_states, ForecastModel, FORMAT_VERSION};
use crate::forecast::search::{
    ranked, run_search, select_ensemble, Candidates, ForecastStop, ForecastTrial, SearchLimits,
};
use crate::forecast::series::SeriesSet;
use crate::forecast::{choose_season, metrics, season_candidates, ForecastSettings};
use crate::job::JobSpec;
use crate::metrics::Metric;
use crate::task::Task;

/// Shortest history (values up to the origin) a series needs to join a fold.
const MIN_HISTORY: usize = 5;

/// Most residuals kept per forecast step for the prediction intervals.
const MAX_RESIDUALS_PER_STEP: usize = 2000;

/// What a forecasting run produced.
#[derive(Debug)]
pub struct ForecastOutcome {
    /// The experiment.
    pub experiment: String,
    /// The primary metric.
    pub metric: Metric,
    /// Guardrail findings (frequency, series, gaps, duplicates, short series).
    pub guardrails: Vec<Guardrail>,
    /// How the trials were validated.
    pub validation: String,
    /// Every trial, in launch order.
    pub trials: Vec<ForecastTrial>,
    /// Index of the refit trial.
    pub winner: usize,
    /// The winner's reported cross-validated metrics (all folds pooled), MAPE included.
    pub cv_metrics: Vec<(String, f64)>,
    /// The model.
    pub model: ForecastModel,
    /// Why the search stopped.
    pub stop: ForecastStop,
    /// Rows of the training table.
    pub n_rows: usize,
    /// Wall seconds of the run.
    pub elapsed_s: f64,
    /// Seconds of the refit.
    pub refit_s: f64,
    /// Every series' whole history on the grid (for the report's charts).
    pub series: Vec<crate::forecast::series::Series>,
}

impl ForecastOutcome {
    /// The refit trial.
    pub fn winner(&self) -> &ForecastTrial {
        &self.trials[self.winner]
    }
}

/// Runs a forecasting job on the job's training table.
pub fn run_forecasting(spec: &JobSpec, observer: &mut dyn RunObserver) -> Result<ForecastOutcome> {
    let started = Instant::now();
    if spec.data.validation.is_some() {
        return Err(AutotabError::config(
            "forecasting validates on rolling origins: give n_cross_validations (and cv_step_size), not validation_data",
        ));
    }
    let table = load_job_table(spec)?;
    for note in &table.notes {
        observer.message(note);
    }
    fit_forecasting(spec, &table.data, started, observer)
}

/// Searches and refits a forecaster on `data` (the training rows, label included); the budget
/// runs from `started`.
pub fn fit_forecasting(
    spec: &JobSpec,
    data: &Dataset,
    started: Instant,
    observer: &mut dyn RunObserver,
) -> Result<ForecastOutcome> {
    let budget = spec.limits.timeout;
    if budget.is_zero() {
        return Err(AutotabError::config(
            "the timeout must be more than 0 seconds",
        ));
    }
    let hard_end = started + budget;
    let settings = ForecastSettings::from_job(spec)?;
    let metric = spec
        .metric
        .unwrap_or(Metric::default_for(Task::Forecasting));
    metric.check_task(Task::Forecasting)?;
    let label = &spec.data.label;
    let what = spec.data.training.to_string();
    let horizon = settings.horizon;
    let given_lag = settings
        .target_lags
        .iter()
        .flatten()
        .copied()
        .max()
        .unwrap_or(0);
    let given_window = settings.rolling_window.unwrap_or(0);
    let min_length = horizon + MIN_HISTORY.max(given_lag).max(given_window);
    let set = SeriesSet::build(data, label, &settings, &|_| min_length, &what)?;
    let longest = set
        .series
        .iter()
        .max_by_key(|s| s.values.len())
        .map(|s| s.values.as_slice())
        .unwrap_or(&[]);
    let n_folds = settings.n_folds.unwrap_or(5);
    let cv_step = settings.cv_step.unwrap_or(horizon);
    let folds = rolling_origin_folds(&set, horizon, n_folds, cv_step, MIN_HISTORY)?;
    let season = match settings.seasonality {
        Some(m) => m,
        None => choose_season(
            &set,
            &folds,
            horizon,
            &season_candidates(set.grid.frequency.default_season()),
            metric,
        ),
    };
    let lags = settings
        .target_lags
        .clone()
        .unwrap_or_else(|| auto_lags(longest, season));
    let plan = FeaturePlan {
        horizon,
        season,
        lags,
        windows: auto_windows(season, settings.rolling_window),
        n_known: set.feature_names.len(),
        known_lags: settings.feature_lags,
        sub_daily: set.grid.frequency.is_sub_daily(),
        n_series: set.series.len(),
        extra_seasons: season_candidates(set.grid.frequency.default_season())
            .into_iter()
            .filter(|&m| m != season && m > 1 && longest.len() >= 2 * m)
            .collect(),
    };
    let validation = format!(
        "rolling origin, {} fold(s) {cv_step} step(s) apart, horizon {horizon}",
        folds.len()
    );
    let mut guardrails = set.guardrails.clone();
    guardrails.push(Guardrail {
        name: "Seasonality detection".into(),
        status: crate::featurize::GuardrailStatus::Passed,
        message: match settings.seasonality {
            Some(m) => format!("seasonality {m} given"),
            None => format!(
                "seasonality {season} chosen (the best SeasonalNaive on the folds among {:?})",
                season_candidates(set.grid.frequency.default_season())
            ),
        },
    });
    observer.message(&format!(
        "forecasting '{label}': {} series, frequency {}, horizon {horizon}, season {season}; {validation}; lags {:?}, windows {:?}, {} known feature(s)",
        set.series.len(),
        set.grid.frequency_name(),
        plan.lags,
        plan.windows,
        set.feature_names.len()
    ));
    observer.guardrails(&guardrails);
    let algorithms = spec.algorithms_for(Task::Regression)?;
    let positive = set.series.iter().all(|s| s.values.iter().all(|v| *v > 0.0));
    let candidates = Candidates::new(
        season,
        positive,
        !set.feature_names.is_empty(),
        algorithms,
        spec.seed,
    );
    let reserve = Duration::from_secs_f64((budget.as_secs_f64() * 0.08).clamp(0.2, 10.0));
    let limits = SearchLimits {
        end: hard_end.checked_sub(reserve).unwrap_or(hard_end),
        trial_timeout: spec.limits.trial_timeout.unwrap_or(budget / 4),
        max_trials: spec.limits.max_trials,
        threads: spec.limits.max_concurrent_trials.max(1),
        early_stopping: spec.limits.early_stopping,
    };
    let ctx = Context {
        set: &set,
        plan: &plan,
        season,
        horizon,
        seed: spec.seed,
        deadline: None,
    };
    let (mut trials, stop) = run_search(&ctx, &folds, metric, limits, candidates, |t| {
        observer.message(&trial_line(t, metric))
    });
    if spec.training.enable_vote_ensemble {
        if let Some(ensemble) = select_ensemble(&trials, metric, trials.len()) {
            observer.message(&trial_line(&ensemble, metric));
            trials.push(ensemble);
        }
    }
    let refit_started = Instant::now();
    let order: Vec<usize> = ranked(&trials, metric).iter().map(|t| t.index).collect();
    if order.is_empty() {
        let errors: Vec<String> = trials
            .iter()
            .filter_map(|t| t.error.clone())
            .take(3)
            .collect();
        return Err(AutotabError::Budget(format!(
            "no forecasting trial completed within the {:.0}s budget ({} launched{}); give a larger --timeout",
            budget.as_secs_f64(),
            trials.len(),
            if errors.is_empty() { String::new() } else { format!(": {}", errors.join("; ")) }
        )));
    }
    let mut refit = None;
    for &index in &order {
        let trial = &trials[index];
        let ctx = Context {
            deadline: Some(hard_end),
            ..ctx
        };
        match fit_final(&trial.forecaster, &ctx) {
            Ok(fitted) => {
                refit = Some((index, fitted));
                break;
            }
            Err(e) => observer.message(&format!(
                "refitting trial #{index} ({}) failed: {e}; trying the next best",
                trial.forecaster.name()
            )),
        }
    }
    let (winner, fitted) = refit.ok_or_else(|| {
        AutotabError::Budget(
            "no completed trial could be refit on the whole history in time".into(),
        )
    })?;
    let refit_s = refit_started.elapsed().as_secs_f64();
    let best = &trials[winner];
    let mut residuals = vec![Vec::new(); horizon];
    let (mut actual, mut predicted) = (Vec::new(), Vec::new());
    for f in &best.forecasts {
        for i in 0..f.actual.len() {
            residuals[f.steps[i] - 1].push((f.actual[i] - f.predicted[i]) / f.scale[i]);
        }
        actual.extend_from_slice(&f.actual);
        predicted.extend_from_slice(&f.predicted);
    }
    for r in residuals.iter_mut() {
        r.sort_by(f64::total_cmp);
        if r.len() > MAX_RESIDUALS_PER_STEP {
            let stride = r.len().div_ceil(MAX_RESIDUALS_PER_STEP);
            *r = r.iter().step_by(stride).copied().collect();
        }
    }
    let cv_metrics = metrics::report(&actual, &predicted)?;
    // Enough history for the lag features, and for refitting a local method at a later origin
    // (rolling forecasts).
    let keep = best
        .forecaster
        .history_read(season)
        .map(|read| read.max(plan.history_needed()));
    let series = series_states(&set, keep);
    let model = ForecastModel {
        format_version: FORMAT_VERSION,
        label: label.clone(),
        settings,
        grid: set.grid,
        season,
        feature_names: set.feature_names.clone(),
        forecaster: best.forecaster.clone(),
        plan,
        series,
        dropped: set.dropped.clone(),
        fitted,
        residuals,
        metric: metric.name().to_string(),
        score: best.score.unwrap_or(f64::NAN),
        tails_roll: true,
    };
    Ok(ForecastOutcome {
        experiment: spec.experiment.clone(),
        metric,
        guardrails,
        validation,
        winner,
        cv_metrics,
        model,
        stop,
        n_rows: data.n_rows(),
        elapsed_s: started.elapsed().as_secs_f64(),
        refit_s,
        trials,
        series: set.series,
    })
}

/// One line per finished trial: index, method, score ± std over folds, seconds, settings.
pub fn trial_line(t: &ForecastTrial, metric: Metric) -> String {
    match t.score {
        Some(score) => {
            let n = t.fold_scores.len().max(1) as f64;
            let var = t
                .fold_scores
                .iter()
                .map(|s| (s - score).powi(2))
                .sum::<f64>()
                / n;
            format!(
                "#{:<4} {:<22} {} {:.4} ± {:.4}  {:>6.2}s  {}",
                t.index,
                t.forecaster.name(),
                metric.name(),
                score,
                var.sqrt(),
                t.seconds,
                t.forecaster.describe()
            )
        }
        None => format!(
            "#{:<4} {:<22} failed after {:.2}s: {}",
            t.index,
            t.forecaster.name(),
            t.seconds,
            t.error.as_deref().unwrap_or("unknown error")
        ),
    }
}

#[cfg(test)]
mod tests {
    use crate::data::{load_table, LoadOptions};
    use crate::job::{AutoOr, ForecastingSpec};
    use crate::task::Task;
    use crate::{AutoMl, FitOutcome, JobSpec};

    /// `AutoMl::fit` is the entry point of forecasting too: a job with a time column and no
    /// task forecasts, and its bundle predicts from future rows alone.
    #[test]
    fn automl_fit_runs_a_forecasting_job() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/air_passengers.csv");
        let mut job = JobSpec::new(&path, "AirPassengers");
        job.limits.timeout = std::time::Duration::from_secs(30);
        job.limits.max_trials = Some(3);
        job.forecasting = Some(ForecastingSpec {
            time_column_name: Some("date".into()),
            forecast_horizon: Some(AutoOr::Value(6)),
            ..ForecastingSpec::default()
        });
        let data = load_table(&path, &LoadOptions::default()).unwrap();
        let train = data.select_rows(&(0..138).collect::<Vec<_>>());
        let future = data.select_rows(&(138..144).collect::<Vec<_>>());
        let outcome = AutoMl::new(job).fit(&train).unwrap();
        assert!(matches!(outcome, FitOutcome::Forecasting(_)));
        assert_eq!(outcome.task(), Task::Forecasting);
        assert!(outcome.trials() >= 3, "{}", outcome.trials());
        assert!(outcome.best_score().is_finite());
        let dir = tempfile::tempdir().unwrap();
        outcome.save_bundle(dir.path()).unwrap();
        let model = crate::forecast::ForecastModel::load(dir.path()).unwrap();
        let forecast = model.predict(&future, &[]).unwrap();
        assert_eq!(forecast.values.len(), 6);
        assert!(forecast.values.iter().all(|v| v.is_finite()));
        assert!(outcome.into_tabular().is_err());
    }
}
