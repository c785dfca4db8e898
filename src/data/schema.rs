//! Column kinds inferred from the data, and the schema a job trains with.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Dataset;
use crate::error::{AutotabError, Result};

/// What a column holds, as far as featurization is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// Real or integer numbers.
    Numeric,
    /// Two values such as true/false, yes/no, 0/1.
    Boolean,
    /// A small set of labels.
    Categorical,
    /// Dates or date-times.
    Datetime,
    /// Free text (long, mostly unique strings with words).
    Text,
    /// Unique per row: an identifier, dropped from the features.
    IdLike,
    /// A single value (or all missing): dropped from the features.
    Constant,
}

impl ColumnKind {
    /// The kind's name (`numeric`, `boolean`, `categorical`, `datetime`, `text`, `id_like`, `constant`).
    pub fn name(self) -> &'static str {
        match self {
            ColumnKind::Numeric => "numeric",
            ColumnKind::Boolean => "boolean",
            ColumnKind::Categorical => "categorical",
            ColumnKind::Datetime => "datetime",
            ColumnKind::Text => "text",
            ColumnKind::IdLike => "id_like",
            ColumnKind::Constant => "constant",
        }
    }

    /// Parses a kind name as given to `--column-kind name=KIND`.
    pub fn parse(name: &str) -> Result<ColumnKind> {
        let all = [
            ColumnKind::Numeric,
            ColumnKind::Boolean,
            ColumnKind::Categorical,
            ColumnKind::Datetime,
            ColumnKind::Text,
            ColumnKind::IdLike,
            ColumnKind::Constant,
        ];
        let wanted = name.trim().to_ascii_lowercase().replace('-', "_");
        all.into_iter()
            .find(|k| k.name() == wanted || (wanted == "id" && *k == ColumnKind::IdLike))
            .ok_or_else(|| {
                AutotabError::config(format!(
                    "unknown column kind '{name}': expected one of {}",
                    all.map(|k| k.name()).join(", ")
                ))
            })
    }

    /// Whether columns of this kind become features.
    pub fn is_feature(self) -> bool {
        !matches!(self, ColumnKind::IdLike | ColumnKind::Constant)
    }
}

/// One column of the schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSchema {
    /// Column name.
    pub name: String,
    /// Inferred (or overridden) kind.
    pub kind: ColumnKind,
    /// Number of missing cells.
    pub missing: usize,
    /// Number of distinct non-missing values.
    pub distinct: usize,
    /// Why this kind was chosen, in a few words (`"overridden by user"`, `"unique per row"`, ...).
    pub reason: String,
}

/// The inferred schema of a training table: every column but the label, in file order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// The label column's name.
    pub label: String,
    /// The other columns.
    pub columns: Vec<ColumnSchema>,
}

impl Schema {
    /// The columns that become features (not ID-like, not constant).
    pub fn features(&self) -> impl Iterator<Item = &ColumnSchema> {
        self.columns.iter().filter(|c| c.kind.is_feature())
    }

    /// The schema entry of `name`, if any.
    pub fn column(&self, name: &str) -> Option<&ColumnSchema> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Infers the kind of every column of `data` except `label`. `overrides` forces kinds by
/// column name; an override naming an absent column is an error.
pub fn infer_schema(
    data: &Dataset,
    label: &str,
    overrides: &BTreeMap<String, ColumnKind>,
) -> Result<Schema> {
    let _ = (data, label, overrides);
    Err(AutotabError::config("schema inference is not written yet"))
}
