//! Featurization: turns a [`Dataset`] into the `f64` matrix learners train on.
//!
//! [`fit_featurizer`] learns everything from the training rows it is given (medians, category
//! lists, frequencies), so the engine fits it once per fold without leakage; the
//! [`FittedFeaturizer`] is plain serde data saved with the model and applied to new rows by
//! [`FittedFeaturizer::transform`]. No scaling happens here: learners that need it scale
//! themselves.
//!
//! Mode `auto`, per column kind:
//! - numeric: median imputation, plus a `col__missing` 0/1 column when the training rows had
//!   any missing value;
//! - boolean: 0/1 (`true`/`yes`/`y`/`t`/`1` are 1; two other values in sorted order), the most
//!   frequent value for missing cells, plus a `col__missing` column as for numbers;
//! - categorical with at most `max_one_hot_categories` categories: one-hot (`col=value`), with a
//!   `col=(missing)` column when the training rows had missing cells; an unseen category is all
//!   zeros;
//! - categorical with more categories: frequency encoding (`col__frequency`, the share of training
//!   rows with that value; unseen = 0) plus a one-hot of the `high_cardinality_top_k` most
//!   frequent categories;
//! - with a binary or regression label, a categorical column of three or more categories also
//!   gets `col__target_order`: its categories ordered by their (smoothed) training label mean,
//!   so a tree can split them into two groups with one threshold (see [`target_order`]);
//! - datetime: year, month, day, weekday (0 = Monday) and, when the training values have times,
//!   hour; missing dates take the training median of each part, plus `col__missing`;
//! - free text: length in characters, word count and `text_hash_buckets` hashed word counts;
//! - ID-like and constant columns are dropped.
//!
//! Mode `off`: numeric and boolean columns only, no imputation; any other feature kind or a
//! missing value is an error starting with "featurization is off".
//!
//! Per-column [`Imputation`]s (Azure's `transformer_params.imputer`) replace a column's default
//! fill in either mode; `one_hot: false` (Azure's blocked `OneHotEncoder`) frequency-encodes
//! every categorical column, `target_order: false` (blocked `CatTargetEncoder`) leaves out the
//! label order, and `text_hash_buckets: 0` (blocked `CountVectorizer`) keeps only
//! the length and word count of free text.

mod encode;
mod guardrails;
mod impute;
mod target_order;

pub use guardrails::{run_guardrails, Guardrail, GuardrailStatus};
pub use impute::Imputation;

use std::collections::BTreeMap;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::data::{ColumnKind, ColumnSchema, Dataset, Schema};
use crate::error::{AutotabError, Result};
use crate::target::Targets;
use encode::{Encoder, Plan};

/// Whether autotab featurizes the data (`auto`) or takes numeric columns as they are (`off`).
/// Names (the serde form too) live in the `strum` attributes.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
    strum::EnumMessage,
    strum::VariantArray,
    strum::VariantNames,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case", ascii_case_insensitive)]
pub enum FeaturizationMode {
    /// Impute, encode categories, dates and text.
    #[default]
    Auto,
    /// Numeric and boolean columns only; missing values are errors.
    Off,
}

impl FeaturizationMode {
    /// Parses `auto` or `off` (any case, surrounding spaces ignored).
    pub fn parse(name: &str) -> Result<FeaturizationMode> {
        name.trim().parse().map_err(|_| {
            AutotabError::config(format!(
                "unknown featurization mode '{name}': expected {}",
                <FeaturizationMode as strum::VariantNames>::VARIANTS.join(" or ")
            ))
        })
    }
}

crate::names::value_enum!(
    FeaturizationMode,
    <FeaturizationMode as strum::VariantArray>::VARIANTS
);

/// Settings of the featurizer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FeaturizerConfig {
    /// `auto` or `off`.
    pub mode: FeaturizationMode,
    /// Categorical columns with at most this many categories (in the training rows) are
    /// one-hot encoded; above it they are frequency encoded.
    pub max_one_hot_categories: usize,
    /// For high-cardinality columns, how many of the most frequent categories also get a
    /// one-hot column.
    pub high_cardinality_top_k: usize,
    /// Number of hashed word-count buckets per free-text column (0: none).
    pub text_hash_buckets: usize,
    /// Whether categorical columns may be one-hot encoded; when `false` every categorical
    /// column is frequency encoded only.
    pub one_hot: bool,
    /// Whether categorical columns also get their categories' label order
    /// (`col__target_order`) when the featurizer is fitted with the label.
    pub target_order: bool,
    /// Imputation chosen per column, replacing the kind's default fill.
    pub imputers: BTreeMap<String, Imputation>,
}

impl Default for FeaturizerConfig {
    fn default() -> Self {
        FeaturizerConfig {
            mode: FeaturizationMode::Auto,
            max_one_hot_categories: crate::data::HIGH_CARDINALITY,
            high_cardinality_top_k: 10,
            text_hash_buckets: 32,
            one_hot: true,
            target_order: true,
            imputers: BTreeMap::new(),
        }
    }
}

