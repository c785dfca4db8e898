//! Column kinds inferred from the data, and the schema a job trains with.

use std::collections::{BTreeMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use strum::VariantArray;

use super::load::parse_number;
use super::{format_number, ColumnValues, Dataset};
use crate::error::{AutotabError, Result};

/// What a column holds, as far as featurization is concerned.
///
/// Names (the serde form too) and aliases live in the `strum` attributes.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
    strum::EnumMessage,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case", ascii_case_insensitive)]
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
    #[strum(to_string = "id_like", serialize = "id")]
    IdLike,
    /// A single value (or all missing): dropped from the features.
    Constant,
}

impl ColumnKind {
    /// The kind's name (`numeric`, `boolean`, `categorical`, `datetime`, `text`, `id_like`, `constant`).
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Parses a kind name as given to `--column-kind name=KIND`, ignoring case, surrounding
    /// spaces and `-` for `_`; `id` stands for `id_like`.
    pub fn parse(name: &str) -> Result<ColumnKind> {
        let wanted = name.trim().replace('-', "_");
        wanted.parse().map_err(|_| {
            AutotabError::config(format!(
                "unknown column kind '{name}': expected one of {}",
                ColumnKind::VARIANTS
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }

    /// Whether columns of this kind become features.
    pub fn is_feature(self) -> bool {
        !matches!(self, ColumnKind::IdLike | ColumnKind::Constant)
    }
}

crate::names::value_enum!(ColumnKind, ColumnKind::VARIANTS);

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

/// Below this many rows no column is called ID-like: uniqueness means little in a tiny table.
const MIN_ROWS_FOR_ID: usize = 20;
/// Unique integers at least this large (and unique per row) look like identifiers (`PID`).
const LARGE_ID_MIN: f64 = 100_000.0;
/// Text columns whose values average at least this many characters, mostly with spaces and
/// mostly distinct, are free text.
const FREE_TEXT_MIN_MEAN_CHARS: f64 = 20.0;
/// Above this many categories a categorical column counts as high-cardinality.
pub(crate) const HIGH_CARDINALITY: usize = 25;

/// Infers the kind of every column of `data` except `label`. `overrides` forces kinds by
/// column name; an override naming an absent column (or the label) is an error.
///
/// Rules, in order:
/// - no value or a single distinct value: [`ColumnKind::Constant`];
/// - numbers (or text whose every value parses as a number): two values 0/1 is
///   [`ColumnKind::Boolean`]; integers unique per row (at least 20 rows, no missing) that form a
///   consecutive range, are all at least 100,000, or sit in a column named like an id
///   (`id`, `*_id`, `ID`) are [`ColumnKind::IdLike`]; the rest [`ColumnKind::Numeric`].
///   Non-integer numbers are never ID-like;
/// - text with exactly two values forming true/false, yes/no, y/n, t/f or 0/1 (any case):
///   [`ColumnKind::Boolean`];
/// - text where every value is a date or date-time (`YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]`,
///   ISO 8601 with `T` and an optional offset, `M/D/YYYY`, `YYYY/MM/DD`): [`ColumnKind::Datetime`];
/// - long (mean 20+ characters), mostly multi-word and mostly distinct text: [`ColumnKind::Text`];
/// - other text unique per row (at least 20 rows, at most 5% missing): [`ColumnKind::IdLike`];
/// - other text: [`ColumnKind::Categorical`] (high-cardinality ones are encoded by counts later).
pub fn infer_schema(
    data: &Dataset,
    label: &str,
    overrides: &BTreeMap<String, ColumnKind>,
) -> Result<Schema> {
    data.require(label)?;
    for name in overrides.keys() {
        if name == label {
            return Err(AutotabError::config(format!(
                "--column-kind '{name}': this is the label column; it cannot be given a feature kind"
            )));
        }
        if data.column(name).is_none() {
            return Err(AutotabError::config(format!(
                "--column-kind '{name}': no such column; the columns are: {}",
                data.names().join(", ")
            )));
        }
    }
    let columns = data
        .columns()
        .iter()
        .filter(|c| c.name != label)
        .map(|c| {
            let mut schema = infer_column(&c.name, &c.values);
            if let Some(&kind) = overrides.get(&c.name) {
                schema.reason = format!(
                    "overridden by user (inferred {}: {})",
                    schema.kind.name(),
                    schema.reason
                );
                schema.kind = kind;
            }
            schema
        })
        .collect();
    Ok(Schema {
        label: label.to_string(),
        columns,
    })
}

/// The inferred kind of every column of `data` (no label set apart, no overrides): what a
/// registered dataset records.
pub fn infer_columns(data: &Dataset) -> Vec<ColumnSchema> {
    data.columns()
        .iter()
        .map(|c| infer_column(&c.name, &c.values))
        .collect()
}

fn infer_column(name: &str, values: &ColumnValues) -> ColumnSchema {
    let n_rows = values.len();
    let (kind, missing, distinct, reason) = match values {
        ColumnValues::Numeric(v) => {
            let present: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
            let (kind, distinct, reason) = infer_numeric(name, &present, n_rows);
            (kind, n_rows - present.len(), distinct, reason)
        }
        ColumnValues::Text(v) => {
            let present: Vec<&str> = v.iter().flatten().map(|s| s.trim()).collect();
            let (kind, distinct, reason) = infer_text(name, &present, n_rows);
            (kind, n_rows - present.len(), distinct, reason)
        }
    };
    ColumnSchema {
        name: name.to_string(),
        kind,
        missing,
        distinct,
        reason,
    }
}

fn infer_numeric(name: &str, present: &[f64], n_rows: usize) -> (ColumnKind, usize, String) {
    let distinct_set: HashSet<u64> = present
        .iter()
        .map(|&x| if x == 0.0 { 0.0f64 } else { x }.to_bits())
        .collect();
    let distinct = distinct_set.len();
    if distinct == 0 {
        return (ColumnKind::Constant, 0, "all values missing".to_string());
    }
    if distinct == 1 {
        return (
            ColumnKind::Constant,
            1,
            format!("a single value ({})", format_number(present[0])),
        );
    }
    if distinct == 2 && present.iter().all(|&x| x == 0.0 || x == 1.0) {
        return (ColumnKind::Boolean, 2, "two values 0/1".to_string());
    }
    let integers = present.iter().all(|x| x.fract() == 0.0);
    if integers && distinct == n_rows && n_rows >= MIN_ROWS_FOR_ID {
        let min = present.iter().copied().fold(f64::INFINITY, f64::min);
        let max = present.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if max - min + 1.0 == n_rows as f64 {
            return (
                ColumnKind::IdLike,
                distinct,
                "unique per row, consecutive integers".to_string(),
            );
        }
        if min >= LARGE_ID_MIN {
            return (
                ColumnKind::IdLike,
                distinct,
                "unique per row, large integers".to_string(),
            );
        }
        if name_looks_like_id(name) {
            return (
                ColumnKind::IdLike,
                distinct,
                "unique integers per row in an id-named column".to_string(),
            );
        }
    }
    let reason = if integers {
        format!("integers, {distinct} distinct values")
    } else {
        format!("numbers, {distinct} distinct values")
    };
    (ColumnKind::Numeric, distinct, reason)
}

fn infer_text(name: &str, present: &[&str], n_rows: usize) -> (ColumnKind, usize, String) {
    let distinct_set: HashSet<&str> = present.iter().copied().collect();
    let distinct = distinct_set.len();
    if distinct == 0 {
        return (ColumnKind::Constant, 0, "all values missing".to_string());
    }
    if distinct == 1 {
        return (
            ColumnKind::Constant,
            1,
            format!("a single value ('{}')", present[0]),
        );
    }
    let numbers: Option<Vec<f64>> = present.iter().map(|s| parse_number(s)).collect();
    if let Some(numbers) = numbers {
        let (kind, distinct, reason) = infer_numeric(name, &numbers, n_rows);
        return (kind, distinct, format!("{reason} (stored as text)"));
    }
    // Case variants ("Yes", "yes") count as one value for booleans.
    let mut pair: Vec<String> = if distinct <= 4 {
        distinct_set.iter().map(|s| s.to_lowercase()).collect()
    } else {
        Vec::new()
    };
    pair.sort();
    pair.dedup();
    if pair.len() == 2
        && BOOLEAN_PAIRS
            .iter()
            .any(|(a, b)| pair[0] == *a && pair[1] == *b)
    {
        return (
            ColumnKind::Boolean,
            distinct,
            format!("two values {}/{}", pair[1], pair[0]),
        );
    }
    if present.iter().all(|s| parse_datetime(s).is_some()) {
        return (
            ColumnKind::Datetime,
            distinct,
            "every value is a date or date-time".to_string(),
        );
    }
    let mean_chars =
        present.iter().map(|s| s.chars().count()).sum::<usize>() as f64 / present.len() as f64;
    let with_spaces = present
        .iter()
        .filter(|s| s.contains(char::is_whitespace))
        .count();
    if mean_chars >= FREE_TEXT_MIN_MEAN_CHARS
        && with_spaces * 2 >= present.len()
        && distinct * 2 >= present.len()
    {
        return (
            ColumnKind::Text,
            distinct,
            format!("free text: mean {mean_chars:.0} characters, {distinct} distinct values"),
        );
    }
    let missing = n_rows - present.len();
    if distinct == present.len() && present.len() >= MIN_ROWS_FOR_ID && missing * 20 <= n_rows {
        return (
            ColumnKind::IdLike,
            distinct,
            "text unique per row".to_string(),
        );
    }
    let reason = if distinct > HIGH_CARDINALITY {
        format!("text, {distinct} distinct values (high cardinality)")
    } else {
        format!("text, {distinct} distinct values")
    };
    (ColumnKind::Categorical, distinct, reason)
}

/// Value pairs (lowercase, sorted) read as booleans.
const BOOLEAN_PAIRS: [(&str, &str); 5] = [
    ("false", "true"),
    ("no", "yes"),
    ("n", "y"),
    ("f", "t"),
    ("0", "1"),
];

fn name_looks_like_id(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "id"
        || lower.ends_with("_id")
        || lower.ends_with(".id")
        || lower.starts_with("id_")
        || name.ends_with("Id")
        || name.ends_with("ID")
}

/// Parses a date or date-time in the formats schema inference accepts: `YYYY-MM-DD`,
/// `YYYY/MM/DD`, `M/D/YYYY`, each optionally followed by ` HH:MM[:SS[.fff]]` (or `T` for
/// the ISO forms), and RFC 3339 with an offset (the wall-clock time written is kept).
pub(crate) fn parse_datetime(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    // Cheap rejection: dates start with a digit and contain a separator.
    if !s.starts_with(|c: char| c.is_ascii_digit()) || !(s.contains('-') || s.contains('/')) {
        return None;
    }
    const DATE_FORMATS: [&str; 3] = ["%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y"];
    const DATETIME_FORMATS: [&str; 8] = [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
        "%Y/%m/%d %H:%M:%S%.f",
        "%Y/%m/%d %H:%M",
        "%m/%d/%Y %H:%M:%S%.f",
        "%m/%d/%Y %H:%M",
    ];
    for format in DATE_FORMATS {
        if let Ok(date) = NaiveDate::parse_from_str(s, format) {
            return date.and_hms_opt(0, 0, 0);
        }
    }
    for format in DATETIME_FORMATS {
        if let Ok(datetime) = NaiveDateTime::parse_from_str(s, format) {
            return Some(datetime);
        }
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.naive_local())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{load_table, Column, LoadOptions};

    fn num(name: &str, v: &[f64]) -> Column {
        Column {
            name: name.to_string(),
            values: ColumnValues::Numeric(v.to_vec()),
        }
    }

    fn txt(name: &str, v: &[Option<&str>]) -> Column {
        Column {
            name: name.to_string(),
            values: ColumnValues::Text(v.iter().map(|s| s.map(String::from)).collect()),
        }
    }

    fn kinds(columns: Vec<Column>) -> BTreeMap<String, ColumnKind> {
        let n = columns[0].values.len();
        let mut columns = columns;
        columns.push(num("y", &vec![0.0; n]));
        let data = Dataset::new(columns).expect("dataset");
        let schema = infer_schema(&data, "y", &BTreeMap::new()).expect("schema");
        assert!(schema.column("y").is_none(), "label excluded");
        schema
            .columns
            .iter()
            .map(|c| {
                assert!(!c.reason.is_empty());
                (c.name.clone(), c.kind)
            })
            .collect()
    }

    fn kind_of(column: Column) -> ColumnKind {
        let name = column.name.clone();
        kinds(vec![column])[&name]
    }

    fn seq(n: usize) -> Vec<f64> {
        (1..=n).map(|i| i as f64).collect()
    }

    #[test]
    fn numeric_kinds() {
        assert_eq!(
            kind_of(num("a", &[1.5, 2.0, 3.0, 1.5])),
            ColumnKind::Numeric
        );
        assert_eq!(
            kind_of(num("a", &[0.0, 1.0, f64::NAN, 1.0])),
            ColumnKind::Boolean
        );
        assert_eq!(
            kind_of(num("a", &[1.0, 2.0, 1.0, 2.0])),
            ColumnKind::Numeric
        );
        assert_eq!(
            kind_of(num("a", &[7.0, 7.0, f64::NAN])),
            ColumnKind::Constant
        );
        assert_eq!(
            kind_of(num("a", &[f64::NAN, f64::NAN])),
            ColumnKind::Constant
        );
    }

    #[test]
    fn id_like_integers_but_never_floats() {
        assert_eq!(kind_of(num("row", &seq(30))), ColumnKind::IdLike);
        let shuffled: Vec<f64> = (0..30).map(|i| ((i * 7) % 30) as f64 + 100.0).collect();
        assert_eq!(kind_of(num("row", &shuffled)), ColumnKind::IdLike);
        let large: Vec<f64> = (0..30).map(|i| 526_301_100.0 + (i * 37) as f64).collect();
        assert_eq!(kind_of(num("PID", &large)), ColumnKind::IdLike);
        let spread: Vec<f64> = (0..30).map(|i| (i * i) as f64).collect();
        assert_eq!(kind_of(num("area", &spread)), ColumnKind::Numeric);
        assert_eq!(kind_of(num("customer_id", &spread)), ColumnKind::IdLike);
        let floats: Vec<f64> = (0..30).map(|i| i as f64 + 0.5).collect();
        assert_eq!(kind_of(num("row", &floats)), ColumnKind::Numeric);
        // Too few rows to call anything an identifier.
        assert_eq!(kind_of(num("row", &seq(5))), ColumnKind::Numeric);
    }

    #[test]
    fn boolean_text_pairs() {
        for (a, b) in [("true", "false"), ("Yes", "No"), ("y", "n"), ("T", "F")] {
            assert_eq!(
                kind_of(txt("b", &[Some(a), Some(b), None, Some(a)])),
                ColumnKind::Boolean,
                "{a}/{b}"
            );
        }
        assert_eq!(
            kind_of(txt("b", &[Some("Yes"), Some("yes"), Some("NO")])),
            ColumnKind::Boolean
        );
        assert_eq!(
            kind_of(txt("b", &[Some("male"), Some("female"), Some("male")])),
            ColumnKind::Categorical
        );
    }

    #[test]
    fn numbers_stored_as_text() {
        assert_eq!(
            kind_of(txt("n", &[Some("1.5"), Some(" 2"), None, Some("3")])),
            ColumnKind::Numeric
        );
        assert_eq!(
            kind_of(txt("n", &[Some("0"), Some("1"), Some("1")])),
            ColumnKind::Boolean
        );
    }

    #[test]
    fn datetimes() {
        for values in [
            ["2020-01-05", "2021-12-31", "1999-02-28"],
            [
                "2020-01-05 10:00:00",
                "2021-12-31 23:59:59",
                "1999-02-28 00:00:01",
            ],
            [
                "2020-01-05T10:00:00",
                "2021-12-31T23:59:59.5",
                "1999-02-28T00:00:01Z",
            ],
            ["1/5/2020", "12/31/2021", "2/28/1999"],
        ] {
            let v: Vec<Option<&str>> = values.iter().map(|s| Some(*s)).collect();
            assert_eq!(kind_of(txt("d", &v)), ColumnKind::Datetime, "{values:?}");
        }
        assert_eq!(
            kind_of(txt(
                "d",
                &[Some("2020-01-05"), Some("soon"), Some("2020-01-06")]
            )),
            ColumnKind::Categorical
        );
        let parsed = parse_datetime("2021-03-04T05:06:07+02:00").expect("rfc3339");
        assert_eq!(parsed.to_string(), "2021-03-04 05:06:07");
        assert!(parse_datetime("13/45/2020").is_none());
    }

    #[test]
    fn free_text_ids_and_categories() {
        let sentences: Vec<String> = (0..30)
            .map(|i| format!("this product number {i} was really quite good"))
            .collect();
        let v: Vec<Option<&str>> = sentences.iter().map(|s| Some(s.as_str())).collect();
        assert_eq!(kind_of(txt("review", &v)), ColumnKind::Text);

        let codes: Vec<String> = (0..30).map(|i| format!("C{i:04}")).collect();
        let v: Vec<Option<&str>> = codes.iter().map(|s| Some(s.as_str())).collect();
        assert_eq!(kind_of(txt("code", &v)), ColumnKind::IdLike);

        let colors = ["red", "green", "blue"];
        let v: Vec<Option<&str>> = (0..30).map(|i| Some(colors[i % 3])).collect();
        assert_eq!(kind_of(txt("color", &v)), ColumnKind::Categorical);
    }

    #[test]
    fn overrides_and_errors() {
        let data = Dataset::new(vec![
            num("code", &[1.0, 2.0, 3.0, 1.0]),
            num("y", &[0.0, 1.0, 0.0, 1.0]),
        ])
        .expect("dataset");
        let mut overrides = BTreeMap::new();
        overrides.insert("code".to_string(), ColumnKind::Categorical);
        let schema = infer_schema(&data, "y", &overrides).expect("schema");
        let code = schema.column("code").expect("code");
        assert_eq!(code.kind, ColumnKind::Categorical);
        assert!(code.reason.contains("overridden"));
        assert_eq!(code.distinct, 3);

        overrides.insert("nope".to_string(), ColumnKind::Numeric);
        let err = infer_schema(&data, "y", &overrides).expect_err("absent column");
        assert!(err.to_string().contains("'nope'"), "{err}");

        let err = infer_schema(&data, "label", &BTreeMap::new()).expect_err("absent label");
        assert!(err.to_string().contains("'label'"), "{err}");
    }

    fn load(name: &str) -> Dataset {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("datasets")
            .join(name);
        load_table(&path, &LoadOptions::default()).expect("load")
    }

    fn schema_of(name: &str, label: &str) -> Schema {
        infer_schema(&load(name), label, &BTreeMap::new()).expect("schema")
    }

    #[test]
    fn heart_failure_kinds() {
        let schema = schema_of("heart_failure.csv", "DEATH_EVENT");
        let booleans = [
            "anaemia",
            "diabetes",
            "high_blood_pressure",
            "sex",
            "smoking",
        ];
        for c in &schema.columns {
            let expected = if booleans.contains(&c.name.as_str()) {
                ColumnKind::Boolean
            } else {
                ColumnKind::Numeric
            };
            assert_eq!(c.kind, expected, "{}: {}", c.name, c.reason);
        }
        assert_eq!(schema.columns.len(), 12);
    }

    #[test]
    fn penguins_kinds() {
        let schema = schema_of("penguins.csv", "species");
        let kind = |n: &str| schema.column(n).expect(n).kind;
        assert_eq!(kind("island"), ColumnKind::Categorical);
        assert_eq!(kind("sex"), ColumnKind::Categorical);
        assert_eq!(schema.column("sex").expect("sex").missing, 11);
        assert_eq!(kind("bill_length_mm"), ColumnKind::Numeric);
        assert_eq!(kind("year"), ColumnKind::Numeric);
    }

    #[test]
    fn adult_kinds() {
        let schema = schema_of("adult.csv", "class");
        let col = |n: &str| schema.column(n).expect(n);
        assert_eq!(col("workclass").kind, ColumnKind::Categorical);
        assert_eq!(col("workclass").missing, 2799);
        assert_eq!(col("native-country").kind, ColumnKind::Categorical);
        assert!(col("native-country").distinct > HIGH_CARDINALITY);
        assert_eq!(col("sex").kind, ColumnKind::Categorical);
        assert_eq!(col("fnlwgt").kind, ColumnKind::Numeric);
        assert_eq!(col("age").kind, ColumnKind::Numeric);
    }

    #[test]
    fn ames_kinds() {
        let schema = schema_of("ames_housing.csv", "SalePrice");
        let col = |n: &str| schema.column(n).expect(n);
        assert_eq!(col("Order").kind, ColumnKind::IdLike);
        assert_eq!(col("PID").kind, ColumnKind::IdLike);
        assert_eq!(col("Mas.Vnr.Type").kind, ColumnKind::Categorical);
        assert_eq!(col("Central.Air").kind, ColumnKind::Boolean);
        assert_eq!(col("Lot.Frontage").kind, ColumnKind::Numeric);
        assert_eq!(col("Neighborhood").kind, ColumnKind::Categorical);
        let id_like: Vec<&str> = schema
            .columns
            .iter()
            .filter(|c| c.kind == ColumnKind::IdLike)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(id_like, vec!["Order", "PID"]);
    }
}
