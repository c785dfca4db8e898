//! Tabular data as autotab sees it: named columns of numbers or text, their inferred kinds,
//! loading from CSV / Parquet, and row selection for splits.
//!
//! Training files and scoring requests (JSON records) both become a [`Dataset`], so the same
//! featurizer code path serves both.

mod load;
mod mltable;
mod schema;

pub(crate) use load::parse_number;
pub use load::{load_table, load_table_with_report, LoadOptions, LoadReport};
pub use mltable::{is_mltable, load_mltable, mltable_files};
pub use schema::{infer_columns, infer_schema, ColumnKind, ColumnSchema, Schema};
pub(crate) use schema::{parse_datetime, HIGH_CARDINALITY};

use serde::{Deserialize, Serialize};

use crate::error::{AutotabError, Result};

/// The values of one column. Missing numbers are `NaN`; missing text is `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ColumnValues {
    /// Integers and floats, stored as `f64` (`NaN` = missing).
    Numeric(Vec<f64>),
    /// Everything else as text: strings, booleans (`true`/`false`), dates (ISO 8601).
    Text(Vec<Option<String>>),
}

impl ColumnValues {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            ColumnValues::Numeric(v) => v.len(),
            ColumnValues::Text(v) => v.len(),
        }
    }

    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether row `i` is missing.
    pub fn is_missing(&self, i: usize) -> bool {
        match self {
            ColumnValues::Numeric(v) => v[i].is_nan(),
            ColumnValues::Text(v) => v[i].is_none(),
        }
    }

    /// Row `i` as text (numbers formatted without a trailing `.0`), `None` when missing.
    pub fn text_at(&self, i: usize) -> Option<String> {
        match self {
            ColumnValues::Numeric(v) => {
                let x = v[i];
                if x.is_nan() {
                    None
                } else {
                    Some(format_number(x))
                }
            }
            ColumnValues::Text(v) => v[i].clone(),
        }
    }

    /// The rows at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> ColumnValues {
        match self {
            ColumnValues::Numeric(v) => {
                ColumnValues::Numeric(indices.iter().map(|&i| v[i]).collect())
            }
            ColumnValues::Text(v) => {
                ColumnValues::Text(indices.iter().map(|&i| v[i].clone()).collect())
            }
        }
    }
}

/// Formats a number the way a person writes it in a CSV: `1`, `0.5`, `260000`.
pub fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// A named column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    /// The header name.
    pub name: String,
    /// The values.
    pub values: ColumnValues,
}

/// A table of equally long, uniquely named columns.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Dataset {
    columns: Vec<Column>,
    n_rows: usize,
}

impl Dataset {
    /// Builds a dataset, checking that names are unique and lengths agree.
    pub fn new(columns: Vec<Column>) -> Result<Dataset> {
        let n_rows = columns.first().map(|c| c.values.len()).unwrap_or(0);
        let mut seen = std::collections::HashSet::new();
        for c in &columns {
            if c.values.len() != n_rows {
                return Err(AutotabError::data(format!(
                    "column '{}' has {} rows, expected {}",
                    c.name,
                    c.values.len(),
                    n_rows
                )));
            }
            if !seen.insert(c.name.as_str()) {
                return Err(AutotabError::data(format!(
                    "column '{}' appears twice",
                    c.name
                )));
            }
        }
        Ok(Dataset { columns, n_rows })
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// The columns, in file order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The column names, in file order.
    pub fn names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    /// The column called `name`, if any.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The column called `name`, or an error that lists the columns there are.
    pub fn require(&self, name: &str) -> Result<&Column> {
        self.column(name).ok_or_else(|| {
            AutotabError::data(format!(
                "column '{name}' not found; the columns are: {}",
                self.names().join(", ")
            ))
        })
    }

    /// A copy without the column called `name` (unchanged if absent).
    pub fn without(&self, name: &str) -> Dataset {
        Dataset {
            columns: self
                .columns
                .iter()
                .filter(|c| c.name != name)
                .cloned()
                .collect(),
            n_rows: self.n_rows,
        }
    }

    /// The rows at `indices`, in that order.
    pub fn select_rows(&self, indices: &[usize]) -> Dataset {
        Dataset {
            columns: self
                .columns
                .iter()
                .map(|c| Column {
                    name: c.name.clone(),
                    values: c.values.select(indices),
                })
                .collect(),
            n_rows: indices.len(),
        }
    }
}

/// The rows of `parts` one after another. Columns are matched by name (every part must have
/// the first part's columns; extra columns are dropped); a column that is numeric in one part
/// and text in another becomes text. `describe(i)` names part `i` in errors.
pub fn concat_rows(parts: &[Dataset], describe: impl Fn(usize) -> String) -> Result<Dataset> {
    let Some(first) = parts.first() else {
        return Ok(Dataset::default());
    };
    let mut columns = Vec::with_capacity(first.columns().len());
    for col in first.columns() {
        let mut values = col.values.clone();
        for (i, part) in parts.iter().enumerate().skip(1) {
            let other = part.column(&col.name).ok_or_else(|| {
                AutotabError::data(format!("{}: column '{}' is missing", describe(i), col.name))
            })?;
            values = append_values(values, &other.values);
        }
        columns.push(Column {
            name: col.name.clone(),
            values,
        });
    }
    Dataset::new(columns)
}

fn append_values(a: ColumnValues, b: &ColumnValues) -> ColumnValues {
    match (a, b) {
        (ColumnValues::Numeric(mut x), ColumnValues::Numeric(y)) => {
            x.extend_from_slice(y);
            ColumnValues::Numeric(x)
        }
        (a, b) => {
            let text = |v: &ColumnValues| (0..v.len()).map(|i| v.text_at(i)).collect::<Vec<_>>();
            let mut all = text(&a);
            all.extend(text(b));
            ColumnValues::Text(all)
        }
    }
}
