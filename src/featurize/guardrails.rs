//! Data guardrails, after Azure AutoML's: checks on the training data reported as passed,
//! done (with what was done) or alerted (the user should look).

use serde::{Deserialize, Serialize};

use crate::data::{ColumnKind, Dataset, Schema, HIGH_CARDINALITY};

/// A class is "imbalanced" when it has fewer rows than this share of the largest class.
const IMBALANCE_RATIO: f64 = 0.2;
/// Fewest rows a class needs: stratified 10-fold cross-validation (Azure's default under
/// 1,000 rows) puts at least one row of each class in every fold.
const MIN_ROWS_PER_CLASS: usize = 10;

/// Outcome of one guardrail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardrailStatus {
    /// Nothing found.
    Passed,
    /// Something was found and handled automatically.
    Done,
    /// Something was found that the user should look at.
    Alerted,
}

impl GuardrailStatus {
    /// `passed`, `done` or `alerted`.
    pub fn name(self) -> &'static str {
        match self {
            GuardrailStatus::Passed => "passed",
            GuardrailStatus::Done => "done",
            GuardrailStatus::Alerted => "alerted",
        }
    }
}

/// One guardrail finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Guardrail {
    /// Which check (Azure's names: "Class balancing detection", ...).
    pub name: String,
    /// Passed, done or alerted.
    pub status: GuardrailStatus,
    /// What was found and done, naming the columns or classes.
    pub message: String,
}

fn guardrail(name: &str, status: GuardrailStatus, message: String) -> Guardrail {
    Guardrail {
        name: name.to_string(),
        status,
        message,
    }
}

/// Runs the guardrails on the training `data` with its `schema`. `class_counts` (label value,
/// rows) is given for classification and enables the class checks:
/// - "Class balancing detection": alerted when the smallest class has fewer than 20% of the rows
///   of the largest;
/// - "Too few rows per class": alerted when a class has fewer than 10 rows (too few for
///   stratified 10-fold cross-validation);
/// - "Missing feature values imputation": done (columns and counts) or passed;
/// - "High cardinality feature detection": done when categorical columns have more than 25
///   categories (frequency encoded) or free-text columns exist (hashed), else passed;
/// - "ID-like and constant columns": done (dropped columns) or passed.
pub fn run_guardrails(
    schema: &Schema,
    data: &Dataset,
    class_counts: Option<&[(String, usize)]>,
) -> Vec<Guardrail> {
    let mut out = Vec::new();
    if let Some(counts) = class_counts {
        out.push(class_balance(counts));
        out.push(rows_per_class(counts));
    }
    out.push(missing_values(schema, data));
    out.push(high_cardinality(schema));
    out.push(dropped_columns(schema));
    out
}

