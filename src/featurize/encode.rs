//! Per-column encoders: each is fitted on the training rows of one column and writes a fixed
//! number of `f64` features per row.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::impute::{median, numeric_fill, Imputation};
use super::target_order::TargetOrder;
use crate::data::{parse_datetime, parse_number, ColumnValues};
use crate::error::{AutotabError, Result};

use chrono::{Datelike, NaiveDateTime, Timelike};

/// Text read as a missing number when a numeric column arrives as text (JSON scoring input).
const TEXT_MISSING_MARKERS: [&str; 6] = ["", "NA", "N/A", "null", "?", "NaN"];
/// Words read as boolean true / false (lowercase).
const TRUTHY: [&str; 5] = ["true", "yes", "y", "t", "1"];
const FALSY: [&str; 5] = ["false", "no", "n", "f", "0"];
/// Name of the one-hot column for missing values.
const MISSING_CATEGORY: &str = "(missing)";

/// A fitted encoder for one input column.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) enum Encoder {
    /// The number itself; missing values replaced by `fill` (the training median) and flagged
    /// in an indicator column when `indicator` is set. `fill == None` means missing is an error.
    Numeric {
        column: String,
        fill: Option<f64>,
        indicator: bool,
        train_missing: usize,
    },
    /// 0/1 from a learned value mapping, missing values replaced by the most frequent value.
    Boolean {
        column: String,
        mapping: BTreeMap<String, f64>,
        fill: Option<f64>,
        indicator: bool,
        train_missing: usize,
    },
    /// One column per training category (most frequent first), plus one for missing values
    /// when the training rows had some. An unseen category encodes as all zeros.
    OneHot {
        column: String,
        categories: Vec<String>,
        missing_category: bool,
    },
    /// The category's training frequency (share of rows; unseen = 0) plus a one-hot of the
    /// `top` most frequent categories.
    Frequency {
        column: String,
        frequencies: BTreeMap<String, f64>,
        missing_frequency: f64,
        top: Vec<String>,
        distinct: usize,
    },
    /// Date parts; missing dates take the training median of each part.
    Datetime {
        column: String,
        hour: bool,
        fills: Vec<f64>,
        indicator: bool,
    },
    /// Length in characters, number of words and hashed word counts.
    Text { column: String, buckets: usize },
    /// `inner` fitted on the column with missing cells replaced by `fill` (a user-chosen
    /// imputation of a category, date or text column); missing cells encode as `fill`.
    Filled { fill: String, inner: Box<Encoder> },
    /// `inner` (a categorical column's one-hot or frequency encoder) followed by the column's
    /// categories ordered by their training label mean (`col__target_order`).
    Ordered {
        order: TargetOrder,
        inner: Box<Encoder>,
    },
}

/// Reads a column's cells the way the encoders need them.
struct Cells<'a> {
    name: &'a str,
    values: &'a ColumnValues,
}

impl<'a> Cells<'a> {
    fn number(&self, i: usize) -> Result<f64> {
        match self.values {
            ColumnValues::Numeric(v) => Ok(if v[i].is_finite() { v[i] } else { f64::NAN }),
            ColumnValues::Text(v) => match v[i].as_deref().map(str::trim) {
                None => Ok(f64::NAN),
                Some(s) if TEXT_MISSING_MARKERS.contains(&s) => Ok(f64::NAN),
                Some(s) => parse_number(s).ok_or_else(|| {
                    AutotabError::data(format!(
                        "column '{}', row {}: '{s}' is not a number",
                        self.name,
                        i + 1
                    ))
                }),
            },
        }
    }

