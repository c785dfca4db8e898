//! The forecasters a search tries (baselines, exponential smoothing, every regression learner
//! on the lag features), how one forecasts a rolling-origin fold, and how the winner is refit
//! on the whole history.

use std::time::Instant;

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::baselines::Baseline;
use super::ets::{fit_ets, EtsConfig};
use super::features::{series_scale, FeaturePlan, RowInput};
use super::folds::Fold;
use super::harmonic::{HarmonicConfig, HarmonicFit};
use super::series::SeriesSet;
use crate::error::{AutotabError, Result};
use crate::models::{Algorithm, Estimator, FitContext, FittedModel, Params, TargetRef, TrainSet};

/// Most recent values exponential smoothing is fitted on (nyc_energy has 49k hourly values;
/// as `run_anchor.py` does for statsmodels).
pub const ETS_MAX_HISTORY: usize = 5000;

/// Most training rows a regression learner gets in one fit (about: rows are sampled at random).
pub const MAX_TRAIN_ROWS: usize = 12_000;

/// One forecasting method with its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ForecasterSpec {
    /// A baseline.
    Baseline(Baseline),
    /// Holt-Winters exponential smoothing, fitted per series.
    ExponentialSmoothing(EtsConfig),
    /// Dynamic harmonic regression (Fourier terms, known features, AR(1) errors), fitted per
    /// series.
    Harmonic(HarmonicConfig),
    /// A regression learner on the lag features, one model over all series and steps.
    Regression {
        /// The learner.
        algorithm: Algorithm,
        /// Its hyperparameters.
        params: Params,
    },
    /// A weighted average of methods (chosen after the search from their fold forecasts).
    Ensemble(Vec<(f64, ForecasterSpec)>),
}

impl ForecasterSpec {
    /// Azure's name of the method (`SeasonalNaive`, `ExponentialSmoothing`, `LightGBM`, ...).
    pub fn name(&self) -> String {
        match self {
            ForecasterSpec::Baseline(b) => b.name().to_string(),
            ForecasterSpec::ExponentialSmoothing(_) => "ExponentialSmoothing".into(),
            ForecasterSpec::Harmonic(_) => "HarmonicRegression".into(),
            ForecasterSpec::Regression { algorithm, .. } => algorithm.name().to_string(),
            ForecasterSpec::Ensemble(_) => "VotingEnsemble".into(),
        }
    }

    /// Most recent values of a series a refit of this method reads (`None`: all of them); 0
    /// when it is never refit from the history (regression learners read the lag features'
    /// history, [`FeaturePlan::history_needed`]; a harmonic regression rolls forward from its
    /// fitted coefficients). A rolling forecast refits a local method at each later origin, so
    /// the bundle keeps this much of every series.
    pub fn history_read(&self, season: usize) -> Option<usize> {
        match self {
            ForecasterSpec::Baseline(Baseline::Naive) => Some(1),
            ForecasterSpec::Baseline(Baseline::SeasonalNaive) => Some(season.max(1)),
            ForecasterSpec::Baseline(Baseline::Average | Baseline::SeasonalAverage) => None,
            ForecasterSpec::ExponentialSmoothing(_) => Some(ETS_MAX_HISTORY),
            ForecasterSpec::Harmonic(_) | ForecasterSpec::Regression { .. } => Some(0),
            ForecasterSpec::Ensemble(members) => members
                .iter()
                .map(|(_, m)| m.history_read(season))
                .try_fold(0, |most, read| read.map(|r| most.max(r))),
        }
    }

