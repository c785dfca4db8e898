//! Exponential smoothing (Holt-Winters): level, optional additive trend (optionally damped),
//! optional additive or multiplicative season. The recursions, the heuristic initial states
//! (Hyndman & Athanasopoulos, section 2.6) and the forecast are those of statsmodels'
//! `ExponentialSmoothing(..., initialization_method="heuristic")`, so the two agree (a test
//! checks it on air_passengers against a committed statsmodels fixture). The smoothing
//! parameters minimise the one-step squared error with argmin's Nelder-Mead, on an
//! unconstrained scale mapped into statsmodels' bounds (`beta <= alpha`, `gamma <= 1 - alpha`).

use argmin::core::{CostFunction, Error as ArgminError, Executor, State};
use argmin::solver::neldermead::NelderMead;
use serde::{Deserialize, Serialize};

/// The seasonal component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Season {
    /// No season.
    None,
    /// Added to the level.
    Additive,
    /// Multiplies the level (strictly positive series only).
    Multiplicative,
}

/// Which Holt-Winters model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtsConfig {
    /// An additive trend.
    pub trend: bool,
    /// The trend damped by `phi`.
    pub damped: bool,
    /// The season.
    pub season: Season,
}

impl EtsConfig {
    /// A short description: `trend=add damped, season=mul`.
    pub fn describe(&self) -> String {
        let trend = match (self.trend, self.damped) {
            (false, _) => "none",
            (true, false) => "add",
            (true, true) => "add damped",
        };
        let season = match self.season {
            Season::None => "none",
            Season::Additive => "add",
            Season::Multiplicative => "mul",
        };
        format!("trend={trend}, season={season}")
    }
}

/// Fitted smoothing parameters and states after the last observation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedEts {
    /// The model actually fitted (a season the series cannot support is dropped).
    pub config: EtsConfig,
    /// Season length used.
    pub period: usize,
    /// Smoothing of the level.
    pub alpha: f64,
    /// Smoothing of the trend.
    pub beta: f64,
    /// Smoothing of the season.
    pub gamma: f64,
    /// Damping of the trend.
    pub phi: f64,
    /// Sum of squared one-step errors.
    pub sse: f64,
    level: f64,
    trend: f64,
    /// Seasonal values for the forecast steps `1..=period` (statsmodels' indexing).
    seasonals: Vec<f64>,
}

/// Initial level, trend and seasonals by statsmodels' heuristic, or `None` when the series
/// is too short for it.
fn heuristic_init(y: &[f64], config: EtsConfig, m: usize) -> Option<(f64, f64, Vec<f64>)> {
    let n = y.len();
    if n < 10 {
        return None;
    }
    let mut base: Vec<f64> = y.to_vec();
    let mut seasonals = Vec::new();
    if config.season != Season::None {
        let min_obs = 10 + 2 * (m / 2);
        if n < 2 * m || n < min_obs {
            return None;
        }
        let k = (n / m).min(5).max(min_obs.div_ceil(m));
        let series = &y[..(m * k).min(n)];
        let len = series.len();
        let mut centred = vec![f64::NAN; len];
        for (i, c) in centred.iter_mut().enumerate() {
            let Some(start) = i.checked_sub(m / 2) else {
                continue;
            };
            if start + m <= len {
                *c = series[start..start + m].iter().sum::<f64>() / m as f64;
            }
        }
        if m.is_multiple_of(2) {
            centred = (0..len)
                .map(|i| {
                    if i + 1 < len {
                        (centred[i] + centred[i + 1]) / 2.0
                    } else {
                        f64::NAN
                    }
                })
                .collect();
        }
        let mut sums = vec![0.0; m];
        let mut counts = vec![0usize; m];
        for i in 0..len {
            let d = match config.season {
                Season::Additive => series[i] - centred[i],
                _ => series[i] / centred[i],
            };
            if d.is_finite() {
                sums[i % m] += d;
                counts[i % m] += 1;
            }
        }
        seasonals = (0..m).map(|j| sums[j] / counts[j].max(1) as f64).collect();
        let mean = seasonals.iter().sum::<f64>() / m as f64;
        match config.season {
            Season::Additive => seasonals.iter_mut().for_each(|s| *s -= mean),
            _ => seasonals.iter_mut().for_each(|s| *s /= mean),
        }
        base = centred.into_iter().filter(|v| v.is_finite()).collect();
        if base.len() < 10 {
            return None;
        }
    }
    // Least squares of the first 10 values on (1, t), t = 1..=10.
    let first = &base[..10];
    let t_mean = 5.5;
    let y_mean = first.iter().sum::<f64>() / 10.0;
    let sxx: f64 = (1..=10).map(|t| (t as f64 - t_mean).powi(2)).sum();
    let sxy: f64 = first
        .iter()
        .enumerate()
        .map(|(i, v)| (i as f64 + 1.0 - t_mean) * (v - y_mean))
        .sum();
    let slope = sxy / sxx;
    let level = y_mean - slope * t_mean;
    Some((level, if config.trend { slope } else { 0.0 }, seasonals))
}