/// A featurizer fitted on training rows: turns datasets with the same columns into matrices.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FittedFeaturizer {
    mode: FeaturizationMode,
    encoders: Vec<Encoder>,
    feature_names: Vec<String>,
    input_columns: Vec<String>,
    dropped: Vec<(String, ColumnKind)>,
    /// The user's imputation choices that were applied, one line per column.
    #[serde(default)]
    imputed: Vec<String>,
}

/// Fits a featurizer on `train` (the training rows of one fold, or all rows for the final
/// model) following `schema`, without the label: no column gets a label order. The label
/// column, if present in `train`, is not used.
pub fn fit_featurizer(
    schema: &Schema,
    train: &Dataset,
    config: &FeaturizerConfig,
) -> Result<FittedFeaturizer> {
    fit_featurizer_with_label(schema, train, None, config)
}

/// [`fit_featurizer`] given the training rows' label (`targets`, one per row of `train`):
/// with a binary or regression label and `config.target_order`, categorical columns also get
/// their categories' label order (`col__target_order`).
pub fn fit_featurizer_with_label(
    schema: &Schema,
    train: &Dataset,
    targets: Option<&Targets>,
    config: &FeaturizerConfig,
) -> Result<FittedFeaturizer> {
    if train.n_rows() == 0 {
        return Err(AutotabError::data(
            "cannot fit the featurizer on zero training rows",
        ));
    }
    let order_by = match targets {
        Some(targets) if config.target_order && config.mode == FeaturizationMode::Auto => {
            target_order::ordering_values(targets)
        }
        _ => None,
    };
    if let Some(values) = &order_by {
        if values.len() != train.n_rows() {
            return Err(AutotabError::data(format!(
                "the featurizer was given {} labels for {} training rows",
                values.len(),
                train.n_rows()
            )));
        }
    }
    check_imputer_columns(schema, config)?;
    // Check every column's kind before fitting, so that mode off reports the column that
    // cannot be used rather than a missing value met earlier.
    let mut plans = Vec::new();
    let mut dropped = Vec::new();
    for column in &schema.columns {
        if !column.kind.is_feature() {
            dropped.push((column.name.clone(), column.kind));
        } else if let Some(plan) = column_plan(column, config)? {
            plans.push((column.name.as_str(), plan));
        }
    }
    let impute = config.mode == FeaturizationMode::Auto;
    let mut encoders = Vec::with_capacity(plans.len());
    let mut imputed = Vec::new();
    for (name, plan) in &plans {
        let values = &train.require(name)?.values;
        let imputation = config.imputers.get(*name);
        if let Some(i) = imputation {
            imputed.push(i.describe(name));
        }
        // A column the user chose an imputation for is imputed even in mode off.
        encoders.push(Encoder::fit(
            name,
            values,
            plan,
            impute || imputation.is_some(),
            imputation,
            order_by.as_deref(),
        )?);
    }
    let feature_names: Vec<String> = encoders.iter().flat_map(|e| e.feature_names()).collect();
    if feature_names.is_empty() {
        return Err(AutotabError::data(format!(
            "no feature columns left to train on: every column other than the label '{}' is ID-like or constant",
            schema.label
        )));
    }
    Ok(FittedFeaturizer {
        mode: config.mode,
        input_columns: encoders.iter().map(|e| e.column().to_string()).collect(),
        encoders,
        feature_names,
        dropped,
        imputed,
    })
}

