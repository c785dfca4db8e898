//! Dynamic harmonic regression, fitted per series: the level as a least-squares fit of an
//! intercept, an optional linear trend, Fourier terms of every season the history covers
//! twice, and the known features (each standardized, with its square, so a U-shaped effect
//! such as temperature on energy demand fits), plus an AR(1) correction: the fit's residual at
//! the origin decays by `phi^h` over the steps ahead (an anomaly such as a hot day persists for
//! a while). A second residual lag at the shortest season (`e[t-m]`, the same hour yesterday)
//! was tried and scored worse in cross-validation on the hourly and daily bench series.
//!
//! Why it is here: long seasons (365 daily values, 168 hourly ones) are where exponential
//! smoothing and seasonal-naive forecasts are weakest — one seasonal state per position, each
//! seen once a cycle, so the forecast copies last year's noise — while a few smooth harmonics
//! average every cycle of the window into one profile (a climatology for daily temperatures),
//! and several seasons (daily and weekly) and the known features combine additively. Hyndman &
//! Athanasopoulos, *Forecasting: Principles and Practice*, section 10.5 (ARIMA errors there;
//! AR(1) here, which keeps the fit to two small linear solves).
//!
//! Time is the step index of the series, so a fit forecasts from positions alone; a season of
//! 365 (daily data) is taken as 365.25 days and 52 (weekly data) as 365.25 / 7 weeks, the
//! calendar year they stand for. At most [`MAX_HISTORY`] recent values are used.

use serde::{Deserialize, Serialize};

/// Most recent values a fit uses.
pub const MAX_HISTORY: usize = 5000;

/// Most harmonics per season.
const MAX_HARMONICS: usize = 10;

/// Ridge penalty per value of the window on every standardized term but the intercept: enough
/// to keep collinear terms (a constant feature, a harmonic at the Nyquist frequency) solvable,
/// too small to shrink a real effect.
const RIDGE_PER_VALUE: f64 = 1e-3;

/// The settings of one harmonic regression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HarmonicConfig {
    /// A linear trend over the window.
    pub trend: bool,
    /// Fit on the last this many cycles of the longest season only (a relation that drifts,
    /// such as demand on temperature through the year, is then fitted on its recent regime);
    /// `None`: on up to [`MAX_HISTORY`] values.
    #[serde(default)]
    pub recent_cycles: Option<usize>,
    /// Each known feature also times the first harmonic (sine and cosine) of the shortest
    /// season: an effect that varies through the day (temperature on demand is larger in the
    /// afternoon) or the week.
    #[serde(default)]
    pub interactions: bool,
}

impl HarmonicConfig {
    /// The settings in one line.
    pub fn describe(&self) -> String {
        let window = match self.recent_cycles {
            Some(c) => format!(", window={c} cycles"),
            None => String::new(),
        };
        format!(
            "trend={}{window}{}",
            if self.trend { "linear" } else { "none" },
            if self.interactions {
                ", feature x season interactions"
            } else {
                ""
            }
        )
    }
}

/// A harmonic regression fitted on one series' history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HarmonicFit {
    /// Settings.
    pub config: HarmonicConfig,
    /// Values in the window (the origin is position `n - 1`).
    pub n: usize,
    /// Periods used (in steps) and their number of harmonics.
    pub periods: Vec<(f64, usize)>,
    /// Mean and standard deviation of each known feature over the window (`None`: constant,
    /// left out).
    pub features: Vec<Option<(f64, f64)>>,
    /// Coefficients, in design order.
    pub coef: Vec<f64>,
    /// Residual autoregression: lags and their coefficients (lag 1 only, see the header).
    pub ar: Vec<(usize, f64)>,
    /// The last residuals up to the origin (as many as the longest lag).
    pub recent_residuals: Vec<f64>,
}

/// The period in steps a season length stands for.
fn period_of(season: usize) -> f64 {
    match season {
        365 => 365.25,
        52 => 365.25 / 7.0,
        m => m as f64,
    }
}

