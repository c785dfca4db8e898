//! The baselines every forecasting search tries first (Azure's names): Naive (the last value),
//! SeasonalNaive (the last value of the same season), Average (the mean of the history) and
//! SeasonalAverage (the mean of the history's values at the same season position).

use serde::{Deserialize, Serialize};

use super::features::seasonal_naive_value;

/// One of the four baselines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Baseline {
    /// The last observed value.
    Naive,
    /// The last observed value at the same season position.
    SeasonalNaive,
    /// The mean of the history.
    Average,
    /// The mean of the history at the same season position.
    SeasonalAverage,
}

impl Baseline {
    /// Azure's name.
    pub fn name(self) -> &'static str {
        match self {
            Baseline::Naive => "Naive",
            Baseline::SeasonalNaive => "SeasonalNaive",
            Baseline::Average => "Average",
            Baseline::SeasonalAverage => "SeasonalAverage",
        }
    }

    /// Forecasts steps `1..=horizon` after the end of `history` (not empty).
    pub fn forecast(self, history: &[f64], horizon: usize, season: usize) -> Vec<f64> {
        let n = history.len();
        let m = if season <= n { season.max(1) } else { 1 };
        match self {
            Baseline::Naive => vec![history[n - 1]; horizon],
            Baseline::SeasonalNaive => (1..=horizon)
                .map(|h| seasonal_naive_value(history, h, m, 0).unwrap_or(history[n - 1]))
                .collect(),
            Baseline::Average => vec![history.iter().sum::<f64>() / n as f64; horizon],
            Baseline::SeasonalAverage => (1..=horizon)
                .map(|h| {
                    let position = (n - 1 + h) % m;
                    let same: Vec<f64> = (position..n).step_by(m).map(|i| history[i]).collect();
                    same.iter().sum::<f64>() / same.len().max(1) as f64
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baselines_forecast_as_named() {
        let h = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(Baseline::Naive.forecast(&h, 2, 3), vec![6.0, 6.0]);
        assert_eq!(
            Baseline::SeasonalNaive.forecast(&h, 4, 3),
            vec![4.0, 5.0, 6.0, 4.0]
        );
        assert_eq!(Baseline::Average.forecast(&h, 1, 3), vec![3.5]);
        assert_eq!(
            Baseline::SeasonalAverage.forecast(&h, 3, 3),
            vec![2.5, 3.5, 4.5]
        );
        // A season longer than the history falls back to the last value.
        assert_eq!(Baseline::SeasonalNaive.forecast(&h, 2, 12), vec![6.0, 6.0]);
    }
}