    /// Its settings in one line.
    pub fn describe(&self) -> String {
        match self {
            ForecasterSpec::Baseline(_) => String::new(),
            ForecasterSpec::ExponentialSmoothing(c) => c.describe(),
            ForecasterSpec::Harmonic(c) => c.describe(),
            ForecasterSpec::Regression { params, .. } => {
                serde_json::to_string(params).unwrap_or_default()
            }
            ForecasterSpec::Ensemble(members) => members
                .iter()
                .map(|(w, m)| format!("{:.2} {} {}", w, m.name(), m.describe()))
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

/// What every forecast of one run shares.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The series.
    pub set: &'a SeriesSet,
    /// The lag features.
    pub plan: &'a FeaturePlan,
    /// Season length.
    pub season: usize,
    /// Steps to forecast.
    pub horizon: usize,
    /// Seed of the learners.
    pub seed: u64,
    /// When a fit must stop.
    pub deadline: Option<Instant>,
}

/// A fold's forecasts, one entry per (series, step) with an actual value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FoldForecast {
    /// Series index.
    pub series: Vec<usize>,
    /// Steps ahead (1-based).
    pub steps: Vec<usize>,
    /// Actual values.
    pub actual: Vec<f64>,
    /// Forecasts.
    pub predicted: Vec<f64>,
    /// The series' scale up to the origin (residuals are kept in its units).
    pub scale: Vec<f64>,
}

/// The path of a local method (baseline or smoothing) from the end of `history`: what
/// [`fit_final`] keeps for it, and what a rolling forecast recomputes at each later origin.
pub fn local_path(
    spec: &ForecasterSpec,
    history: &[f64],
    horizon: usize,
    season: usize,
) -> Vec<f64> {
    match spec {
        ForecasterSpec::Baseline(b) => b.forecast(history, horizon, season),
        ForecasterSpec::ExponentialSmoothing(config) => {
            let recent = &history[history.len().saturating_sub(ETS_MAX_HISTORY)..];
            match fit_ets(recent, *config, season) {
                Some(fit) => fit.forecast(horizon),
                None => Baseline::Naive.forecast(history, horizon, season),
            }
        }
        ForecasterSpec::Regression { .. }
        | ForecasterSpec::Ensemble(_)
        | ForecasterSpec::Harmonic(_) => {
            unreachable!("local methods without features only")
        }
    }
}

/// The seasons a harmonic regression models: the run's season and the other ones the data
/// covers.
fn harmonic_seasons(ctx: &Context) -> Vec<usize> {
    std::iter::once(ctx.season)
        .chain(ctx.plan.extra_seasons.iter().copied())
        .filter(|&m| m > 1)
        .collect()
}

/// A harmonic regression of series `s` fitted on its values up to position `o`.
fn fit_harmonic(ctx: &Context, config: HarmonicConfig, s: usize, o: usize) -> HarmonicFit {
    let series = &ctx.set.series[s];
    let features: Vec<&[f64]> = series.features.iter().map(|f| &f[..=o]).collect();
    HarmonicFit::fit(
        &series.values[..=o],
        &features,
        &harmonic_seasons(ctx),
        config,
    )
}

/// The feature row of series `s` at origin position `o` for `step` ahead.
fn feature_row(ctx: &Context, s: usize, o: usize, step: usize, scale: f64, out: &mut Vec<f64>) {
    let series = &ctx.set.series[s];
    let target = o + step;
    let at = |pos: usize| -> Vec<f64> {
        series
            .features
            .iter()
            .map(|f| f.get(pos).or(f.last()).copied().unwrap_or(0.0))
            .collect()
    };
    ctx.plan.row(
        &RowInput {
            history: &series.values[..=o],
            step,
            target_time: ctx.set.grid.time_at(series.start + target as i64),
            known: &at(target),
            known_at_origin: &at(o),
            series_code: s,
            scale,
        },
        out,
    );
}

/// Training rows for a regression learner: every series up to its cutoff position, each
/// (origin, step) row kept with the same probability (seeded) so that at most about
/// [`MAX_TRAIN_ROWS`] remain.
///
/// Rows are sampled one by one rather than whole origins at an even stride: on nyc_energy
/// (49k hourly origins, horizon 48) a stride of 196 origins kept ~250 origins, all at 6 of the
/// 24 hours of the day, and no stride over the flattened rows avoids such aliasing with the
/// season or the horizon.
fn training_rows(ctx: &Context, cutoffs: &[Option<usize>]) -> (Array2<f64>, Vec<f64>) {
    let needed = ctx.plan.history_needed();
    let mut origins: Vec<(usize, usize)> = Vec::new();
    let mut total = 0usize;
    for (s, cutoff) in cutoffs.iter().enumerate() {
        let Some(c) = *cutoff else { continue };
        let lowest = (needed.saturating_sub(1)).min(c / 2);
        for o in (lowest..c).rev() {
            origins.push((s, o));
            total += ctx.horizon.min(c - o);
        }
    }
    let keep = (MAX_TRAIN_ROWS as f64 / total.max(1) as f64).min(1.0);
    let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed ^ 0x6f72_6967_696e_7321);
    let mut x = Vec::new();
    let mut y = Vec::new();
    let mut rows = 0;
    for &(s, o) in &origins {
        let c = cutoffs[s].expect("origins come from cut series");
        let values = &ctx.set.series[s].values;
        let mut scale = None;
        for step in 1..=ctx.horizon.min(c - o) {
            if keep < 1.0 && rng.gen::<f64>() >= keep {
                continue;
            }
            let scale = *scale.get_or_insert_with(|| ctx.plan.local_scale(&values[..=o]));
            feature_row(ctx, s, o, step, scale, &mut x);
            y.push(FeaturePlan::target(&values[..=o], values[o + step], scale));
            rows += 1;
        }
    }
    let cols = x.len().checked_div(rows).unwrap_or(0);
    let x = Array2::from_shape_vec((rows, cols), x).expect("rows of equal length");
    (x, y)
}