/// Smoothing parameters of one fit.
#[derive(Debug, Clone, Copy)]
struct Smoothing {
    alpha: f64,
    beta: f64,
    gamma: f64,
    phi: f64,
}

/// Runs the recursions: returns the SSE and the forecast states.
fn run(
    y: &[f64],
    config: EtsConfig,
    m: usize,
    init: &(f64, f64, Vec<f64>),
    p: Smoothing,
) -> (f64, f64, f64, Vec<f64>) {
    let n = y.len();
    let seasonal = config.season != Season::None;
    let mul = config.season == Season::Multiplicative;
    let phi = if config.damped { p.phi } else { 1.0 };
    let mut s: Vec<f64> = Vec::with_capacity(n + m + 1);
    if seasonal {
        s.extend_from_slice(&init.2);
    }
    let (mut level, mut trend) = (init.0, if config.trend { init.1 } else { 0.0 });
    let mut sse = 0.0;
    for (i, &obs) in y.iter().enumerate() {
        let damped_trend = if config.trend { trend * phi } else { 0.0 };
        let trended = level + damped_trend;
        let season = if seasonal { s[i] } else { 0.0 };
        let fitted = if mul {
            trended * season
        } else {
            trended + season
        };
        let err = obs - fitted;
        sse += err * err;
        let new_level = if mul {
            p.alpha * obs / season + (1.0 - p.alpha) * trended
        } else {
            p.alpha * (obs - season) + (1.0 - p.alpha) * trended
        };
        if config.trend {
            trend = p.beta * (new_level - level) + (1.0 - p.beta) * damped_trend;
        }
        if seasonal {
            let update = if mul {
                p.gamma * obs / trended + (1.0 - p.gamma) * season
            } else {
                p.gamma * (obs - trended) + (1.0 - p.gamma) * season
            };
            s.push(update);
        }
        level = new_level;
    }
    // statsmodels' forecast seasonals: s[n + h - 1] for h < m, and s[n - 1 + (h - m) % m]
    // from h = m on (its index arithmetic keeps the last-but-one cycle for step m).
    let seasonals = if seasonal {
        (1..=m)
            .map(|h| {
                if h < m {
                    s[n + h - 1]
                } else {
                    s[n - 1 + (h - m) % m]
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    (sse, level, trend, seasonals)
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

const EPS: f64 = 1e-4;

fn bounded(x: f64) -> f64 {
    EPS + (1.0 - 2.0 * EPS) * sigmoid(x)
}

struct Objective<'a> {
    y: &'a [f64],
    config: EtsConfig,
    m: usize,
    init: (f64, f64, Vec<f64>),
}

impl Objective<'_> {
    fn smoothing(&self, x: &[f64]) -> Smoothing {
        let alpha = bounded(x[0]);
        let mut k = 1;
        let mut next = || {
            let v = x.get(k).copied().unwrap_or(0.0);
            k += 1;
            v
        };
        let beta = if self.config.trend {
            alpha * bounded(next())
        } else {
            0.0
        };
        let gamma = if self.config.season != Season::None {
            (1.0 - alpha) * bounded(next())
        } else {
            0.0
        };
        let phi = if self.config.damped {
            0.8 + 0.195 * sigmoid(next())
        } else {
            1.0
        };
        Smoothing {
            alpha,
            beta,
            gamma,
            phi,
        }
    }
}

impl CostFunction for Objective<'_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, x: &Vec<f64>) -> Result<f64, ArgminError> {
        let (sse, ..) = run(self.y, self.config, self.m, &self.init, self.smoothing(x));
        Ok(if sse.is_finite() { sse } else { f64::MAX })
    }
}

/// One Nelder-Mead run from `x0` with a simplex of edge `step`: the best cost and point.
fn nelder_mead(objective: &Objective, x0: Vec<f64>, step: f64) -> Option<(f64, Vec<f64>)> {
    let mut simplex = vec![x0.clone()];
    for d in 0..x0.len() {
        let mut v = x0.clone();
        v[d] += step;
        simplex.push(v);
    }
    let solver = NelderMead::new(simplex).with_sd_tolerance(1e-10).ok()?;
    let problem = Objective {
        y: objective.y,
        config: objective.config,
        m: objective.m,
        init: objective.init.clone(),
    };
    let result = Executor::new(problem, solver)
        .configure(|s| s.max_iters(500))
        .run()
        .ok()?;
    let state = result.state();
    Some((state.get_best_cost(), state.get_best_param()?.clone()))
}

/// Fits `config` with season length `period` on `y`. A season the series cannot support
/// (too short, or not strictly positive for a multiplicative one) is dropped; a series too
/// short for any model (< 10 values) gives `None`.
pub fn fit_ets(y: &[f64], config: EtsConfig, period: usize) -> Option<FittedEts> {
    let mut config = config;
    let m = period.max(1);
    if m < 2
        || (config.season == Season::Multiplicative && y.iter().any(|v| *v <= 0.0))
        || heuristic_init(y, config, m).is_none()
    {
        config.season = Season::None;
    }
    if !config.trend {
        config.damped = false;
    }
    let init = heuristic_init(y, config, m)?;
    let objective = Objective {
        y,
        config,
        m,
        init: init.clone(),
    };
    let dims = 1
        + usize::from(config.trend)
        + usize::from(config.season != Season::None)
        + usize::from(config.damped);
    // Unconstrained starting points (alpha, beta / alpha, gamma / (1 - alpha), phi), then two
    // restarts from the best point found: Nelder-Mead stalls on flat ridges.
    let starts: [[f64; 4]; 4] = [
        [0.5, 0.1, 0.1, 0.98],
        [0.2, 0.3, 0.5, 0.9],
        [0.8, 0.05, 0.3, 0.99],
        [0.35, 0.15, 0.8, 0.97],
    ];
    let to_x = |p: &[f64; 4]| -> Vec<f64> {
        let mut x = vec![logit(p[0])];
        if config.trend {
            x.push(logit(p[1]));
        }
        if config.season != Season::None {
            x.push(logit(p[2]));
        }
        if config.damped {
            x.push(logit((p[3] - 0.8) / 0.195));
        }
        x
    };
    fn keep_better(best: &mut Option<(f64, Vec<f64>)>, found: Option<(f64, Vec<f64>)>) {
        if let Some((cost, x)) = found {
            if best.as_ref().is_none_or(|(c, _)| cost < *c) {
                *best = Some((cost, x));
            }
        }
    }
    let mut best: Option<(f64, Vec<f64>)> = None;
    for start in &starts {
        keep_better(&mut best, nelder_mead(&objective, to_x(start), 1.0));
    }
    for step in [0.5, 0.1] {
        let from = best.as_ref().map(|(_, x)| x.clone());
        if let Some(x0) = from {
            keep_better(&mut best, nelder_mead(&objective, x0, step));
        }
    }
    debug_assert_eq!(dims, to_x(&starts[0]).len());
    let (_, x) = best?;
    let p = objective.smoothing(&x);
    let (sse, level, trend, seasonals) = run(y, config, m, &init, p);
    Some(FittedEts {
        config,
        period: m,
        alpha: p.alpha,
        beta: p.beta,
        gamma: p.gamma,
        phi: p.phi,
        sse,
        level,
        trend,
        seasonals,
    })
}

impl FittedEts {
    /// Forecasts steps `1..=horizon` after the end of the fitted series.
    pub fn forecast(&self, horizon: usize) -> Vec<f64> {
        let phi = if self.config.damped { self.phi } else { 1.0 };
        let mut damp_sum = 0.0;
        let mut power = 1.0;
        (1..=horizon)
            .map(|h| {
                power *= phi;
                damp_sum += power;
                let trended = self.level
                    + if self.config.trend {
                        self.trend * damp_sum
                    } else {
                        0.0
                    };
                match self.config.season {
                    Season::None => trended,
                    Season::Additive => trended + self.seasonals[season_index(h, self.period)],
                    Season::Multiplicative => {
                        trended * self.seasonals[season_index(h, self.period)]
                    }
                }
            })
            .collect()
    }
}

/// Index into the forecast seasonals for step `h`: steps past the first cycle repeat
/// statsmodels' pattern (`s[n - 1 + (h - m) % m]`, which is step `m` when the remainder is 0
/// and step `(h - m) % m` otherwise).
fn season_index(h: usize, m: usize) -> usize {
    if h <= m {
        return h - 1;
    }
    match (h - m) % m {
        0 => m - 1,
        r => r - 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_seasonal_series_is_recovered() {
        let y: Vec<f64> = (0..96)
            .map(|t| 100.0 + t as f64 + 10.0 * ((t % 12) as f64 - 5.5))
            .collect();
        let config = EtsConfig {
            trend: true,
            damped: false,
            season: Season::Additive,
        };
        let fit = fit_ets(&y, config, 12).unwrap();
        let truth: Vec<f64> = (96..108)
            .map(|t| 100.0 + t as f64 + 10.0 * ((t % 12) as f64 - 5.5))
            .collect();
        for (f, t) in fit.forecast(12).iter().zip(&truth) {
            assert!((f - t).abs() < 2.0, "{f} vs {t}");
        }
    }

    /// statsmodels' fits on air_passengers (`tests/fixtures/forecast/make_ets_fixture.py`):
    /// every forecast step within 2%.
    #[test]
    fn matches_statsmodels_on_air_passengers() {
        let csv = include_str!("../../datasets/air_passengers.csv");
        let y: Vec<f64> = csv
            .lines()
            .skip(1)
            .take(132)
            .map(|l| l.split(',').nth(1).unwrap().trim().parse().unwrap())
            .collect();
        let fixture: serde_json::Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/forecast/ets_air_passengers.json"
        ))
        .unwrap();
        for case in fixture["cases"].as_array().unwrap() {
            let config = EtsConfig {
                trend: case["trend"].as_bool().unwrap(),
                damped: case["damped"].as_bool().unwrap(),
                season: match case["season"].as_str().unwrap() {
                    "mul" => Season::Multiplicative,
                    _ => Season::Additive,
                },
            };
            let fit = fit_ets(&y, config, 12).unwrap();
            assert_eq!(fit.config, config);
            let expected: Vec<f64> = case["forecast"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let ours = fit.forecast(12);
            for (h, (a, b)) in ours.iter().zip(&expected).enumerate() {
                assert!(
                    (a - b).abs() / b.abs() < 0.02,
                    "{}: step {} ours {a:.2}, statsmodels {b:.2} (alpha {:.4} beta {:.4} gamma {:.4} phi {:.4}, sse {:.0} vs {})",
                    config.describe(),
                    h + 1,
                    fit.alpha,
                    fit.beta,
                    fit.gamma,
                    fit.phi,
                    fit.sse,
                    case["sse"]
                );
            }
        }
    }

    #[test]
    fn short_or_non_positive_series_fall_back() {
        assert!(fit_ets(
            &[1.0, 2.0, 3.0],
            EtsConfig {
                trend: false,
                damped: false,
                season: Season::None
            },
            1
        )
        .is_none());
        let y: Vec<f64> = (0..30).map(|t| t as f64 - 5.0).collect();
        let fit = fit_ets(
            &y,
            EtsConfig {
                trend: true,
                damped: true,
                season: Season::Multiplicative,
            },
            12,
        )
        .unwrap();
        assert_eq!(fit.config.season, Season::None);
        assert!(fit.forecast(3).iter().all(|v| v.is_finite()));
    }
}
