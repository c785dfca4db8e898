//! Per-column imputation chosen by the user (Azure's `transformer_params.imputer`), overriding
//! the default fill of each column kind (median for numbers, most frequent value for booleans,
//! a `(missing)` category for categories).

use serde::{Deserialize, Serialize};

use crate::error::{AutotabError, Result};

/// How missing cells of one column are filled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "strategy", rename_all = "snake_case")]
pub enum Imputation {
    /// The mean of the training values (numeric and boolean columns).
    Mean,
    /// The median of the training values (numeric, boolean and date columns).
    Median,
    /// The most frequent training value (any column kind).
    MostFrequent,
    /// A fixed value (a number for numeric columns).
    Constant {
        /// The value written into missing cells.
        fill_value: String,
    },
    /// The previous row's value: only meaningful in time order, so only for forecasting.
    ForwardFill,
}

impl Imputation {
    /// The strategy's Azure name (`mean`, `median`, `most_frequent`, `constant`, `ffill`).
    pub fn name(&self) -> &'static str {
        match self {
            Imputation::Mean => "mean",
            Imputation::Median => "median",
            Imputation::MostFrequent => "most_frequent",
            Imputation::Constant { .. } => "constant",
            Imputation::ForwardFill => "ffill",
        }
    }

    /// One line for the model card: `x: constant 0`.
    pub fn describe(&self, column: &str) -> String {
        match self {
            Imputation::Constant { fill_value } => format!("{column}: constant '{fill_value}'"),
            other => format!("{column}: {}", other.name()),
        }
    }

    /// The error for a strategy that does not fit a column of `kind`.
    pub(crate) fn unfit(&self, column: &str, kind: &str) -> AutotabError {
        let why = match self {
            Imputation::ForwardFill => {
                "ffill fills from the previous row in time and only applies to forecasting"
                    .to_string()
            }
            other => format!("{} needs a numeric column", other.name()),
        };
        AutotabError::config(format!(
            "imputer for column '{column}' ({kind}): strategy {why}; use most_frequent or constant"
        ))
    }
}

/// The fill of a numeric column: `present` holds its non-missing training values.
pub(crate) fn numeric_fill(
    imputation: &Imputation,
    column: &str,
    present: &mut [f64],
) -> Result<f64> {
    match imputation {
        Imputation::Mean => Ok(if present.is_empty() {
            0.0
        } else {
            present.iter().sum::<f64>() / present.len() as f64
        }),
        Imputation::Median => Ok(median(present).unwrap_or(0.0)),
        Imputation::MostFrequent => Ok(most_frequent_number(present).unwrap_or(0.0)),
        Imputation::Constant { fill_value } => crate::data::parse_number(fill_value)
            .ok_or_else(|| {
                AutotabError::config(format!(
                    "imputer for column '{column}': fill_value '{fill_value}' is not a number, and the column is numeric"
                ))
            }),
        Imputation::ForwardFill => Err(imputation.unfit(column, "numeric")),
    }
}

/// The median of `values` (sorted in place), `None` when empty.
pub(crate) fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

/// The most frequent value (the smallest among ties), `None` when empty.
fn most_frequent_number(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let mut best: Option<(f64, usize)> = None;
    let mut i = 0;
    while i < values.len() {
        let run = values[i..].iter().take_while(|&&v| v == values[i]).count();
        if best.is_none_or(|(_, n)| run > n) {
            best = Some((values[i], run));
        }
        i += run;
    }
    best.map(|(v, _)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_strategies() {
        let values = [1.0, 2.0, 2.0, 7.0];
        let fill = |s: Imputation| numeric_fill(&s, "x", &mut values.clone());
        assert_eq!(fill(Imputation::Mean).unwrap(), 3.0);
        assert_eq!(fill(Imputation::Median).unwrap(), 2.0);
        assert_eq!(fill(Imputation::MostFrequent).unwrap(), 2.0);
        let constant = Imputation::Constant {
            fill_value: "-1.5".into(),
        };
        assert_eq!(fill(constant).unwrap(), -1.5);
        let err = fill(Imputation::Constant {
            fill_value: "abc".into(),
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("'x'") && err.contains("'abc'"), "{err}");
        let err = fill(Imputation::ForwardFill).unwrap_err().to_string();
        assert!(err.contains("forecasting"), "{err}");
        assert_eq!(numeric_fill(&Imputation::Mean, "x", &mut []).unwrap(), 0.0);
    }
}