fn fit_learner(
    ctx: &Context,
    algorithm: Algorithm,
    params: &Params,
    cutoffs: &[Option<usize>],
) -> Result<FittedModel> {
    let (x, y) = training_rows(ctx, cutoffs);
    if y.is_empty() {
        return Err(AutotabError::fit(
            algorithm,
            "the series are too short to build one training row",
        ));
    }
    Estimator::new(algorithm, params)?.fit(
        &TrainSet {
            x: x.view(),
            y: TargetRef::Values(&y),
            weights: None,
            binned: None,
        },
        &FitContext {
            deadline: ctx.deadline,
            seed: ctx.seed,
            valid: None,
        },
    )
}

/// Forecasts the `horizon` steps after each series' origin in `fold`, from the history up to
/// the origin only.
pub fn forecast_fold(spec: &ForecasterSpec, ctx: &Context, fold: &Fold) -> Result<FoldForecast> {
    let mut out = FoldForecast::default();
    let mut push = |s: usize, step: usize, actual: f64, predicted: f64, scale: f64| {
        out.series.push(s);
        out.steps.push(step);
        out.actual.push(actual);
        out.predicted.push(predicted);
        out.scale.push(scale);
    };
    if let ForecasterSpec::Ensemble(members) = spec {
        let mut combined: Option<FoldForecast> = None;
        for (w, member) in members {
            let f = forecast_fold(member, ctx, fold)?;
            match combined.as_mut() {
                None => {
                    let mut first = f;
                    first.predicted.iter_mut().for_each(|p| *p *= w);
                    combined = Some(first);
                }
                Some(c) => c
                    .predicted
                    .iter_mut()
                    .zip(&f.predicted)
                    .for_each(|(c, p)| *c += w * p),
            }
        }
        return combined.ok_or_else(|| AutotabError::fit("VotingEnsemble", "no member"));
    }
    match spec {
        ForecasterSpec::Regression { algorithm, params } => {
            let model = fit_learner(ctx, *algorithm, params, &fold.origins)?;
            let mut x = Vec::new();
            let mut meta = Vec::new();
            for (s, origin) in fold.origins.iter().enumerate() {
                let Some(o) = *origin else { continue };
                let values = &ctx.set.series[s].values;
                let scale = ctx.plan.local_scale(&values[..=o]);
                let residual_scale = series_scale(&values[..=o]);
                for step in (1..=ctx.horizon).filter(|h| o + h < values.len()) {
                    feature_row(ctx, s, o, step, scale, &mut x);
                    meta.push((s, o, step, scale, residual_scale));
                }
            }
            let cols = x.len() / meta.len().max(1);
            let x = Array2::from_shape_vec((meta.len(), cols), x).expect("equal rows");
            let output = model.predict_before(x.view(), ctx.deadline)?;
            for (i, &(s, o, step, scale, residual_scale)) in meta.iter().enumerate() {
                let values = &ctx.set.series[s].values;
                let predicted = FeaturePlan::invert(&values[..=o], output[[i, 0]], scale);
                push(s, step, values[o + step], predicted, residual_scale);
            }
        }
        ForecasterSpec::Harmonic(config) => {
            for (s, origin) in fold.origins.iter().enumerate() {
                let Some(o) = *origin else { continue };
                let series = &ctx.set.series[s];
                let fit = fit_harmonic(ctx, *config, s, o);
                let scale = series_scale(&series.values[..=o]);
                for step in (1..=ctx.horizon).filter(|h| o + h < series.values.len()) {
                    let known: Vec<f64> = series.features.iter().map(|f| f[o + step]).collect();
                    push(
                        s,
                        step,
                        series.values[o + step],
                        fit.forecast(step, &known),
                        scale,
                    );
                }
            }
        }
        local => {
            for (s, origin) in fold.origins.iter().enumerate() {
                let Some(o) = *origin else { continue };
                if ctx.deadline.is_some_and(|d| Instant::now() > d) {
                    return Err(AutotabError::Budget(format!(
                        "{} ran out of its trial time",
                        local.name()
                    )));
                }
                let values = &ctx.set.series[s].values;
                let path = local_path(local, &values[..=o], ctx.horizon, ctx.season);
                let scale = series_scale(&values[..=o]);
                for step in (1..=ctx.horizon).filter(|h| o + h < values.len()) {
                    push(s, step, values[o + step], path[step - 1], scale);
                }
            }
        }
    }
    if out.predicted.iter().any(|p| !p.is_finite()) {
        return Err(AutotabError::fit(
            spec.name(),
            "a forecast is not a finite number",
        ));
    }
    Ok(out)
}