/// Checks that every column named by an imputer is in the data.
fn check_imputer_columns(schema: &Schema, config: &FeaturizerConfig) -> Result<()> {
    for name in config.imputers.keys() {
        if name != &schema.label && schema.column(name).is_none() {
            return Err(AutotabError::config(format!(
                "imputer names column '{name}', which is not in the data; the columns are: {}",
                schema
                    .columns
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    Ok(())
}

/// The encoder to fit for a feature column (`None`: ID-like or constant, dropped); in mode off
/// a column that is neither numeric nor boolean is an error.
fn column_plan(column: &ColumnSchema, config: &FeaturizerConfig) -> Result<Option<Plan>> {
    Ok(Some(match (config.mode, column.kind) {
        (_, ColumnKind::Numeric) => Plan::Numeric,
        (_, ColumnKind::Boolean) => Plan::Boolean,
        (FeaturizationMode::Off, kind) => {
            return Err(AutotabError::config(format!(
                "featurization is off: column '{}' is {} and only numeric and boolean columns can be used as they are; \
                 drop it, override its kind, or use featurization auto",
                column.name,
                kind.name()
            )))
        }
        (FeaturizationMode::Auto, ColumnKind::Categorical) if config.one_hot => Plan::Categorical {
            max_one_hot: config.max_one_hot_categories,
            top_k: config.high_cardinality_top_k,
        },
        (FeaturizationMode::Auto, ColumnKind::Categorical) => Plan::Categorical {
            max_one_hot: 0,
            top_k: 0,
        },
        (FeaturizationMode::Auto, ColumnKind::Datetime) => Plan::Datetime,
        (FeaturizationMode::Auto, ColumnKind::Text) => Plan::Text {
            buckets: config.text_hash_buckets,
        },
        (FeaturizationMode::Auto, ColumnKind::IdLike | ColumnKind::Constant) => return Ok(None),
    }))
}

impl FittedFeaturizer {
    /// The feature matrix of `data`: one row per row, one column per [`Self::feature_names`]
    /// entry. Extra columns are ignored; a missing input column is an error naming it. In mode
    /// auto the output holds no NaN.
    pub fn transform(&self, data: &Dataset) -> Result<Array2<f64>> {
        let absent: Vec<&str> = self
            .input_columns
            .iter()
            .filter(|c| data.column(c).is_none())
            .map(String::as_str)
            .collect();
        if !absent.is_empty() {
            return Err(AutotabError::data(format!(
                "input is missing column{} {} (the model needs: {})",
                if absent.len() > 1 { "s" } else { "" },
                absent
                    .iter()
                    .map(|c| format!("'{c}'"))
                    .collect::<Vec<_>>()
                    .join(", "),
                self.input_columns.join(", ")
            )));
        }
        let n_rows = data.n_rows();
        let mut out = Array2::<f64>::zeros((n_rows, self.feature_names.len()));
        let mut offset = 0;
        for encoder in &self.encoders {
            let width = encoder.feature_names().len();
            let values = &data.require(encoder.column())?.values;
            let mut buffer = vec![0.0; width];
            for i in 0..n_rows {
                encoder.encode_row(values, i, &mut buffer)?;
                for (j, &x) in buffer.iter().enumerate() {
                    out[[i, offset + j]] = x;
                }
            }
            offset += width;
        }
        Ok(out)
    }

    /// The names of the output columns, in order.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// The raw input column each output column comes from, in [`Self::feature_names`] order
    /// (a column's one-hot, hashed or date parts all name it).
    pub fn feature_sources(&self) -> Vec<&str> {
        let mut sources = Vec::with_capacity(self.feature_names.len());
        for encoder in &self.encoders {
            let width = encoder.feature_names().len();
            sources.extend(std::iter::repeat_n(encoder.column(), width));
        }
        sources
    }

    /// The raw input columns [`Self::transform`] needs, in schema order.
    pub fn input_columns(&self) -> &[String] {
        &self.input_columns
    }

    /// The mode this featurizer was fitted in.
    pub fn mode(&self) -> FeaturizationMode {
        self.mode
    }

    /// What was done, one line per group of columns.
    pub fn steps(&self) -> Vec<String> {
        let impute = self.mode == FeaturizationMode::Auto;
        let encoders: Vec<&Encoder> = self.encoders.iter().map(Encoder::unwrapped).collect();
        let ordered = self
            .encoders
            .iter()
            .filter(|e| e.ordered())
            .map(|e| e.column().to_string())
            .collect();
        let summaries = |summary: fn(&Encoder) -> Option<String>| -> Vec<String> {
            encoders.iter().filter_map(|e| summary(e)).collect()
        };
        let boolean_step = if impute {
            "mapped to 0/1, most frequent value for missing cells"
        } else {
            "mapped to 0/1"
        };
        let dropped = self
            .dropped
            .iter()
            .map(|(c, k)| format!("{c} ({})", k.name()))
            .collect();
        let groups: [(&str, &str, Vec<String>); 8] = [
            ("boolean", boolean_step, summaries(boolean_summary)),
            (
                "categorical",
                "one-hot encoded, unseen categories all zeros",
                summaries(one_hot_summary),
            ),
            (
                "high-cardinality categorical",
                "frequency encoded plus one-hot of the most frequent",
                summaries(frequency_summary),
            ),
            (
                "categories ordered by label mean",
                "one more column each, the order learned on the training rows",
                ordered,
            ),
            (
                "datetime",
                "split into parts, median of each part for missing dates",
                summaries(datetime_summary),
            ),
            (
                "free text",
                "length, word count and hashed word counts",
                summaries(text_summary),
            ),
            ("imputation chosen by the job", "", self.imputed.clone()),
            ("dropped", "", dropped),
        ];
        let mut steps: Vec<String> = numeric_step(&encoders, impute).into_iter().collect();
        steps.extend(
            groups
                .iter()
                .filter(|(_, _, columns)| !columns.is_empty())
                .map(|(group, step, columns)| {
                    let step = if step.is_empty() {
                        String::new()
                    } else {
                        format!("{step}: ")
                    };
                    format!("{group} ({}): {step}{}", columns.len(), columns.join(", "))
                }),
        );
        steps
    }
}

/// The `steps` line of the numeric columns: how they were kept and which got a missing
/// indicator; `None` without numeric columns.
fn numeric_step(encoders: &[&Encoder], impute: bool) -> Option<String> {
    let numeric: Vec<&Encoder> = encoders
        .iter()
        .copied()
        .filter(|e| matches!(e, Encoder::Numeric { .. }))
        .collect();
    if numeric.is_empty() {
        return None;
    }
    let mut line = format!(
        "numeric ({}): {}",
        numeric.len(),
        if impute {
            "kept as is, median imputation"
        } else {
            "kept as is"
        }
    );
    let flagged: Vec<String> = numeric
        .iter()
        .filter_map(|e| match e {
            Encoder::Numeric {
                column,
                indicator: true,
                train_missing,
                ..
            } => Some(format!("{column} ({train_missing} missing)")),
            _ => None,
        })
        .collect();
    if !flagged.is_empty() {
        line.push_str(&format!("; missing indicators for {}", flagged.join(", ")));
    }
    Some(line)
}

/// A boolean column in `steps`: which values map to 1 and how many were missing.
fn boolean_summary(encoder: &Encoder) -> Option<String> {
    let Encoder::Boolean {
        column,
        mapping,
        train_missing,
        ..
    } = encoder
    else {
        return None;
    };
    let ones: Vec<&str> = mapping
        .iter()
        .filter(|(_, &v)| v == 1.0)
        .map(|(k, _)| k.as_str())
        .collect();
    let mut s = format!("{column} ({} -> 1", ones.join("/"));
    if *train_missing > 0 {
        s.push_str(&format!(", {train_missing} missing"));
    }
    s.push(')');
    Some(s)
}

/// A one-hot encoded column in `steps`: its number of categories.
fn one_hot_summary(encoder: &Encoder) -> Option<String> {
    let Encoder::OneHot {
        column,
        categories,
        missing_category,
    } = encoder
    else {
        return None;
    };
    Some(format!(
        "{column} ({} categories{})",
        categories.len(),
        if *missing_category { " + missing" } else { "" }
    ))
}

/// A frequency encoded column in `steps`: its categories and how many got a one-hot.
fn frequency_summary(encoder: &Encoder) -> Option<String> {
    let Encoder::Frequency {
        column,
        distinct,
        top,
        ..
    } = encoder
    else {
        return None;
    };
    Some(format!(
        "{column} ({distinct} categories, top {} one-hot)",
        top.len()
    ))
}

/// A date column in `steps`: the parts it was split into.
fn datetime_summary(encoder: &Encoder) -> Option<String> {
    let Encoder::Datetime { column, hour, .. } = encoder else {
        return None;
    };
    Some(format!(
        "{column} (year, month, day, weekday{})",
        if *hour { ", hour" } else { "" }
    ))
}

/// A free-text column in `steps`: its number of hashed word buckets.
fn text_summary(encoder: &Encoder) -> Option<String> {
    let Encoder::Text { column, buckets } = encoder else {
        return None;
    };
    Some(format!("{column} ({buckets} hashed word buckets)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{infer_schema, load_table, Column, ColumnValues, LoadOptions};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn load(name: &str) -> Dataset {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("datasets")
            .join(name);
        load_table(&path, &LoadOptions::default()).expect("load")
    }

    fn small() -> Dataset {
        let text = |v: &[Option<&str>]| {
            ColumnValues::Text(v.iter().map(|s| s.map(String::from)).collect())
        };
        Dataset::new(vec![
            Column {
                name: "age".into(),
                values: ColumnValues::Numeric(vec![30.0, f64::NAN, 50.0, 40.0]),
            },
            Column {
                name: "smoker".into(),
                values: text(&[Some("yes"), Some("no"), None, Some("no")]),
            },
            Column {
                name: "color".into(),
                values: text(&[Some("red"), Some("blue"), Some("red"), None]),
            },
            Column {
                name: "y".into(),
                values: ColumnValues::Numeric(vec![1.0, 0.0, 1.0, 0.0]),
            },
        ])
        .expect("dataset")
    }

    fn schema(data: &Dataset, label: &str) -> Schema {
        infer_schema(data, label, &BTreeMap::new()).expect("schema")
    }

    #[test]
    fn auto_mode_small_table() {
        let data = small();
        let s = schema(&data, "y");
        let f = fit_featurizer(&s, &data, &FeaturizerConfig::default()).expect("fit");
        assert_eq!(
            f.feature_names(),
            [
                "age",
                "age__missing",
                "smoker",
                "smoker__missing",
                "color=red",
                "color=blue",
                "color=(missing)"
            ]
        );
        assert_eq!(f.input_columns(), ["age", "smoker", "color"]);
        let x = f.transform(&data).expect("transform");
        assert_eq!(x.row(1).to_vec(), vec![40.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
        assert_eq!(x.row(2).to_vec(), vec![50.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
        assert_eq!(f.steps().len(), 3);
        assert!(f.steps()[0].contains("age (1 missing)"), "{:?}", f.steps());

        // Serde round trip gives the same featurizer.
        let json = serde_json::to_string(&f).expect("serialize");
        let back: FittedFeaturizer = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, f);
    }

    /// A table with one categorical column of three categories whose label means differ:
    /// "b" rows are all 0, "c" rows half 1, "a" rows all 1.
    fn three_categories() -> (Dataset, Vec<f64>) {
        let mut cells = Vec::new();
        let mut label = Vec::new();
        for _ in 0..10 {
            cells.extend(["a", "b", "c", "c"].map(|c| Some(c.to_string())));
            label.extend([1.0, 0.0, 1.0, 0.0]);
        }
        let data = Dataset::new(vec![
            Column {
                name: "shade".into(),
                values: ColumnValues::Text(cells),
            },
            Column {
                name: "y".into(),
                values: ColumnValues::Numeric(label.clone()),
            },
        ])
        .expect("dataset");
        (data, label)
    }

    #[test]
    fn categories_get_their_label_order_only_when_the_label_is_given() {
        let (data, label) = three_categories();
        let s = schema(&data, "y");
        let features = data.without("y");
        let config = FeaturizerConfig::default();
        let classes = Targets::Classes(label.iter().map(|&l| l as usize).collect(), 2);
        let f = fit_featurizer_with_label(&s, &features, Some(&classes), &config).expect("fit");
        assert_eq!(
            f.feature_names(),
            ["shade=c", "shade=a", "shade=b", "shade__target_order"]
        );
        assert_eq!(f.input_columns(), ["shade"]);
        assert_eq!(f.feature_sources(), ["shade"; 4]);
        let x = f.transform(&features).expect("transform");
        // Rows are a, b, c, c: b (mean 0) is 0, c (0.5) is 1, a (1) is 2.
        assert_eq!(
            x.column(3).iter().take(4).copied().collect::<Vec<_>>(),
            [2.0, 0.0, 1.0, 1.0]
        );
        assert_eq!(x.row(0).to_vec(), vec![0.0, 1.0, 0.0, 2.0]);
        assert!(
            f.steps()
                .iter()
                .any(|s| s.starts_with("categories ordered by label mean (1)")),
            "{:?}",
            f.steps()
        );
        let json = serde_json::to_string(&f).expect("serialize");
        let back: FittedFeaturizer = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, f);

        // A regression label orders the same way; an unseen category sits where the overall
        // mean (0.5) falls, between b and c.
        let values = Targets::Values(label.clone());
        let g = fit_featurizer_with_label(&s, &features, Some(&values), &config).expect("fit");
        assert_eq!(g.feature_names(), f.feature_names());
        let unseen = Dataset::new(vec![Column {
            name: "shade".into(),
            values: ColumnValues::Text(vec![Some("mauve".into()), None]),
        }])
        .expect("dataset");
        let x = g.transform(&unseen).expect("transform");
        assert_eq!(x.row(0).to_vec(), vec![0.0, 0.0, 0.0, 0.5]);
        assert_eq!(x.row(1).to_vec(), vec![0.0, 0.0, 0.0, 0.5]);

        // Without the label, with a multiclass label, or with the order switched off (Azure's
        // blocked CatTargetEncoder): one-hot only.
        let multiclass = Targets::Classes((0..40).map(|i| i % 3).collect(), 3);
        let off = FeaturizerConfig {
            target_order: false,
            ..FeaturizerConfig::default()
        };
        for g in [
            fit_featurizer(&s, &features, &config),
            fit_featurizer_with_label(&s, &features, Some(&multiclass), &config),
            fit_featurizer_with_label(&s, &features, Some(&classes), &off),
        ] {
            assert_eq!(
                g.expect("fit").feature_names(),
                ["shade=c", "shade=a", "shade=b"]
            );
        }
        // Labels that do not match the rows are refused.
        let short = Targets::Values(vec![1.0; 3]);
        let err = fit_featurizer_with_label(&s, &features, Some(&short), &config)
            .expect_err("3 labels for 40 rows");
        assert!(
            err.to_string().contains("3 labels for 40 training rows"),
            "{err}"
        );
    }

    #[test]
    fn an_imputed_category_is_ordered_as_its_fill() {
        let (data, label) = three_categories();
        let mut cells: Vec<Option<String>> = match &data.require("shade").expect("shade").values {
            ColumnValues::Text(v) => v.clone(),
            ColumnValues::Numeric(_) => unreachable!("text column"),
        };
        cells[1] = None; // a "b" row loses its category
        let features = Dataset::new(vec![Column {
            name: "shade".into(),
            values: ColumnValues::Text(cells),
        }])
        .expect("dataset");
        let mut with_label = features.columns().to_vec();
        with_label.push(data.require("y").expect("y").clone());
        let s = schema(&Dataset::new(with_label).expect("dataset"), "y");
        let config = config_with(&[(
            "shade",
            Imputation::Constant {
                fill_value: "b".into(),
            },
        )]);
        let classes = Targets::Classes(label.iter().map(|&l| l as usize).collect(), 2);
        let f = fit_featurizer_with_label(&s, &features, Some(&classes), &config).expect("fit");
        let x = f.transform(&features).expect("transform");
        assert_eq!(
            f.feature_names().last().map(String::as_str),
            Some("shade__target_order")
        );
        assert_eq!(x[[1, 3]], x[[5, 3]], "the missing cell is coded as 'b'");
    }

    #[test]
    fn transform_checks_columns_and_parses_text_numbers() {
        let data = small();
        let s = schema(&data, "y");
        let f = fit_featurizer(&s, &data, &FeaturizerConfig::default()).expect("fit");
        let err = f
            .transform(&data.without("color"))
            .expect_err("missing column");
        assert!(err.to_string().contains("'color'"), "{err}");

        let mut columns: Vec<Column> = data.without("age").columns().to_vec();
        columns.push(Column {
            name: "age".into(),
            values: ColumnValues::Text(vec![
                Some("60".into()),
                None,
                Some("1e1".into()),
                Some("x".into()),
            ]),
        });
        columns.push(Column {
            name: "extra".into(),
            values: ColumnValues::Numeric(vec![0.0; 4]),
        });
        let as_text = Dataset::new(columns).expect("dataset");
        let err = f.transform(&as_text).expect_err("unparsable");
        assert!(err.to_string().contains("'age', row 4"), "{err}");
        let x = f
            .transform(&as_text.select_rows(&[0, 1, 2]))
            .expect("transform");
        assert_eq!(x[[0, 0]], 60.0);
        assert_eq!(x[[2, 0]], 10.0);
    }

    #[test]
    fn off_mode() {
        let data = small();
        let s = schema(&data, "y");
        let off = FeaturizerConfig {
            mode: FeaturizationMode::Off,
            ..FeaturizerConfig::default()
        };
        let err = fit_featurizer(&s, &data, &off).expect_err("categorical");
        assert!(err.to_string().starts_with("featurization is off"), "{err}");
        assert!(err.to_string().contains("'color'"), "{err}");
        let numeric = data.without("color");
        let s = schema(&numeric, "y");
        let err = fit_featurizer(&s, &numeric, &off).expect_err("missing value");
        assert!(err.to_string().contains("featurization is off"), "{err}");
        let complete = numeric.select_rows(&[0, 3]);
        let f = fit_featurizer(&s, &complete, &off).expect("fit");
        assert_eq!(f.feature_names(), ["age", "smoker"]);
        assert!(f.transform(&numeric).is_err());
        assert_eq!(
            f.transform(&complete).expect("transform").row(0).to_vec(),
            vec![30.0, 1.0]
        );
        assert_eq!(
            FeaturizationMode::parse("OFF").expect("off"),
            FeaturizationMode::Off
        );
        assert!(FeaturizationMode::parse("none").is_err());
    }

    #[test]
    fn heart_failure_features() {
        let data = load("heart_failure.csv");
        let s = schema(&data, "DEATH_EVENT");
        let f = fit_featurizer(&s, &data, &FeaturizerConfig::default()).expect("fit");
        assert_eq!(f.feature_names().len(), 12);
        let x = f.transform(&data).expect("transform");
        assert_eq!(x.dim(), (299, 12));
    }

    #[test]
    fn adult_ames_penguins_have_no_nan() {
        for (file, label) in [
            ("adult.csv", "class"),
            ("ames_housing.csv", "SalePrice"),
            ("penguins.csv", "species"),
        ] {
            let data = load(file);
            let s = schema(&data, label);
            let train: Vec<usize> = (0..data.n_rows()).filter(|i| i % 3 != 0).collect();
            let test: Vec<usize> = (0..data.n_rows()).filter(|i| i % 3 == 0).collect();
            let f = fit_featurizer(&s, &data.select_rows(&train), &FeaturizerConfig::default())
                .expect("fit");
            let x = f.transform(&data.select_rows(&test)).expect("transform");
            assert_eq!(x.ncols(), f.feature_names().len());
            assert!(x.iter().all(|v| v.is_finite()), "{file} has NaN");
            assert!(!f.feature_names().iter().any(|n| n == "Order" || n == "PID"));
        }
    }

    #[test]
    fn adult_native_country_is_frequency_encoded() {
        let data = load("adult.csv");
        let s = schema(&data, "class");
        let f = fit_featurizer(&s, &data, &FeaturizerConfig::default()).expect("fit");
        assert!(f
            .feature_names()
            .iter()
            .any(|n| n == "native-country__frequency"));
        assert!(f.feature_names().iter().any(|n| n == "workclass=(missing)"));
        assert!(f
            .steps()
            .iter()
            .any(|s| s.starts_with("high-cardinality") && s.contains("native-country")));
    }

    #[test]
    fn datetime_and_text_columns() {
        let n = 30;
        let dates: Vec<Option<String>> = (0..n)
            .map(|i| (i % 7 != 3).then(|| format!("2021-03-{:02} 1{}:00:00", i % 28 + 1, i % 10)))
            .collect();
        let reviews: Vec<Option<String>> = (0..n)
            .map(|i| Some(format!("review {i}: the item arrived late but works fine")))
            .collect();
        let data = Dataset::new(vec![
            Column {
                name: "when".into(),
                values: ColumnValues::Text(dates),
            },
            Column {
                name: "review".into(),
                values: ColumnValues::Text(reviews),
            },
            Column {
                name: "y".into(),
                values: ColumnValues::Numeric((0..n).map(|i| (i % 2) as f64).collect()),
            },
        ])
        .expect("dataset");
        let s = schema(&data, "y");
        assert_eq!(s.column("when").expect("when").kind, ColumnKind::Datetime);
        assert_eq!(s.column("review").expect("review").kind, ColumnKind::Text);
        let f = fit_featurizer(&s, &data, &FeaturizerConfig::default()).expect("fit");
        assert_eq!(f.feature_names().len(), 6 + 2 + 32);
        let x = f.transform(&data).expect("transform");
        assert!(x.iter().all(|v| v.is_finite()));
        assert_eq!(x[[0, 4]], 10.0);
    }

    #[test]
    fn all_dropped_is_an_error() {
        let data = Dataset::new(vec![
            Column {
                name: "c".into(),
                values: ColumnValues::Numeric(vec![1.0; 5]),
            },
            Column {
                name: "y".into(),
                values: ColumnValues::Numeric(vec![0.0, 1.0, 0.0, 1.0, 0.0]),
            },
        ])
        .expect("dataset");
        let s = schema(&data, "y");
        let err = fit_featurizer(&s, &data, &FeaturizerConfig::default()).expect_err("empty");
        assert!(err.to_string().contains("no feature columns"), "{err}");
    }

    fn config_with(imputers: &[(&str, Imputation)]) -> FeaturizerConfig {
        FeaturizerConfig {
            imputers: imputers
                .iter()
                .map(|(c, i)| (c.to_string(), i.clone()))
                .collect(),
            ..FeaturizerConfig::default()
        }
    }

    #[test]
    fn imputers_replace_the_default_fill() {
        // age: 30, missing, 50, 40 -> mean 40, median 40, constant -1.
        // smoker (boolean): yes, no, missing, no. color: red, blue, red, missing.
        let data = small();
        let s = schema(&data, "y");
        let age_at_row_1 = |imputation: Imputation| {
            let f = fit_featurizer(&s, &data, &config_with(&[("age", imputation)])).expect("fit");
            f.transform(&data).expect("transform")[[1, 0]]
        };
        assert_eq!(age_at_row_1(Imputation::Mean), 40.0);
        assert_eq!(age_at_row_1(Imputation::Median), 40.0);
        assert_eq!(
            age_at_row_1(Imputation::Constant {
                fill_value: "-1".into()
            }),
            -1.0
        );
        let data3 = data.select_rows(&[0, 1, 2, 3, 3]);
        let f = fit_featurizer(
            &s,
            &data3,
            &config_with(&[("age", Imputation::MostFrequent)]),
        )
        .expect("fit");
        assert_eq!(f.transform(&data3).expect("transform")[[1, 0]], 40.0);

        // A categorical column's missing cell takes the most frequent category (red): no
        // "(missing)" column, and the missing row is one-hot as red.
        let f = fit_featurizer(
            &s,
            &data,
            &config_with(&[("color", Imputation::MostFrequent)]),
        )
        .expect("fit");
        assert!(!f.feature_names().iter().any(|n| n == "color=(missing)"));
        let x = f.transform(&data).expect("transform");
        let red = f
            .feature_names()
            .iter()
            .position(|n| n == "color=red")
            .expect("red");
        assert_eq!(x[[3, red]], 1.0);
        assert!(
            f.steps().iter().any(|l| l.contains("color: most_frequent")),
            "{:?}",
            f.steps()
        );

        let f = fit_featurizer(
            &s,
            &data,
            &config_with(&[(
                "color",
                Imputation::Constant {
                    fill_value: "green".into(),
                },
            )]),
        )
        .expect("fit");
        let x = f.transform(&data).expect("transform");
        let green = f
            .feature_names()
            .iter()
            .position(|n| n == "color=green")
            .expect("green");
        assert_eq!(x[[3, green]], 1.0);
        assert_eq!(x[[0, green]], 0.0);

        // Boolean: constant "yes" fills the missing smoker cell with 1.
        let f = fit_featurizer(
            &s,
            &data,
            &config_with(&[(
                "smoker",
                Imputation::Constant {
                    fill_value: "yes".into(),
                },
            )]),
        )
        .expect("fit");
        let smoker = f
            .feature_names()
            .iter()
            .position(|n| n == "smoker")
            .expect("smoker");
        assert_eq!(f.transform(&data).expect("transform")[[2, smoker]], 1.0);
    }

    #[test]
    fn imputers_that_do_not_fit_are_errors() {
        let data = small();
        let s = schema(&data, "y");
        let err = fit_featurizer(&s, &data, &config_with(&[("color", Imputation::Mean)]))
            .expect_err("mean of a category");
        assert!(err.to_string().contains("'color' (categorical)"), "{err}");
        let err = fit_featurizer(&s, &data, &config_with(&[("age", Imputation::ForwardFill)]))
            .expect_err("ffill");
        assert!(err.to_string().contains("forecasting"), "{err}");
        let err = fit_featurizer(&s, &data, &config_with(&[("weight", Imputation::Median)]))
            .expect_err("absent column");
        assert!(err.to_string().contains("'weight'"), "{err}");
        // In mode off a column with an imputer is imputed instead of refused.
        let numeric = data.without("color");
        let s = schema(&numeric, "y");
        let off = FeaturizerConfig {
            mode: FeaturizationMode::Off,
            ..config_with(&[
                ("age", Imputation::Median),
                ("smoker", Imputation::MostFrequent),
            ])
        };
        let f = fit_featurizer(&s, &numeric, &off).expect("fit");
        assert!(f
            .transform(&numeric)
            .expect("transform")
            .iter()
            .all(|v| v.is_finite()));
    }

    #[test]
    fn blocked_one_hot_and_word_hashing() {
        let data = small();
        let s = schema(&data, "y");
        let config = FeaturizerConfig {
            one_hot: false,
            ..FeaturizerConfig::default()
        };
        let f = fit_featurizer(&s, &data, &config).expect("fit");
        assert!(f.feature_names().iter().any(|n| n == "color__frequency"));
        assert!(!f.feature_names().iter().any(|n| n.starts_with("color=")));
        let reviews = Dataset::new(vec![
            Column {
                name: "review".into(),
                values: ColumnValues::Text(
                    (0..30)
                        .map(|i| Some(format!("review {i}: the item arrived late but works fine")))
                        .collect(),
                ),
            },
            Column {
                name: "y".into(),
                values: ColumnValues::Numeric((0..30).map(|i| (i % 2) as f64).collect()),
            },
        ])
        .expect("dataset");
        let s = schema(&reviews, "y");
        let config = FeaturizerConfig {
            text_hash_buckets: 0,
            ..FeaturizerConfig::default()
        };
        let f = fit_featurizer(&s, &reviews, &config).expect("fit");
        assert_eq!(f.feature_names(), ["review__length", "review__words"]);
        assert_eq!(f.transform(&reviews).expect("transform")[[0, 1]], 9.0);
    }

    fn cell() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            Just(None),
            prop::sample::select(vec!["a", "b", "c", "d", "e", "f", "g", "h"])
                .prop_map(|s| Some(s.to_string())),
        ]
    }

    fn number() -> impl Strategy<Value = f64> {
        prop_oneof![Just(f64::NAN), -1e6..1e6f64]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn auto_output_is_finite_and_one_hot_rows_sum_to_one_or_zero(
            nums in prop::collection::vec(number(), 30),
            cats in prop::collection::vec(cell(), 30),
            flags in prop::collection::vec(prop::option::of(prop::bool::ANY), 30),
            split in 1usize..29,
            max_one_hot in 1usize..10,
        ) {
            let data = Dataset::new(vec![
                Column { name: "x".into(), values: ColumnValues::Numeric(nums) },
                Column { name: "c".into(), values: ColumnValues::Text(cats) },
                Column {
                    name: "b".into(),
                    values: ColumnValues::Text(
                        flags.iter().map(|f| f.map(|f| if f { "Yes" } else { "no" }.to_string())).collect(),
                    ),
                },
                Column { name: "y".into(), values: ColumnValues::Numeric(vec![0.0; 30]) },
            ]).expect("dataset");
            let mut overrides = BTreeMap::new();
            overrides.insert("x".to_string(), ColumnKind::Numeric);
            overrides.insert("c".to_string(), ColumnKind::Categorical);
            overrides.insert("b".to_string(), ColumnKind::Boolean);
            let s = infer_schema(&data, "y", &overrides).expect("schema");
            let train: Vec<usize> = (0..split).collect();
            let test: Vec<usize> = (split..30).collect();
            let config = FeaturizerConfig { max_one_hot_categories: max_one_hot, ..FeaturizerConfig::default() };
            let f = fit_featurizer(&s, &data.select_rows(&train), &config).expect("fit");
            let x = f.transform(&data.select_rows(&test)).expect("transform");
            prop_assert!(x.iter().all(|v| v.is_finite()));
            let b = f.feature_names().iter().position(|n| n == "b").expect("b feature");
            prop_assert!(x.column(b).iter().all(|&v| v == 0.0 || v == 1.0));
            let one_hot: Vec<usize> = f.feature_names().iter().enumerate()
                .filter(|(_, n)| n.starts_with("c=")).map(|(j, _)| j).collect();
            let frequency = f.feature_names().iter().any(|n| n == "c__frequency");
            for row in x.rows() {
                let sum: f64 = one_hot.iter().map(|&j| row[j]).sum();
                prop_assert!(sum == 0.0 || sum == 1.0);
                if !frequency {
                    prop_assert!(one_hot.iter().all(|&j| row[j] == 0.0 || row[j] == 1.0));
                }
            }
        }
    }
}