    fn key(&self, i: usize) -> Option<String> {
        self.values
            .text_at(i)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    fn datetime(&self, i: usize) -> Result<Option<NaiveDateTime>> {
        match self.key(i) {
            None => Ok(None),
            Some(s) => parse_datetime(&s).map(Some).ok_or_else(|| {
                AutotabError::data(format!(
                    "column '{}', row {}: '{s}' is not a date (expected e.g. YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)",
                    self.name,
                    i + 1
                ))
            }),
        }
    }
}

fn missing_error(column: &str, row: usize) -> AutotabError {
    AutotabError::data(format!(
        "featurization is off: column '{column}', row {} is missing; impute it or use featurization auto",
        row + 1
    ))
}

/// Categories of a column (lowercased when `lowercase`) with their counts, most frequent
/// first (ties by name), and the number of missing cells.
fn category_counts(cells: &Cells, n: usize, lowercase: bool) -> (Vec<(String, usize)>, usize) {
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut missing = 0;
    for i in 0..n {
        let key = cells
            .key(i)
            .map(|k| if lowercase { k.to_lowercase() } else { k });
        match key {
            Some(k) => *counts.entry(k).or_insert(0) += 1,
            None => missing += 1,
        }
    }
    let mut sorted: Vec<(String, usize)> = counts.into_iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    (sorted, missing)
}

fn boolean_word(value: &str) -> Option<f64> {
    let lower = value.to_lowercase();
    if TRUTHY.contains(&lower.as_str()) {
        Some(1.0)
    } else if FALSY.contains(&lower.as_str()) {
        Some(0.0)
    } else {
        None
    }
}

/// FNV-1a: a hash that never changes between builds, so saved models keep their buckets.
fn stable_hash(word: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in word.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// What kind of encoder to fit (decided from the column kind and the configuration).
pub(crate) enum Plan {
    Numeric,
    Boolean,
    Categorical { max_one_hot: usize, top_k: usize },
    Datetime,
    Text { buckets: usize },
}

impl Encoder {
    /// Fits an encoder on the rows of `values`. `impute` is false in featurization mode off,
    /// where a missing training value is an error. `imputation` overrides the kind's default
    /// fill of missing cells. With `order_by` (one label value per row, see
    /// [`TargetOrder`]) a categorical column also gets its categories' label order.
    pub(crate) fn fit(
        column: &str,
        values: &ColumnValues,
        plan: &Plan,
        impute: bool,
        imputation: Option<&Imputation>,
        order_by: Option<&[f64]>,
    ) -> Result<Encoder> {
        let cells = Cells {
            name: column,
            values,
        };
        if let Some(imputation) = imputation {
            if let Some(filled) = fit_filled(&cells, plan, impute, imputation, order_by)? {
                return Ok(filled);
            }
        }
        match plan {
            Plan::Numeric => fit_numeric(&cells, impute, imputation),
            Plan::Boolean => fit_boolean(&cells, impute, imputation),
            Plan::Categorical { max_one_hot, top_k } => {
                let inner = fit_categorical(&cells, *max_one_hot, *top_k);
                let order = order_by.and_then(|target| {
                    TargetOrder::fit((0..values.len()).map(|i| cells.key(i)), target)
                });
                Ok(match order {
                    Some(order) => Encoder::Ordered {
                        order,
                        inner: Box::new(inner),
                    },
                    None => inner,
                })
            }
            Plan::Datetime => fit_datetime(&cells),
            Plan::Text { buckets } => Ok(Encoder::Text {
                column: column.to_string(),
                buckets: *buckets,
            }),
        }
    }

    /// The encoder that writes the column's main features: `self` without the imputation or
    /// label-order wrappers.
    pub(crate) fn unwrapped(&self) -> &Encoder {
        match self {
            Encoder::Filled { inner, .. } | Encoder::Ordered { inner, .. } => inner.unwrapped(),
            other => other,
        }
    }

    /// Whether the column also gets its categories' label order.
    pub(crate) fn ordered(&self) -> bool {
        match self {
            Encoder::Ordered { .. } => true,
            Encoder::Filled { inner, .. } => inner.ordered(),
            _ => false,
        }
    }

    /// The input column this encoder reads.
    pub(crate) fn column(&self) -> &str {
        match self {
            Encoder::Numeric { column, .. }
            | Encoder::Boolean { column, .. }
            | Encoder::OneHot { column, .. }
            | Encoder::Frequency { column, .. }
            | Encoder::Datetime { column, .. }
            | Encoder::Text { column, .. } => column,
            Encoder::Filled { inner, .. } | Encoder::Ordered { inner, .. } => inner.column(),
        }
    }

    /// Names of the features this encoder writes, in order.
    pub(crate) fn feature_names(&self) -> Vec<String> {
        let c = self.column();
        let mut names = Vec::new();
        match self {
            Encoder::Filled { inner, .. } => return inner.feature_names(),
            Encoder::Ordered { inner, .. } => {
                names = inner.feature_names();
                names.push(format!("{c}__target_order"));
            }
            Encoder::Numeric { indicator, .. } | Encoder::Boolean { indicator, .. } => {
                names.push(c.to_string());
                if *indicator {
                    names.push(format!("{c}__missing"));
                }
            }
            Encoder::OneHot {
                categories,
                missing_category,
                ..
            } => {
                names.extend(categories.iter().map(|k| format!("{c}={k}")));
                if *missing_category {
                    names.push(format!("{c}={MISSING_CATEGORY}"));
                }
            }
            Encoder::Frequency { top, .. } => {
                names.push(format!("{c}__frequency"));
                names.extend(top.iter().map(|k| format!("{c}={k}")));
            }
            Encoder::Datetime {
                hour, indicator, ..
            } => {
                for part in ["year", "month", "day", "weekday"] {
                    names.push(format!("{c}__{part}"));
                }
                if *hour {
                    names.push(format!("{c}__hour"));
                }
                if *indicator {
                    names.push(format!("{c}__missing"));
                }
            }
            Encoder::Text { buckets, .. } => {
                names.push(format!("{c}__length"));
                names.push(format!("{c}__words"));
                names.extend((0..*buckets).map(|b| format!("{c}__hash{b}")));
            }
        }
        names
    }

    /// Writes this encoder's features of row `i` into `out` (exactly `feature_names().len()`).
    pub(crate) fn encode_row(
        &self,
        values: &ColumnValues,
        i: usize,
        out: &mut [f64],
    ) -> Result<()> {
        let cells = Cells {
            name: self.column(),
            values,
        };
        if let Encoder::Filled { fill, inner } = self {
            return match cells.key(i) {
                None => inner.encode_row(&ColumnValues::Text(vec![Some(fill.clone())]), 0, out),
                Some(_) => inner.encode_row(values, i, out),
            };
        }
        if let Encoder::Ordered { order, inner } = self {
            // `out` holds the inner features and the code (the transform sizes it by
            // `feature_names`, which counts both).
            let Some((last, rest)) = out.split_last_mut() else {
                return Ok(());
            };
            inner.encode_row(values, i, rest)?;
            *last = order.code(cells.key(i).as_deref());
            return Ok(());
        }
        out.fill(0.0);
        match self {
            Encoder::Filled { .. } | Encoder::Ordered { .. } => {}
            Encoder::Numeric {
                column,
                fill,
                indicator,
                ..
            } => {
                let x = cells.number(i)?;
                if x.is_nan() {
                    write_missing(out, *fill, *indicator, column, i)?;
                } else {
                    out[0] = x;
                }
            }
            Encoder::Boolean {
                column,
                mapping,
                fill,
                indicator,
                ..
            } => match cells.key(i) {
                None => write_missing(out, *fill, *indicator, column, i)?,
                Some(k) => out[0] = boolean_value(column, mapping, *fill, &k, i)?,
            },
            Encoder::OneHot {
                categories,
                missing_category,
                ..
            } => encode_one_hot(cells.key(i), categories, *missing_category, out),
            Encoder::Frequency {
                frequencies,
                missing_frequency,
                top,
                ..
            } => encode_frequency(cells.key(i), frequencies, *missing_frequency, top, out),
            Encoder::Datetime {
                hour,
                fills,
                indicator,
                ..
            } => encode_datetime(cells.datetime(i)?, *hour, fills, *indicator, out),
            Encoder::Text { buckets, .. } => {
                if let Some(text) = cells.key(i) {
                    encode_text(&text, *buckets, out);
                }
            }
        }
        Ok(())
    }
}

/// With a user `imputation` of a category, date or text column: the encoder fitted on the
/// column with its missing cells replaced by the fill. `None` when the plan is numeric or
/// boolean (they impute themselves) or the imputation is the kind's own default.
fn fit_filled(
    cells: &Cells,
    plan: &Plan,
    impute: bool,
    imputation: &Imputation,
    order_by: Option<&[f64]>,
) -> Result<Option<Encoder>> {
    let kind = match plan {
        Plan::Categorical { .. } => "categorical",
        Plan::Datetime => "datetime",
        Plan::Text { .. } => "text",
        Plan::Numeric | Plan::Boolean => return Ok(None),
    };
    let n = cells.values.len();
    let fill = match imputation {
        Imputation::MostFrequent => category_counts(cells, n, false)
            .0
            .into_iter()
            .next()
            .map(|(k, _)| k),
        Imputation::Constant { fill_value } => Some(fill_value.clone()),
        // Missing dates take the median of each date part already.
        Imputation::Median if kind == "datetime" => None,
        other => return Err(other.unfit(cells.name, kind)),
    };
    let Some(fill) = fill else {
        return Ok(None);
    };
    let filled = ColumnValues::Text(
        (0..n)
            .map(|i| cells.key(i).or(Some(fill.clone())))
            .collect(),
    );
    let inner = Encoder::fit(cells.name, &filled, plan, impute, None, order_by)?;
    Ok(Some(Encoder::Filled {
        fill,
        inner: Box::new(inner),
    }))
}

/// Fits a numeric encoder: missing cells take the training median (or the `imputation`'s
/// fill); without `impute` a missing cell is an error.
fn fit_numeric(cells: &Cells, impute: bool, imputation: Option<&Imputation>) -> Result<Encoder> {
    let column = cells.name.to_string();
    let n = cells.values.len();
    let mut present = Vec::with_capacity(n);
    for i in 0..n {
        let x = cells.number(i)?;
        if x.is_nan() {
            if !impute {
                return Err(missing_error(&column, i));
            }
        } else {
            present.push(x);
        }
    }
    let train_missing = n - present.len();
    let fill = match (impute, imputation) {
        (false, _) => None,
        (true, Some(imputation)) => Some(numeric_fill(imputation, &column, &mut present)?),
        (true, None) => Some(median(&mut present).unwrap_or(0.0)),
    };
    Ok(Encoder::Numeric {
        fill,
        indicator: impute && train_missing > 0,
        train_missing,
        column,
    })
}

/// Fits a boolean encoder on a column of at most two distinct values (case-insensitive).
fn fit_boolean(cells: &Cells, impute: bool, imputation: Option<&Imputation>) -> Result<Encoder> {
    let column = cells.name.to_string();
    let n = cells.values.len();
    let (counts, train_missing) = category_counts(cells, n, true);
    if train_missing > 0 && !impute {
        let row = (0..n).find(|&i| cells.key(i).is_none()).unwrap_or(0);
        return Err(missing_error(&column, row));
    }
    if counts.len() > 2 {
        return Err(AutotabError::data(format!(
            "column '{column}' is boolean but has {} distinct values ({}); give it another kind",
            counts.len(),
            counts
                .iter()
                .take(5)
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mapping = boolean_mapping(&counts);
    let fill = boolean_fill(&column, &counts, &mapping, imputation)?;
    Ok(Encoder::Boolean {
        mapping,
        fill: impute.then(|| fill.unwrap_or(0.0)),
        indicator: impute && train_missing > 0,
        train_missing,
        column,
    })
}

/// The 0/1 (or mean) value that replaces a missing boolean cell: the most frequent training
/// value unless `imputation` asks for the mean, median or a constant.
fn boolean_fill(
    column: &str,
    counts: &[(String, usize)],
    mapping: &BTreeMap<String, f64>,
    imputation: Option<&Imputation>,
) -> Result<Option<f64>> {
    let most_frequent = counts.first().map(|(k, _)| mapping[&k.to_lowercase()]);
    Ok(match imputation {
        None | Some(Imputation::MostFrequent) => most_frequent,
        Some(Imputation::Mean | Imputation::Median) => {
            let mut present: Vec<f64> = counts
                .iter()
                .flat_map(|(k, c)| std::iter::repeat_n(mapping[k], *c))
                .collect();
            match imputation {
                Some(Imputation::Mean) if !present.is_empty() => {
                    Some(present.iter().sum::<f64>() / present.len() as f64)
                }
                _ => median(&mut present),
            }
        }
        Some(Imputation::Constant { fill_value }) => {
            let lower = fill_value.trim().to_lowercase();
            let value = mapping
                .get(&lower)
                .copied()
                .or_else(|| boolean_word(&lower))
                .or_else(|| parse_number(&lower));
            Some(value.ok_or_else(|| {
                AutotabError::config(format!(
                    "imputer for column '{column}': fill_value '{fill_value}' is not one of its boolean values ({})",
                    mapping.keys().cloned().collect::<Vec<_>>().join(", ")
                ))
            })?)
        }
        Some(other) => return Err(other.unfit(column, "boolean")),
    })
}

/// Fits a one-hot encoder when the column has at most `max_one_hot` categories, else a
/// frequency encoder with a one-hot of the `top_k` most frequent.
fn fit_categorical(cells: &Cells, max_one_hot: usize, top_k: usize) -> Encoder {
    let column = cells.name.to_string();
    let n = cells.values.len();
    let (counts, missing) = category_counts(cells, n, false);
    if counts.len() <= max_one_hot {
        return Encoder::OneHot {
            column,
            categories: counts.into_iter().map(|(k, _)| k).collect(),
            missing_category: missing > 0,
        };
    }
    let total = n.max(1) as f64;
    Encoder::Frequency {
        column,
        distinct: counts.len(),
        top: counts.iter().take(top_k).map(|(k, _)| k.clone()).collect(),
        frequencies: counts
            .into_iter()
            .map(|(k, c)| (k, c as f64 / total))
            .collect(),
        missing_frequency: missing as f64 / total,
    }
}

/// Fits a date encoder: the hour part only when some training time is not midnight; missing
/// dates take the training median of each part.
fn fit_datetime(cells: &Cells) -> Result<Encoder> {
    let mut parts: Vec<Vec<f64>> = vec![Vec::new(); 5];
    let mut missing = 0;
    let mut hour = false;
    for i in 0..cells.values.len() {
        match cells.datetime(i)? {
            Some(d) => {
                hour |= d.hour() != 0 || d.minute() != 0 || d.second() != 0;
                for (p, x) in parts.iter_mut().zip(date_parts(&d, true)) {
                    p.push(x);
                }
            }
            None => missing += 1,
        }
    }
    let fills = parts
        .iter_mut()
        .take(if hour { 5 } else { 4 })
        .map(|p| median(p).unwrap_or(0.0))
        .collect();
    Ok(Encoder::Datetime {
        column: cells.name.to_string(),
        hour,
        fills,
        indicator: missing > 0,
    })
}

/// Writes the fill of a missing numeric or boolean cell (and its indicator); without a fill
/// (featurization off) a missing cell is an error.
fn write_missing(
    out: &mut [f64],
    fill: Option<f64>,
    indicator: bool,
    column: &str,
    row: usize,
) -> Result<()> {
    out[0] = fill.ok_or_else(|| missing_error(column, row))?;
    if indicator {
        out[1] = 1.0;
    }
    Ok(())
}

/// The 0/1 value of the present boolean cell `key` (row `row`): the training mapping, else a
/// value unseen in training read by meaning, else a number kept as is, else the fill.
fn boolean_value(
    column: &str,
    mapping: &BTreeMap<String, f64>,
    fill: Option<f64>,
    key: &str,
    row: usize,
) -> Result<f64> {
    let lower = key.to_lowercase();
    mapping
        .get(&lower)
        .copied()
        .or_else(|| unseen_boolean(mapping, &lower))
        // A number outside the two seen (a 0/1 column meeting a 2) keeps its
        // value; an unseen word is imputed like a missing cell.
        .or_else(|| lower.parse::<f64>().ok().filter(|x| x.is_finite()))
        .or(fill)
        .ok_or_else(|| {
            AutotabError::data(format!(
                "column '{column}', row {}: '{key}' is not one of its boolean values ({})",
                row + 1,
                mapping.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })
}

/// Sets the one-hot of `key` (nothing for an unseen category; the last column for missing).
fn encode_one_hot(
    key: Option<String>,
    categories: &[String],
    missing_category: bool,
    out: &mut [f64],
) {
    match key {
        None if missing_category => out[categories.len()] = 1.0,
        None => {}
        Some(k) => {
            if let Some(pos) = categories.iter().position(|c| *c == k) {
                out[pos] = 1.0;
            }
        }
    }
}

/// Writes the training frequency of `key` and its one-hot among the `top` categories.
fn encode_frequency(
    key: Option<String>,
    frequencies: &BTreeMap<String, f64>,
    missing_frequency: f64,
    top: &[String],
    out: &mut [f64],
) {
    match key {
        None => out[0] = missing_frequency,
        Some(k) => {
            out[0] = frequencies.get(&k).copied().unwrap_or(0.0);
            if let Some(pos) = top.iter().position(|c| *c == k) {
                out[1 + pos] = 1.0;
            }
        }
    }
}

/// Writes the date parts of `date`, or the training `fills` and the indicator when missing.
fn encode_datetime(
    date: Option<NaiveDateTime>,
    hour: bool,
    fills: &[f64],
    indicator: bool,
    out: &mut [f64],
) {
    match date {
        Some(d) => {
            for (o, x) in out.iter_mut().zip(date_parts(&d, hour)) {
                *o = x;
            }
        }
        None => {
            out[..fills.len()].copy_from_slice(fills);
            if indicator {
                out[fills.len()] = 1.0;
            }
        }
    }
}

/// Writes the length, word count and hashed word counts of `text`.
fn encode_text(text: &str, buckets: usize, out: &mut [f64]) {
    out[0] = text.chars().count() as f64;
    for word in words(text) {
        out[1] += 1.0;
        if buckets > 0 {
            let bucket = (stable_hash(&word) % buckets as u64) as usize;
            out[2 + bucket] += 1.0;
        }
    }
}

/// The 0/1 value of `value`, absent from the training `mapping`. With two training values only a
/// known word (`true`, `no`, ...) is accepted. When the training rows held a single value, any
/// other value is its opposite, unless both are known words (then meaning decides).
fn unseen_boolean(mapping: &BTreeMap<String, f64>, value: &str) -> Option<f64> {
    let word = boolean_word(value);
    let mut seen = mapping.iter();
    match (seen.next(), seen.next()) {
        (Some((k, &a)), None) => match (boolean_word(k), word) {
            (Some(_), Some(w)) => Some(w),
            _ => Some(1.0 - a),
        },
        (None, _) => Some(word.unwrap_or(1.0)),
        _ => word,
    }
}

fn date_parts(d: &NaiveDateTime, hour: bool) -> Vec<f64> {
    let mut parts = vec![
        f64::from(d.year()),
        f64::from(d.month()),
        f64::from(d.day()),
        f64::from(d.weekday().num_days_from_monday()),
    ];
    if hour {
        parts.push(f64::from(d.hour()));
    }
    parts
}

/// Maps the (at most two) training values to 0/1: known words by meaning (`yes` = 1), an
/// unknown value the opposite of a known one, two unknown values in sorted order.
fn boolean_mapping(counts: &[(String, usize)]) -> BTreeMap<String, f64> {
    let mut values: Vec<String> = counts.iter().map(|(k, _)| k.to_lowercase()).collect();
    values.sort();
    values.dedup();
    let known: Vec<Option<f64>> = values.iter().map(|v| boolean_word(v)).collect();
    let mut mapping = BTreeMap::new();
    match (values.len(), known.as_slice()) {
        (2, [Some(a), Some(b)]) if a != b => {
            mapping.insert(values[0].clone(), *a);
            mapping.insert(values[1].clone(), *b);
        }
        (2, [Some(a), None]) => {
            mapping.insert(values[0].clone(), *a);
            mapping.insert(values[1].clone(), 1.0 - a);
        }
        (2, [None, Some(b)]) => {
            mapping.insert(values[0].clone(), 1.0 - b);
            mapping.insert(values[1].clone(), *b);
        }
        (1, [Some(a)]) => {
            mapping.insert(values[0].clone(), *a);
        }
        _ => {
            for (idx, v) in values.iter().enumerate() {
                mapping.insert(v.clone(), idx.min(1) as f64);
            }
        }
    }
    mapping
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(values: &[Option<&str>]) -> ColumnValues {
        ColumnValues::Text(values.iter().map(|s| s.map(String::from)).collect())
    }

    fn encode_all(encoder: &Encoder, values: &ColumnValues) -> Vec<Vec<f64>> {
        let width = encoder.feature_names().len();
        (0..values.len())
            .map(|i| {
                let mut row = vec![f64::NAN; width];
                encoder.encode_row(values, i, &mut row).expect("encode");
                row
            })
            .collect()
    }

    #[test]
    fn numeric_median_and_indicator() {
        let values = ColumnValues::Numeric(vec![1.0, f64::NAN, 3.0, 10.0]);
        let e = Encoder::fit("x", &values, &Plan::Numeric, true, None, None).expect("fit");
        assert_eq!(e.feature_names(), vec!["x", "x__missing"]);
        let rows = encode_all(&e, &values);
        assert_eq!(rows[1], vec![3.0, 1.0]);
        assert_eq!(rows[3], vec![10.0, 0.0]);
        let strings = text(&[Some("60"), Some(" 2.5 "), Some("NA"), None]);
        assert_eq!(encode_all(&e, &strings)[1], vec![2.5, 0.0]);
        assert_eq!(encode_all(&e, &strings)[2], vec![3.0, 1.0]);
        let bad = text(&[Some("sixty")]);
        let err = e
            .encode_row(&bad, 0, &mut [0.0, 0.0])
            .expect_err("not a number");
        assert!(err.to_string().contains("'x', row 1"), "{err}");
    }

    #[test]
    fn numeric_without_imputation_rejects_missing() {
        let values = ColumnValues::Numeric(vec![1.0, f64::NAN]);
        let err =
            Encoder::fit("x", &values, &Plan::Numeric, false, None, None).expect_err("missing");
        assert!(err.to_string().contains("featurization is off"), "{err}");
        let e = Encoder::fit(
            "x",
            &ColumnValues::Numeric(vec![1.0]),
            &Plan::Numeric,
            false,
            None,
            None,
        )
        .expect("fit");
        assert!(e.encode_row(&values, 1, &mut [0.0]).is_err());
    }

    #[test]
    fn boolean_mapping_by_meaning() {
        let values = text(&[Some("No"), Some("yes"), None, Some("no")]);
        let e = Encoder::fit("b", &values, &Plan::Boolean, true, None, None).expect("fit");
        let rows = encode_all(&e, &values);
        assert_eq!(
            rows,
            vec![
                vec![0.0, 0.0],
                vec![1.0, 0.0],
                vec![0.0, 1.0],
                vec![0.0, 0.0]
            ]
        );
        // Other spellings of true/false are understood; an unseen word is imputed with the
        // most frequent value ('no'), and an unseen number keeps its value.
        assert_eq!(encode_all(&e, &text(&[Some("TRUE")]))[0][0], 1.0);
        let mut out = [9.0, 9.0];
        e.encode_row(&text(&[Some("maybe")]), 0, &mut out)
            .expect("imputed");
        assert_eq!(out[0], 0.0);
        e.encode_row(&text(&[Some("2")]), 0, &mut out)
            .expect("a number");
        assert_eq!(out[0], 2.0);

        let mf = text(&[Some("M"), Some("F"), Some("F")]);
        let e = Encoder::fit("sex", &mf, &Plan::Boolean, true, None, None).expect("fit");
        assert_eq!(encode_all(&e, &mf), vec![vec![1.0], vec![0.0], vec![0.0]]);
        // A fold that saw one value maps the other one to the opposite.
        let one = text(&[Some("M"), Some("M")]);
        let e = Encoder::fit("sex", &one, &Plan::Boolean, true, None, None).expect("fit");
        assert_eq!(encode_all(&e, &mf), vec![vec![0.0], vec![1.0], vec![1.0]]);
        let yes = text(&[Some("yes")]);
        let e = Encoder::fit("ok", &yes, &Plan::Boolean, true, None, None).expect("fit");
        let rows = encode_all(&e, &text(&[Some("true"), Some("no"), Some("what")]));
        assert_eq!(rows, vec![vec![1.0], vec![0.0], vec![0.0]]);
        let three = text(&[Some("a"), Some("b"), Some("c")]);
        assert!(Encoder::fit("z", &three, &Plan::Boolean, true, None, None).is_err());
    }

    #[test]
    fn one_hot_with_missing_and_unseen() {
        let values = text(&[Some("b"), Some("a"), Some("b"), None]);
        let plan = Plan::Categorical {
            max_one_hot: 5,
            top_k: 2,
        };
        let e = Encoder::fit("c", &values, &plan, true, None, None).expect("fit");
        assert_eq!(e.feature_names(), vec!["c=b", "c=a", "c=(missing)"]);
        let rows = encode_all(&e, &text(&[Some("a "), None, Some("zzz")]));
        assert_eq!(
            rows,
            vec![vec![0.0, 1.0, 0.0], vec![0.0, 0.0, 1.0], vec![0.0; 3]]
        );
    }

    #[test]
    fn high_cardinality_frequency() {
        let values = text(&[Some("a"), Some("a"), Some("b"), Some("c"), None]);
        let plan = Plan::Categorical {
            max_one_hot: 2,
            top_k: 1,
        };
        let e = Encoder::fit("c", &values, &plan, true, None, None).expect("fit");
        assert_eq!(e.feature_names(), vec!["c__frequency", "c=a"]);
        let rows = encode_all(&e, &text(&[Some("a"), Some("c"), None, Some("new")]));
        assert_eq!(
            rows,
            vec![
                vec![0.4, 1.0],
                vec![0.2, 0.0],
                vec![0.2, 0.0],
                vec![0.0, 0.0]
            ]
        );
    }

    #[test]
    fn datetime_parts() {
        let values = text(&[Some("2024-02-29"), None, Some("2020-01-06")]);
        let e = Encoder::fit("d", &values, &Plan::Datetime, true, None, None).expect("fit");
        assert_eq!(
            e.feature_names(),
            vec!["d__year", "d__month", "d__day", "d__weekday", "d__missing"]
        );
        let rows = encode_all(&e, &values);
        assert_eq!(rows[0], vec![2024.0, 2.0, 29.0, 3.0, 0.0]);
        assert_eq!(rows[1], vec![2022.0, 1.5, 17.5, 1.5, 1.0]);
        let timed = text(&[Some("2020-01-06 13:30:00"), Some("2020-01-07 00:00:00")]);
        let e = Encoder::fit("t", &timed, &Plan::Datetime, true, None, None).expect("fit");
        assert_eq!(encode_all(&e, &timed)[0], vec![2020.0, 1.0, 6.0, 0.0, 13.0]);
        let err = e
            .encode_row(&text(&[Some("yesterday")]), 0, &mut [0.0; 5])
            .expect_err("bad date");
        assert!(err.to_string().contains("'t', row 1"), "{err}");
    }

    #[test]
    fn text_features() {
        let values = text(&[Some("Good good, very good"), None]);
        let e =
            Encoder::fit("r", &values, &Plan::Text { buckets: 4 }, true, None, None).expect("fit");
        let rows = encode_all(&e, &values);
        assert_eq!(rows[0][0], 20.0);
        assert_eq!(rows[0][1], 4.0);
        assert_eq!(rows[0][2..].iter().sum::<f64>(), 4.0);
        assert!(rows[0][2..].contains(&3.0));
        assert_eq!(rows[1], vec![0.0; 6]);
    }

    #[test]
    fn hash_is_stable() {
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
