//! Rolling-origin cross-validation: `n_folds` forecast origins, `step` apart, the last one
//! `horizon` steps before the end of each series; each fold forecasts the `horizon` steps
//! after its origin from the history up to it. Never a shuffled split.

use serde::{Deserialize, Serialize};

use super::series::SeriesSet;
use crate::error::{AutotabError, Result};

/// One rolling origin: for each series, the position (in its values) of the last step the
/// fold may use, or `None` when the series is too short for this fold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fold {
    /// Origin position per series.
    pub origins: Vec<Option<usize>>,
}

/// Folds oldest first. A series takes part in a fold when its history up to the origin has at
/// least `min_history` values; a fold no series takes part in is left out.
pub fn rolling_origin_folds(
    set: &SeriesSet,
    horizon: usize,
    n_folds: usize,
    step: usize,
    min_history: usize,
) -> Result<Vec<Fold>> {
    let mut folds = Vec::new();
    for k in (0..n_folds.max(1)).rev() {
        let origins: Vec<Option<usize>> = set
            .series
            .iter()
            .map(|s| {
                let back = horizon + k * step;
                let origin = s.values.len().checked_sub(back + 1)?;
                (origin + 1 >= min_history).then_some(origin)
            })
            .collect();
        if origins.iter().any(Option::is_some) {
            folds.push(Fold { origins });
        }
    }
    if folds.is_empty() {
        let longest = set.series.iter().map(|s| s.values.len()).max().unwrap_or(0);
        return Err(AutotabError::data(format!(
            "no series is long enough for one rolling-origin fold: the longest has {longest} steps, a fold needs {} (history of {min_history} plus the horizon of {horizon})",
            min_history + horizon
        )));
    }
    Ok(folds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::series::Series;
    use crate::forecast::time::{Frequency, Grid};

    fn set(lengths: &[usize]) -> SeriesSet {
        SeriesSet {
            grid: Grid {
                frequency: Frequency::Fixed { seconds: 86_400 },
                origin: chrono::NaiveDate::from_ymd_opt(2020, 1, 1)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap(),
            },
            series: lengths
                .iter()
                .map(|&n| Series {
                    key: vec![n.to_string()],
                    start: 0,
                    values: vec![0.0; n],
                    features: Vec::new(),
                })
                .collect(),
            feature_names: Vec::new(),
            dropped: Vec::new(),
            guardrails: Vec::new(),
        }
    }

    #[test]
    fn origins_step_back_from_the_end_and_skip_short_series() {
        let folds = rolling_origin_folds(&set(&[20, 9]), 3, 3, 2, 4).unwrap();
        let firsts: Vec<Option<usize>> = folds.iter().map(|f| f.origins[0]).collect();
        assert_eq!(firsts, vec![Some(12), Some(14), Some(16)]);
        // The short series (9 values) joins only the folds with 4 values of history.
        let seconds: Vec<Option<usize>> = folds.iter().map(|f| f.origins[1]).collect();
        assert_eq!(seconds, vec![None, Some(3), Some(5)]);
        // Each fold's test steps come after its origin and stay inside the series.
        for f in &folds {
            let o = f.origins[0].unwrap();
            assert!(o + 3 < 20);
        }
        assert!(rolling_origin_folds(&set(&[5]), 3, 2, 1, 4).is_err());
    }
}