fn class_balance(counts: &[(String, usize)]) -> Guardrail {
    const NAME: &str = "Class balancing detection";
    let largest = counts.iter().max_by_key(|(_, c)| *c);
    let smallest = counts.iter().min_by_key(|(_, c)| *c);
    match (largest, smallest) {
        (Some((big, nb)), Some((small, ns))) if (*ns as f64) < IMBALANCE_RATIO * *nb as f64 => {
            guardrail(
                NAME,
                GuardrailStatus::Alerted,
                format!(
                    "imbalanced classes: '{small}' has {ns} rows, {:.1}% of the {nb} rows of '{big}' \
                     (alert below 20%); prefer a metric such as AUC_weighted or balanced_accuracy",
                    100.0 * *ns as f64 / (*nb).max(1) as f64
                ),
            )
        }
        _ => guardrail(
            NAME,
            GuardrailStatus::Passed,
            format!(
                "no imbalance: class rows {}",
                counts
                    .iter()
                    .map(|(k, c)| format!("'{k}' {c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    }
}

fn rows_per_class(counts: &[(String, usize)]) -> Guardrail {
    const NAME: &str = "Too few rows per class";
    let few: Vec<String> = counts
        .iter()
        .filter(|(_, c)| *c < MIN_ROWS_PER_CLASS)
        .map(|(k, c)| format!("'{k}' ({c} rows)"))
        .collect();
    if few.is_empty() {
        guardrail(
            NAME,
            GuardrailStatus::Passed,
            format!("every class has at least {MIN_ROWS_PER_CLASS} rows"),
        )
    } else {
        guardrail(
            NAME,
            GuardrailStatus::Alerted,
            format!(
                "classes with fewer than {MIN_ROWS_PER_CLASS} rows: {}; cross-validation folds may miss them and their scores are unreliable",
                few.join(", ")
            ),
        )
    }
}

fn missing_values(schema: &Schema, data: &Dataset) -> Guardrail {
    const NAME: &str = "Missing feature values imputation";
    let found: Vec<String> = schema
        .features()
        .filter_map(|c| {
            let missing = match data.column(&c.name) {
                Some(col) => (0..col.values.len())
                    .filter(|&i| col.values.is_missing(i))
                    .count(),
                None => c.missing,
            };
            (missing > 0).then(|| format!("{} ({missing} missing)", c.name))
        })
        .collect();
    if found.is_empty() {
        guardrail(
            NAME,
            GuardrailStatus::Passed,
            "no missing values in the feature columns".to_string(),
        )
    } else {
        guardrail(
            NAME,
            GuardrailStatus::Done,
            format!(
                "imputed (median for numbers, most frequent or a missing category otherwise) in {} column{}: {}",
                found.len(),
                if found.len() > 1 { "s" } else { "" },
                found.join(", ")
            ),
        )
    }
}

fn high_cardinality(schema: &Schema) -> Guardrail {
    const NAME: &str = "High cardinality feature detection";
    let mut found: Vec<String> = schema
        .features()
        .filter(|c| c.kind == ColumnKind::Categorical && c.distinct > HIGH_CARDINALITY)
        .map(|c| format!("{} ({} categories, frequency encoded)", c.name, c.distinct))
        .collect();
    found.extend(
        schema
            .features()
            .filter(|c| c.kind == ColumnKind::Text)
            .map(|c| format!("{} (free text, hashed word counts)", c.name)),
    );
    if found.is_empty() {
        guardrail(
            NAME,
            GuardrailStatus::Passed,
            "no high-cardinality features".to_string(),
        )
    } else {
        guardrail(NAME, GuardrailStatus::Done, found.join(", "))
    }
}

fn dropped_columns(schema: &Schema) -> Guardrail {
    const NAME: &str = "ID-like and constant columns";
    let dropped: Vec<String> = schema
        .columns
        .iter()
        .filter(|c| !c.kind.is_feature())
        .map(|c| format!("{} ({}: {})", c.name, c.kind.name(), c.reason))
        .collect();
    if dropped.is_empty() {
        guardrail(
            NAME,
            GuardrailStatus::Passed,
            "no ID-like or constant columns".to_string(),
        )
    } else {
        guardrail(
            NAME,
            GuardrailStatus::Done,
            format!("dropped from the features: {}", dropped.join(", ")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{infer_schema, Column, ColumnValues};
    use std::collections::BTreeMap;

    fn data() -> Dataset {
        let n = 40;
        let cities: Vec<Option<String>> = (0..n)
            .map(|i| (i != 5).then(|| format!("city{}", i % 30)))
            .collect();
        Dataset::new(vec![
            Column {
                name: "row".into(),
                values: ColumnValues::Numeric((1..=n).map(|i| i as f64).collect()),
            },
            Column {
                name: "x".into(),
                values: ColumnValues::Numeric(
                    (0..n)
                        .map(|i| {
                            if i % 10 == 0 {
                                f64::NAN
                            } else {
                                i as f64 * 0.5
                            }
                        })
                        .collect(),
                ),
            },
            Column {
                name: "city".into(),
                values: ColumnValues::Text(cities),
            },
            Column {
                name: "same".into(),
                values: ColumnValues::Numeric(vec![3.0; n]),
            },
            Column {
                name: "y".into(),
                values: ColumnValues::Numeric((0..n).map(|i| (i % 2) as f64).collect()),
            },
        ])
        .expect("dataset")
    }

    fn find<'a>(all: &'a [Guardrail], name: &str) -> &'a Guardrail {
        all.iter().find(|g| g.name == name).expect(name)
    }

    #[test]
    fn findings_are_reported() {
        let data = data();
        let schema = infer_schema(&data, "y", &BTreeMap::new()).expect("schema");
        let counts = vec![("a".to_string(), 100), ("b".to_string(), 15)];
        let all = run_guardrails(&schema, &data, Some(&counts));
        assert_eq!(all.len(), 5);
        let balance = find(&all, "Class balancing detection");
        assert_eq!(balance.status, GuardrailStatus::Alerted);
        assert!(
            balance.message.contains("'b' has 15 rows"),
            "{}",
            balance.message
        );
        assert_eq!(
            find(&all, "Too few rows per class").status,
            GuardrailStatus::Passed
        );
        let missing = find(&all, "Missing feature values imputation");
        assert_eq!(missing.status, GuardrailStatus::Done);
        assert!(
            missing.message.contains("x (4 missing)"),
            "{}",
            missing.message
        );
        assert!(
            missing.message.contains("city (1 missing)"),
            "{}",
            missing.message
        );
        let high = find(&all, "High cardinality feature detection");
        assert_eq!(high.status, GuardrailStatus::Done);
        assert!(
            high.message.contains("city (30 categories"),
            "{}",
            high.message
        );
        let dropped = find(&all, "ID-like and constant columns");
        assert_eq!(dropped.status, GuardrailStatus::Done);
        assert!(
            dropped.message.contains("row (id_like"),
            "{}",
            dropped.message
        );
        assert!(
            dropped.message.contains("same (constant"),
            "{}",
            dropped.message
        );
    }

    #[test]
    fn clean_data_passes() {
        let data = Dataset::new(vec![
            Column {
                name: "x".into(),
                values: ColumnValues::Numeric(vec![1.5, 2.5, 3.5, 1.5]),
            },
            Column {
                name: "y".into(),
                values: ColumnValues::Numeric(vec![0.0, 1.0, 0.0, 1.0]),
            },
        ])
        .expect("dataset");
        let schema = infer_schema(&data, "y", &BTreeMap::new()).expect("schema");
        let counts = vec![("0".to_string(), 8), ("1".to_string(), 12)];
        let all = run_guardrails(&schema, &data, Some(&counts));
        assert_eq!(
            find(&all, "Class balancing detection").status,
            GuardrailStatus::Passed
        );
        assert_eq!(
            find(&all, "Too few rows per class").status,
            GuardrailStatus::Alerted
        );
        for g in &all[2..] {
            assert_eq!(g.status, GuardrailStatus::Passed, "{}", g.name);
        }
        // Regression: no class checks.
        assert_eq!(run_guardrails(&schema, &data, None).len(), 3);
    }
}