/// The winner refit on the whole history.
#[derive(Debug, Serialize, Deserialize)]
pub enum FittedForecaster {
    /// A local method's forecast path (steps `1..=horizon`) from the end of each series.
    Paths(Vec<Vec<f64>>),
    /// A regression learner over the lag features.
    Global(Box<FittedModel>),
    /// A harmonic regression per series (forecasts need the known features of the target
    /// steps).
    Harmonic(Vec<HarmonicFit>),
    /// A weighted average of fitted methods.
    Ensemble(Vec<(f64, FittedForecaster)>),
}

/// Refits `spec` on every series' whole history.
pub fn fit_final(spec: &ForecasterSpec, ctx: &Context) -> Result<FittedForecaster> {
    match spec {
        ForecasterSpec::Ensemble(members) => Ok(FittedForecaster::Ensemble(
            members
                .iter()
                .map(|(w, m)| Ok((*w, fit_final(m, ctx)?)))
                .collect::<Result<Vec<_>>>()?,
        )),
        ForecasterSpec::Regression { algorithm, params } => {
            let cutoffs: Vec<Option<usize>> = ctx
                .set
                .series
                .iter()
                .map(|s| Some(s.values.len() - 1))
                .collect();
            Ok(FittedForecaster::Global(Box::new(fit_learner(
                ctx, *algorithm, params, &cutoffs,
            )?)))
        }
        ForecasterSpec::Harmonic(config) => Ok(FittedForecaster::Harmonic(
            (0..ctx.set.series.len())
                .map(|s| fit_harmonic(ctx, *config, s, ctx.set.series[s].values.len() - 1))
                .collect(),
        )),
        local => Ok(FittedForecaster::Paths(
            ctx.set
                .series
                .iter()
                .map(|s| local_path(local, &s.values, ctx.horizon, ctx.season))
                .collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::ets::Season;
    use crate::forecast::series::Series;
    use crate::forecast::time::{Frequency, Grid};

    fn set(values: [Vec<f64>; 2]) -> SeriesSet {
        SeriesSet {
            grid: Grid {
                frequency: Frequency::Fixed { seconds: 86_400 },
                origin: chrono::NaiveDate::from_ymd_opt(2020, 1, 1)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap(),
            },
            series: values
                .into_iter()
                .enumerate()
                .map(|(i, v)| Series {
                    key: vec![i.to_string()],
                    start: i as i64,
                    features: vec![(0..v.len()).map(|t| (t % 5) as f64).collect()],
                    values: v,
                })
                .collect(),
            feature_names: vec!["x".into()],
            dropped: Vec::new(),
            guardrails: Vec::new(),
        }
    }

    /// A long series is sampled row by row: about [`MAX_TRAIN_ROWS`] rows from many more
    /// origins than whole origins would give, with every step ahead represented (an even
    /// stride over origins kept ~250 origins of nyc_energy at 6 hours of the day).
    #[test]
    fn long_series_are_sampled_row_by_row_over_many_origins() {
        let n = 20_000;
        let values: Vec<f64> = (0..n).map(|t| ((t * 7919) % 1000) as f64 + 1.0).collect();
        let short: Vec<f64> = values[..100].to_vec();
        let data = set([values, short]);
        let horizon = 48;
        let plan = FeaturePlan {
            horizon,
            season: 24,
            lags: vec![2, 3, 24],
            windows: vec![3],
            n_known: 1,
            known_lags: false,
            sub_daily: false,
            n_series: 2,
            extra_seasons: Vec::new(),
        };
        let ctx = Context {
            set: &data,
            plan: &plan,
            season: 24,
            horizon,
            seed: 3,
            deadline: None,
        };
        let (x, y) = training_rows(&ctx, &[Some(n - 1), None]);
        assert_eq!(x.nrows(), y.len());
        let rows = y.len();
        assert!(
            (MAX_TRAIN_ROWS * 9 / 10..=MAX_TRAIN_ROWS * 11 / 10).contains(&rows),
            "{rows} rows"
        );
        // Column 1 is the level at the origin over its scale: one value per origin here.
        let origins: std::collections::HashSet<u64> =
            x.column(1).iter().map(|v| v.to_bits()).collect();
        assert!(
            origins.len() > 2 * MAX_TRAIN_ROWS / horizon,
            "{} origins",
            origins.len()
        );
        let steps: std::collections::HashSet<u64> = x.column(0).iter().map(|v| *v as u64).collect();
        assert_eq!(steps.len(), horizon);
        // The same seed samples the same rows.
        assert_eq!(training_rows(&ctx, &[Some(n - 1), None]).1, y);
    }

    /// Every method's fold forecasts stay the same when every value after the fold's origins is
    /// replaced: nothing past an origin reaches a forecast (the actuals alone change).
    #[test]
    fn fold_forecasts_never_see_past_the_origin() {
        let series = |phase: f64| -> Vec<f64> {
            (0..80)
                .map(|t| 50.0 + t as f64 * 0.3 + 8.0 * ((t as f64 + phase) * 0.9).sin())
                .collect()
        };
        let clean = set([series(0.0), series(1.0)]);
        let fold = Fold {
            origins: vec![Some(60), Some(55)],
        };
        let mut poisoned = clean.clone();
        for (s, o) in poisoned.series.iter_mut().zip([60usize, 55]) {
            s.values[o + 1..].iter_mut().for_each(|v| *v = 1e6);
        }
        let plan = FeaturePlan {
            horizon: 4,
            season: 7,
            lags: vec![2, 3, 7, 8],
            windows: vec![3, 7],
            n_known: 1,
            known_lags: true,
            sub_daily: false,
            n_series: 2,
            extra_seasons: Vec::new(),
        };
        let specs = [
            ForecasterSpec::Baseline(Baseline::SeasonalNaive),
            ForecasterSpec::Baseline(Baseline::SeasonalAverage),
            ForecasterSpec::ExponentialSmoothing(EtsConfig {
                trend: true,
                damped: true,
                season: Season::Additive,
            }),
            ForecasterSpec::Regression {
                algorithm: Algorithm::GradientBoosting,
                params: crate::search::low_cost_params(Algorithm::GradientBoosting.space()),
            },
            ForecasterSpec::Regression {
                algorithm: Algorithm::ElasticNet,
                params: Params::new(),
            },
            ForecasterSpec::Harmonic(HarmonicConfig {
                trend: true,
                recent_cycles: Some(8),
                interactions: true,
            }),
        ];
        for spec in &specs {
            let run = |set: &SeriesSet| {
                let ctx = Context {
                    set,
                    plan: &plan,
                    season: 7,
                    horizon: 4,
                    seed: 1,
                    deadline: None,
                };
                forecast_fold(spec, &ctx, &fold).unwrap()
            };
            let (a, b) = (run(&clean), run(&poisoned));
            assert_eq!(a.predicted, b.predicted, "{}", spec.name());
            assert_eq!(a.steps, vec![1, 2, 3, 4, 1, 2, 3, 4]);
            assert!(b.actual.iter().all(|v| *v == 1e6));
            assert!(
                a.predicted.iter().all(|p| (p - 70.0).abs() < 40.0),
                "{}: {:?}",
                spec.name(),
                a.predicted
            );
        }
    }
}
