//! The label column turned into training targets, and back into the label's own values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::data::{format_number, Column, ColumnValues};
use crate::error::{AutotabError, Result};
use crate::models::TargetRef;
use crate::task::Task;

/// How predictions map back to label values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LabelEncoding {
    /// Classification: class `i` is `classes[i]`; `numeric` when the label column held numbers.
    Classes {
        /// Class values as text, in index order (numbers sorted numerically, text lexically).
        classes: Vec<String>,
        /// Whether the label column was numeric (predictions are then written as numbers).
        numeric: bool,
    },
    /// Regression: predictions are the values themselves.
    Values,
}

impl LabelEncoding {
    /// The class names, empty for regression.
    pub fn classes(&self) -> &[String] {
        match self {
            LabelEncoding::Classes { classes, .. } => classes,
            LabelEncoding::Values => &[],
        }
    }
}

/// Owned targets of some rows.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// Class indices with the total number of classes.
    Classes(Vec<usize>, usize),
    /// Real values.
    Values(Vec<f64>),
}

impl Targets {
    /// A borrowed view for training.
    pub fn as_ref(&self) -> TargetRef<'_> {
        match self {
            Targets::Classes(labels, n) => TargetRef::Classes {
                labels,
                n_classes: *n,
            },
            Targets::Values(v) => TargetRef::Values(v),
        }
    }

    /// The targets of the rows at `indices`.
    pub fn select(&self, indices: &[usize]) -> Targets {
        match self {
            Targets::Classes(labels, n) => {
                Targets::Classes(indices.iter().map(|&i| labels[i]).collect(), *n)
            }
            Targets::Values(v) => Targets::Values(indices.iter().map(|&i| v[i]).collect()),
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes(l, _) => l.len(),
            Targets::Values(v) => v.len(),
        }
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Guesses the task from the label: text or boolean labels, or integer labels with few
/// distinct values, are classification; other numbers are regression.
pub fn infer_task(label: &Column) -> Task {
    match &label.values {
        ColumnValues::Text(_) => Task::Classification,
        ColumnValues::Numeric(v) => {
            let present: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
            let integers = present.iter().all(|x| x.fract() == 0.0);
            let mut distinct: Vec<i64> = present.iter().map(|x| *x as i64).collect();
            distinct.sort_unstable();
            distinct.dedup();
            if integers && distinct.len() <= 20.min(present.len() / 5).max(2) {
                Task::Classification
            } else {
                Task::Regression
            }
        }
    }
}

/// Encodes the label column for `task`. Returns the encoding, the targets of the rows whose
/// label is present, and the indices of those rows.
pub fn encode_label(label: &Column, task: Task) -> Result<(LabelEncoding, Targets, Vec<usize>)> {
    let kept: Vec<usize> = (0..label.values.len())
        .filter(|&i| !label.values.is_missing(i))
        .collect();
    if kept.is_empty() {
        return Err(AutotabError::data(format!(
            "label column '{}' has no values",
            label.name
        )));
    }
    match task {
        Task::Classification => {
            let numeric = matches!(label.values, ColumnValues::Numeric(_));
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            let texts: Vec<String> = kept
                .iter()
                .map(|&i| label.values.text_at(i).unwrap_or_default())
                .collect();
            for t in &texts {
                *counts.entry(t.clone()).or_default() += 1;
            }
            let mut classes: Vec<String> = counts.keys().cloned().collect();
            if numeric {
                classes.sort_by(|a, b| {
                    let (x, y) = (
                        a.parse::<f64>().unwrap_or(0.0),
                        b.parse::<f64>().unwrap_or(0.0),
                    );
                    x.total_cmp(&y)
                });
            }
            if classes.len() < 2 {
                return Err(AutotabError::data(format!(
                    "label column '{}' has a single class ('{}'): classification needs at least two",
                    label.name, classes[0]
                )));
            }
            let index: BTreeMap<&str, usize> = classes
                .iter()
                .enumerate()
                .map(|(i, c)| (c.as_str(), i))
                .collect();
            let labels = texts.iter().map(|t| index[t.as_str()]).collect();
            let n = classes.len();
            Ok((
                LabelEncoding::Classes { classes, numeric },
                Targets::Classes(labels, n),
                kept,
            ))
        }
        Task::Regression | Task::Forecasting => {
            let values: Vec<f64> = match &label.values {
                ColumnValues::Numeric(v) => kept.iter().map(|&i| v[i]).collect(),
                ColumnValues::Text(v) => {
                    let mut values = Vec::with_capacity(kept.len());
                    for &i in &kept {
                        let text = v[i].as_deref().unwrap_or_default();
                        let x: f64 = text.trim().parse().map_err(|_| {
                            AutotabError::data(format!(
                                "{task} needs a numeric label, but column '{}' holds '{text}' (row {})",
                                label.name,
                                i + 1
                            ))
                        })?;
                        values.push(x);
                    }
                    values
                }
            };
            check_finite_label(&label.name, task, &values, &kept)?;
            Ok((LabelEncoding::Values, Targets::Values(values), kept))
        }
    }
}

/// Refuses non-finite regression targets (`inf`, `-inf`, `NaN` written as text) before any
/// training, naming the column, how many rows and the first of them (1-based data rows).
fn check_finite_label(name: &str, task: Task, values: &[f64], rows: &[usize]) -> Result<()> {
    let bad: Vec<usize> = values
        .iter()
        .zip(rows)
        .filter(|(v, _)| !v.is_finite())
        .map(|(_, &row)| row + 1)
        .collect();
    let Some(&first) = bad.first() else {
        return Ok(());
    };
    Err(AutotabError::data(format!(
        "label column '{name}' holds {} non-finite value{} (inf or NaN; first in row {first}): \
         {task} needs finite numbers; fix or remove those rows",
        bad.len(),
        if bad.len() == 1 { "" } else { "s" }
    )))
}

/// Writes class `index` as the label's own value.
pub fn class_name(encoding: &LabelEncoding, index: usize) -> String {
    match encoding {
        LabelEncoding::Classes { classes, .. } => classes.get(index).cloned().unwrap_or_default(),
        LabelEncoding::Values => format_number(index as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(values: &[&str]) -> Column {
        Column {
            name: "y".into(),
            values: ColumnValues::Text(values.iter().map(|v| Some(v.to_string())).collect()),
        }
    }

    #[test]
    fn numeric_classes_sort_numerically_and_keep_their_values() {
        let col = Column {
            name: "y".into(),
            values: ColumnValues::Numeric(vec![10.0, 2.0, 10.0, f64::NAN, 2.0]),
        };
        let (enc, t, kept) = encode_label(&col, Task::Classification).unwrap();
        assert_eq!(enc.classes(), ["2", "10"]);
        assert_eq!(t, Targets::Classes(vec![1, 0, 1, 0], 2));
        assert_eq!(kept, vec![0, 1, 2, 4]);
    }

    #[test]
    fn single_class_and_text_regression_are_errors() {
        assert!(encode_label(&text(&["a", "a"]), Task::Classification)
            .unwrap_err()
            .to_string()
            .contains("single class"));
        let err = encode_label(&text(&["1.5", "x"]), Task::Regression)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("numeric label") && err.contains("'x'"),
            "{err}"
        );
    }

    #[test]
    fn non_finite_regression_labels_are_refused_with_a_count() {
        let err = encode_label(&text(&["1.5", "inf", "2", "NaN", "-inf"]), Task::Regression)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("label column 'y'") && err.contains("3 non-finite values"),
            "{err}"
        );
        assert!(err.contains("first in row 2"), "{err}");
        let numeric = Column {
            name: "price".into(),
            values: ColumnValues::Numeric(vec![1.0, f64::INFINITY, 3.0, f64::NAN]),
        };
        let err = encode_label(&numeric, Task::Regression)
            .unwrap_err()
            .to_string();
        assert!(err.contains("'price' holds 1 non-finite value "), "{err}");
        assert!(encode_label(&text(&["1.5", "-2e3"]), Task::Regression).is_ok());
    }

    #[test]
    fn task_is_inferred_from_the_label() {
        assert_eq!(infer_task(&text(&["yes", "no"])), Task::Classification);
        let ints = Column {
            name: "y".into(),
            values: ColumnValues::Numeric((0..100).map(|i| (i % 3) as f64).collect()),
        };
        assert_eq!(infer_task(&ints), Task::Classification);
        let reals = Column {
            name: "y".into(),
            values: ColumnValues::Numeric((0..100).map(|i| i as f64 * 1.5).collect()),
        };
        assert_eq!(infer_task(&reals), Task::Regression);
    }
}