impl HarmonicFit {
    /// Fits on `history` (not empty) with the known features' values over it (`features[j][i]`
    /// at position `i`, each as long as `history`), for the `seasons` given (lengths > 1).
    pub fn fit(
        history: &[f64],
        features: &[&[f64]],
        seasons: &[usize],
        config: HarmonicConfig,
    ) -> HarmonicFit {
        let longest = seasons.iter().copied().max().unwrap_or(1).max(1);
        let window = match config.recent_cycles {
            Some(c) => (c * longest).clamp(2 * longest, MAX_HISTORY),
            None => MAX_HISTORY,
        };
        let start = history.len().saturating_sub(window);
        let y = &history[start..];
        let n = y.len();
        let mut periods: Vec<(f64, usize)> = Vec::new();
        for &m in seasons {
            if m > 1 && n >= 2 * m && !periods.iter().any(|p| p.0 == period_of(m)) {
                periods.push((period_of(m), (m / 2).clamp(1, MAX_HARMONICS)));
            }
        }
        let feature_stats: Vec<Option<(f64, f64)>> = features
            .iter()
            .map(|f| {
                let window = &f[start..];
                let mean = window.iter().sum::<f64>() / n as f64;
                let var = window.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
                (var.sqrt() > 1e-9 && mean.is_finite()).then(|| (mean, var.sqrt()))
            })
            .collect();
        let mut fit = HarmonicFit {
            config,
            n,
            periods,
            features: feature_stats,
            coef: Vec::new(),
            ar: Vec::new(),
            recent_residuals: Vec::new(),
        };
        let mut row = Vec::new();
        let p = fit.terms(features.len());
        // Normal equations with a ridge on every term but the intercept.
        let mut ata = vec![0.0; p * p];
        let mut aty = vec![0.0; p];
        let mut known = vec![0.0; features.len()];
        for i in 0..n {
            for (k, f) in known.iter_mut().zip(features) {
                *k = f[start + i];
            }
            row.clear();
            fit.design(i, &known, &mut row);
            for a in 0..p {
                aty[a] += row[a] * y[i];
                for b in a..p {
                    ata[a * p + b] += row[a] * row[b];
                }
            }
        }
        for a in 0..p {
            for b in 0..a {
                ata[a * p + b] = ata[b * p + a];
            }
            if a > 0 {
                ata[a * p + a] += RIDGE_PER_VALUE * n as f64;
            }
        }
        fit.coef = solve(ata, aty, p).unwrap_or_else(|| {
            let mut c = vec![0.0; p];
            c[0] = y.iter().sum::<f64>() / n as f64;
            c
        });
        let mut residuals = Vec::with_capacity(n);
        for i in 0..n {
            for (k, f) in known.iter_mut().zip(features) {
                *k = f[start + i];
            }
            residuals.push(y[i] - fit.level(i, &known, &mut row));
        }
        let lags = [1];
        fit.ar = residual_autoregression(&residuals, &lags);
        let keep = lags.iter().copied().max().unwrap_or(1).min(n);
        fit.recent_residuals = residuals[n - keep..].to_vec();
        fit
    }

    /// Number of terms of the design with `n_features` known features.
    fn terms(&self, n_features: usize) -> usize {
        1 + usize::from(self.config.trend)
            + self.periods.iter().map(|p| 2 * p.1).sum::<usize>()
            + self.features_per_known() * self.features.iter().take(n_features).flatten().count()
    }

    /// Terms per known feature: the value and its square, and two interactions with the
    /// shortest season when asked and fitted.
    fn features_per_known(&self) -> usize {
        if self.config.interactions && !self.periods.is_empty() {
            4
        } else {
            2
        }
    }

    /// Appends the design row of window position `t` (may lie past the window) with the known
    /// features `known` (missing or non-finite values count as their mean).
    fn design(&self, t: usize, known: &[f64], out: &mut Vec<f64>) {
        out.push(1.0);
        let n = self.n as f64;
        if self.config.trend {
            out.push((t as f64 - (n - 1.0) / 2.0) / n.max(1.0));
        }
        for &(period, harmonics) in &self.periods {
            for k in 1..=harmonics {
                let angle = std::f64::consts::TAU * k as f64 * t as f64 / period;
                out.push(angle.sin());
                out.push(angle.cos());
            }
        }
        // The first harmonic of the shortest period, for the interactions.
        let first = self
            .periods
            .iter()
            .map(|p| p.0)
            .reduce(f64::min)
            .filter(|_| self.config.interactions)
            .map(|period| std::f64::consts::TAU * t as f64 / period);
        for (stats, value) in self.features.iter().zip(known) {
            if let Some((mean, sd)) = stats {
                let z = if value.is_finite() {
                    (value - mean) / sd
                } else {
                    0.0
                };
                out.push(z);
                out.push(z * z);
                if let Some(angle) = first {
                    out.push(z * angle.sin());
                    out.push(z * angle.cos());
                }
            }
        }
    }

    fn level(&self, t: usize, known: &[f64], row: &mut Vec<f64>) -> f64 {
        row.clear();
        self.design(t, known, row);
        row.iter().zip(&self.coef).map(|(a, b)| a * b).sum()
    }

    /// The forecast `step` (>= 1) steps after the origin, with the known features at that
    /// step.
    pub fn forecast(&self, step: usize, known: &[f64]) -> f64 {
        self.forecast_rolled(0, &self.recent_residuals, step, known)
    }

    /// The residual of an actual value observed `advanced` (>= 1) steps after the fit's origin,
    /// with the known features at that step: the actual less the fitted level there.
    pub fn residual_after(&self, advanced: usize, actual: f64, known: &[f64]) -> f64 {
        let mut row = Vec::new();
        actual - self.level(self.n - 1 + advanced, known, &mut row)
    }

    /// The forecast `step` steps after a later origin `advanced` steps after the fit's own
    /// (rolling forecasts), the coefficients unchanged: `recent` are the residuals up to that
    /// origin ([`HarmonicFit::residual_after`] of the actual values; the fit's own
    /// `recent_residuals` when `advanced` is 0).
    pub fn forecast_rolled(
        &self,
        advanced: usize,
        recent: &[f64],
        step: usize,
        known: &[f64],
    ) -> f64 {
        let mut row = Vec::new();
        let t = self.n - 1 + advanced + step;
        self.level(t, known, &mut row) + self.residual_forecast(recent, step)
    }

    /// The residual `step` steps after the origin, by running the autoregression forward from
    /// the residuals `recent` up to the origin (forecast residuals stand in for the unobserved
    /// ones).
    fn residual_forecast(&self, recent: &[f64], step: usize) -> f64 {
        let mut path = recent.to_vec();
        let base = path.len();
        for _ in 0..step {
            let t = path.len();
            let next = self
                .ar
                .iter()
                .map(|&(lag, c)| t.checked_sub(lag).map_or(0.0, |i| c * path[i]))
                .sum();
            path.push(next);
        }
        path[base + step - 1]
    }
}

/// Least-squares coefficients of `e[t]` on `e[t - lag]` for each lag (no intercept), scaled
/// down when their absolute sum reaches 1 so the forecast residual decays.
fn residual_autoregression(residuals: &[f64], lags: &[usize]) -> Vec<(usize, f64)> {
    let p = lags.len();
    let longest = lags.iter().copied().max().unwrap_or(1);
    let mut ata = vec![0.0; p * p];
    let mut aty = vec![0.0; p];
    for t in longest..residuals.len() {
        for a in 0..p {
            let xa = residuals[t - lags[a]];
            aty[a] += xa * residuals[t];
            for b in 0..p {
                ata[a * p + b] += xa * residuals[t - lags[b]];
            }
        }
    }
    // A touch of ridge keeps a short or constant residual series solvable.
    for a in 0..p {
        ata[a * p + a] = ata[a * p + a] * (1.0 + 1e-6) + 1e-12;
    }
    let mut coef = solve(ata, aty, p).unwrap_or_else(|| vec![0.0; p]);
    let total: f64 = coef.iter().map(|c| c.abs()).sum();
    if total >= 0.99 {
        coef.iter_mut().for_each(|c| *c *= 0.99 / total);
    }
    lags.iter().copied().zip(coef).collect()
}

/// Solves the symmetric positive definite system `a x = b` (`a` row-major, `p` by `p`) by
/// Cholesky; `None` when it is not positive definite.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>, p: usize) -> Option<Vec<f64>> {
    for j in 0..p {
        let mut d = a[j * p + j];
        for k in 0..j {
            d -= a[j * p + k] * a[j * p + k];
        }
        if d <= 1e-12 || !d.is_finite() {
            return None;
        }
        let d = d.sqrt();
        a[j * p + j] = d;
        for i in j + 1..p {
            let mut s = a[i * p + j];
            for k in 0..j {
                s -= a[i * p + k] * a[j * p + k];
            }
            a[i * p + j] = s / d;
        }
    }
    for i in 0..p {
        let mut s = b[i];
        for k in 0..i {
            s -= a[i * p + k] * b[k];
        }
        b[i] = s / a[i * p + i];
    }
    for i in (0..p).rev() {
        let mut s = b[i];
        for k in i + 1..p {
            s -= a[k * p + i] * b[k];
        }
        b[i] = s / a[i * p + i];
    }
    Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_seasonal_profile_and_a_feature_effect() {
        let n = 400;
        let x: Vec<f64> = (0..n + 10).map(|t| ((t * 37) % 17) as f64).collect();
        let truth = |t: usize| {
            20.0 + 0.01 * t as f64
                + 5.0 * (std::f64::consts::TAU * t as f64 / 24.0).sin()
                + 0.3 * x[t]
        };
        let y: Vec<f64> = (0..n).map(truth).collect();
        let fit = HarmonicFit::fit(
            &y,
            &[&x[..n]],
            &[24],
            HarmonicConfig {
                trend: true,
                recent_cycles: None,
                interactions: true,
            },
        );
        for step in 1..=10 {
            let f = fit.forecast(step, &[x[n - 1 + step]]);
            assert!(
                (f - truth(n - 1 + step)).abs() < 0.2,
                "step {step}: {f} vs {}",
                truth(n - 1 + step)
            );
        }
        // A constant feature and a history shorter than two seasons still fit.
        let short = HarmonicFit::fit(&[3.0, 4.0, 5.0], &[&[1.0, 1.0, 1.0]], &[24], {
            HarmonicConfig {
                trend: false,
                recent_cycles: Some(8),
                interactions: false,
            }
        });
        assert!(short.periods.is_empty());
        assert!(short.forecast(1, &[1.0]).is_finite());
    }

    #[test]
    fn cholesky_solves() {
        let x = solve(vec![4.0, 2.0, 2.0, 3.0], vec![2.0, 1.0], 2).unwrap();
        assert!((x[0] - 0.5).abs() < 1e-12 && x[1].abs() < 1e-12);
        assert!(solve(vec![0.0], vec![1.0], 1).is_none());
    }
}
