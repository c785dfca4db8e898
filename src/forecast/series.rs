//! A table split into regular time series: the time column parsed, rows split by grain, the
//! frequency inferred (or given), duplicate time stamps aggregated (or refused), missing steps
//! inserted (target interpolated linearly, features carried forward) and short series padded
//! or dropped. Each step reports one guardrail line, as Azure does.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::settings::{ForecastSettings, ShortSeriesHandling};
use super::time::{format_time, grid_for, infer_grid, parse_time, Grid};
use crate::data::{ColumnValues, Dataset};
use crate::error::{AutotabError, Result};
use crate::featurize::{Guardrail, GuardrailStatus};

/// One series on the regular grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// The grain values naming it (empty for a single series).
    pub key: Vec<String>,
    /// Grid step of `values[0]`.
    pub start: i64,
    /// The target at each step (gaps interpolated).
    pub values: Vec<f64>,
    /// The known features at each step, one vector per feature (carried forward).
    pub features: Vec<Vec<f64>>,
}

impl Series {
    /// Grid step of the last value.
    pub fn end(&self) -> i64 {
        self.start + self.values.len() as i64 - 1
    }

    /// The series' name for messages: `Store=2, Brand=tropicana`, or `the series`.
    pub fn describe(&self, grain: &[String]) -> String {
        describe_key(&self.key, grain)
    }
}

/// `Store=2, Brand=tropicana` (or `the series` without grain columns).
pub fn describe_key(key: &[String], grain: &[String]) -> String {
    if grain.is_empty() {
        return "the series".into();
    }
    grain
        .iter()
        .zip(key)
        .map(|(g, k)| format!("{g}={k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every series of a training table, on one grid.
#[derive(Debug, Clone)]
pub struct SeriesSet {
    /// The grid all series share.
    pub grid: Grid,
    /// The series, sorted by key.
    pub series: Vec<Series>,
    /// Names of the known (numeric) feature columns.
    pub feature_names: Vec<String>,
    /// Series dropped as too short (their keys).
    pub dropped: Vec<Vec<String>>,
    /// One line per check: frequency, series found, gaps, duplicates, short series.
    pub guardrails: Vec<Guardrail>,
}

fn guardrail(name: &str, status: GuardrailStatus, message: String) -> Guardrail {
    Guardrail {
        name: name.into(),
        status,
        message,
    }
}

/// A table's rows parsed for forecasting: time, grain key, and the row's line in the file.
pub struct ParsedRows {
    /// Time stamp of each row.
    pub times: Vec<NaiveDateTime>,
    /// Grain key of each row.
    pub keys: Vec<Vec<String>>,
}

/// Parses the time column and the grain keys of `data`. `what` names the table in errors.
pub fn parse_rows(data: &Dataset, settings: &ForecastSettings, what: &str) -> Result<ParsedRows> {
    let column = data.column(&settings.time_column).ok_or_else(|| {
        AutotabError::data(format!(
            "{what}: time column '{}' not found; the columns are: {}",
            settings.time_column,
            data.names().join(", ")
        ))
    })?;
    let name = &settings.time_column;
    let mut times = Vec::with_capacity(data.n_rows());
    let mut offsets: BTreeMap<Option<i32>, usize> = BTreeMap::new();
    for i in 0..data.n_rows() {
        let line = i + 2;
        let parsed = match &column.values {
            ColumnValues::Numeric(v) => {
                let x = v[i];
                if x.is_nan() {
                    None
                } else if x.fract() == 0.0 && (1000.0..=9999.0).contains(&x) {
                    parse_time(&format!("{}-01-01", x as i64))
                } else {
                    return Err(AutotabError::data(format!(
                        "{what}, line {line}: time column '{name}' holds the number {x}; expected a date or time (YYYY-MM-DD, YYYY-MM-DD HH:MM:SS, ...) or a year"
                    )));
                }
            }
            ColumnValues::Text(v) => match &v[i] {
                None => None,
                Some(s) => Some(parse_time(s).ok_or_else(|| {
                    AutotabError::data(format!(
                        "{what}, line {line}: time column '{name}' value '{s}' is not a date or time (expected YYYY-MM-DD, YYYY-MM-DD HH:MM:SS, M/D/YYYY or RFC 3339)"
                    ))
                })?),
            },
        };
        let parsed = parsed.ok_or_else(|| {
            AutotabError::data(format!(
                "{what}, line {line}: time column '{name}' is empty; every row needs a time stamp"
            ))
        })?;
        offsets.entry(parsed.offset_s).or_insert(line);
        times.push(parsed.time);
    }
    if offsets.len() > 1 {
        let shown: Vec<String> = offsets
            .iter()
            .map(|(o, line)| match o {
                Some(s) => format!(
                    "line {line} has UTC{:+03}:{:02}",
                    s / 3600,
                    (s.abs() % 3600) / 60
                ),
                None => format!("line {line} has no time zone"),
            })
            .collect();
        return Err(AutotabError::data(format!(
            "{what}: time column '{name}' mixes time zones ({}); write every time stamp in one zone",
            shown.join(", ")
        )));
    }
    let mut grain_columns = Vec::new();
    for g in &settings.grain {
        grain_columns.push(data.column(g).ok_or_else(|| {
            AutotabError::data(format!(
                "{what}: grain (time series id) column '{g}' not found; the columns are: {}",
                data.names().join(", ")
            ))
        })?);
    }
    let keys = (0..data.n_rows())
        .map(|i| {
            grain_columns
                .iter()
                .map(|c| c.values.text_at(i).unwrap_or_default())
                .collect()
        })
        .collect();
    Ok(ParsedRows { times, keys })
}

/// The numeric columns used as known features: every column besides the label, the time
/// column and the grain, that is numeric. Text columns are left out (named in a guardrail).
fn feature_columns(
    data: &Dataset,
    label: &str,
    settings: &ForecastSettings,
) -> (Vec<String>, Vec<String>) {
    let mut numeric = Vec::new();
    let mut skipped = Vec::new();
    for c in data.columns() {
        if c.name == label
            || c.name == settings.time_column
            || settings.grain.contains(&c.name)
            || settings.excluded.contains(&c.name)
        {
            continue;
        }
        match c.values {
            ColumnValues::Numeric(_) => numeric.push(c.name.clone()),
            ColumnValues::Text(_) => skipped.push(c.name.clone()),
        }
    }
    (numeric, skipped)
}

/// Fills NaN gaps linearly between known values; leading and trailing gaps take the nearest
/// known value. A vector with no known value is left as is.
pub fn interpolate_linear(values: &mut [f64]) {
    let known: Vec<usize> = (0..values.len()).filter(|&i| !values[i].is_nan()).collect();
    let (Some(&first), Some(&last)) = (known.first(), known.last()) else {
        return;
    };
    let first_value = values[first];
    values[..first].iter_mut().for_each(|v| *v = first_value);
    let last_value = values[last];
    values[last + 1..].iter_mut().for_each(|v| *v = last_value);
    for pair in known.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let (va, vb) = (values[a], values[b]);
        for (i, v) in values.iter_mut().enumerate().take(b).skip(a + 1) {
            *v = va + (vb - va) * (i - a) as f64 / (b - a) as f64;
        }
    }
}

/// Carries the last known value forward, then the first known value backward; all-missing
/// becomes 0.
pub fn fill_forward(values: &mut [f64]) {
    let mut last = f64::NAN;
    for v in values.iter_mut() {
        if v.is_nan() {
            *v = last;
        } else {
            last = *v;
        }
    }
    let first = values.iter().copied().find(|v| !v.is_nan()).unwrap_or(0.0);
    values
        .iter_mut()
        .take_while(|v| v.is_nan())
        .for_each(|v| *v = first);
    values
        .iter_mut()
        .filter(|v| v.is_nan())
        .for_each(|v| *v = 0.0);
}

impl SeriesSet {
    /// Splits `data` into series for `label`. `min_length` gives, for the grid found, the
    /// shortest series the job can fit (horizon plus lags); shorter ones are handled as
    /// `settings.short_series` says. `what` names the table in errors.
    pub fn build(
        data: &Dataset,
        label: &str,
        settings: &ForecastSettings,
        min_length: &dyn Fn(&Grid) -> usize,
        what: &str,
    ) -> Result<SeriesSet> {
        let target = data.column(label).ok_or_else(|| {
            AutotabError::data(format!(
                "{what}: label column '{label}' not found; the columns are: {}",
                data.names().join(", ")
            ))
        })?;
        let ColumnValues::Numeric(y) = &target.values else {
            let ColumnValues::Text(t) = &target.values else {
                unreachable!("two column kinds")
            };
            let (row, value) = t
                .iter()
                .enumerate()
                .find_map(|(i, v)| v.as_ref().map(|v| (i, v.clone())))
                .unwrap_or((0, String::new()));
            return Err(AutotabError::data(format!(
                "{what}, line {}: label '{label}' value '{value}' is not a number; forecasting needs a numeric label",
                row + 2
            )));
        };
        let rows = parse_rows(data, settings, what)?;
        let (feature_names, skipped) = feature_columns(data, label, settings);
        let features: Vec<&[f64]> = feature_names
            .iter()
            .map(|n| match &data.column(n).map(|c| &c.values) {
                Some(ColumnValues::Numeric(v)) => v.as_slice(),
                _ => &[][..],
            })
            .collect();
        let mut by_key: BTreeMap<Vec<String>, Vec<usize>> = BTreeMap::new();
        for (i, key) in rows.keys.iter().enumerate() {
            by_key.entry(key.clone()).or_default().push(i);
        }
        let per_series: Vec<Vec<NaiveDateTime>> = by_key
            .values()
            .map(|idx| idx.iter().map(|&i| rows.times[i]).collect())
            .collect();
        let (grid, frequency_note) = match settings.frequency {
            Some(f) => {
                let grid = grid_for(f, &rows.times, &settings.time_column)?;
                (grid, format!("frequency {} given", grid.frequency_name()))
            }
            None => {
                let grid = infer_grid(&per_series, &settings.time_column)?;
                (
                    grid,
                    format!(
                        "frequency {} detected on '{}'",
                        grid.frequency_name(),
                        settings.time_column
                    ),
                )
            }
        };
        let mut guardrails = vec![guardrail(
            "Frequency detection",
            GuardrailStatus::Passed,
            frequency_note,
        )];
        let mut series = Vec::new();
        let mut gaps = (0usize, 0usize);
        let mut duplicates = (0usize, 0usize);
        let mut missing_target = 0usize;
        for (key, idx) in &by_key {
            let mut steps: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
            for &i in idx {
                let step = grid.index_of(rows.times[i]).ok_or_else(|| {
                    AutotabError::data(format!(
                        "{what}, line {}: time stamp {} is not on the {} grid",
                        i + 2,
                        format_time(rows.times[i]),
                        grid.frequency_name()
                    ))
                })?;
                steps.entry(step).or_default().push(i);
            }
            let start = *steps.keys().next().expect("a series has rows");
            let end = *steps.keys().next_back().expect("a series has rows");
            let len = (end - start + 1) as usize;
            let mut values = vec![f64::NAN; len];
            let mut feats = vec![vec![f64::NAN; len]; features.len()];
            for (&step, members) in &steps {
                let at = (step - start) as usize;
                let targets: Vec<f64> = members
                    .iter()
                    .map(|&i| y[i])
                    .filter(|v| !v.is_nan())
                    .collect();
                if members.len() > 1 {
                    let Some(aggregate) = settings.aggregate else {
                        let lines: Vec<String> =
                            members.iter().map(|i| (i + 2).to_string()).collect();
                        return Err(AutotabError::data(format!(
                            "{what}: {} has {} rows at {} (lines {}); give target_aggregate_function (--target-aggregate-function sum|mean|min|max) or remove the duplicates",
                            describe_key(key, &settings.grain),
                            members.len(),
                            format_time(grid.time_at(step)),
                            lines.join(", ")
                        )));
                    };
                    duplicates.0 += members.len() - 1;
                    if !targets.is_empty() {
                        values[at] = aggregate.apply(&targets);
                    }
                } else if let Some(&v) = targets.first() {
                    values[at] = v;
                }
                if targets.is_empty() {
                    missing_target += 1;
                }
                for (f, column) in features.iter().enumerate() {
                    let known: Vec<f64> = members
                        .iter()
                        .map(|&i| column[i])
                        .filter(|v| !v.is_nan())
                        .collect();
                    if !known.is_empty() {
                        feats[f][at] = known.iter().sum::<f64>() / known.len() as f64;
                    }
                }
            }
            if steps.len() < len {
                gaps.0 += len - steps.len();
                gaps.1 += 1;
            }
            if steps.values().any(|m| m.len() > 1) {
                duplicates.1 += 1;
            }
            if values.iter().all(|v| v.is_nan()) {
                continue;
            }
            interpolate_linear(&mut values);
            feats.iter_mut().for_each(|f| fill_forward(f));
            series.push(Series {
                key: key.clone(),
                start,
                values,
                features: feats,
            });
        }
        let lengths: Vec<usize> = series.iter().map(|s| s.values.len()).collect();
        guardrails.push(guardrail(
            "Time series ID detection",
            GuardrailStatus::Passed,
            format!(
                "{} series{}; {} to {} steps each",
                series.len(),
                if settings.grain.is_empty() {
                    String::new()
                } else {
                    format!(" by {}", settings.grain.join(", "))
                },
                lengths.iter().min().unwrap_or(&0),
                lengths.iter().max().unwrap_or(&0)
            ),
        ));
        guardrails.push(if gaps.0 > 0 || missing_target > 0 {
            guardrail(
                "Missing time steps",
                GuardrailStatus::Done,
                format!(
                    "inserted {} missing time step(s) in {} series and imputed {} missing target value(s): target interpolated linearly, features carried forward",
                    gaps.0, gaps.1, missing_target
                ),
            )
        } else {
            guardrail(
                "Missing time steps",
                GuardrailStatus::Passed,
                "no missing time steps".into(),
            )
        });
        if duplicates.0 > 0 {
            guardrails.push(guardrail(
                "Duplicate time stamps",
                GuardrailStatus::Done,
                format!(
                    "{} duplicate row(s) in {} series combined by {:?} (features averaged)",
                    duplicates.0,
                    duplicates.1,
                    settings
                        .aggregate
                        .expect("duplicates are refused without one")
                ),
            ));
        }
        if !skipped.is_empty() {
            guardrails.push(guardrail(
                "Feature columns",
                GuardrailStatus::Alerted,
                format!(
                    "text columns {} are not used as features (only numeric known features are; name categorical identifiers as --grain)",
                    skipped.join(", ")
                ),
            ));
        }
        let (series, dropped, short_line) = handle_short_series(
            series,
            min_length(&grid),
            settings.short_series,
            &settings.grain,
            what,
        )?;
        guardrails.push(short_line);
        Ok(SeriesSet {
            grid,
            series,
            feature_names,
            dropped,
            guardrails,
        })
    }

    /// Total steps over all series.
    pub fn n_steps(&self) -> usize {
        self.series.iter().map(|s| s.values.len()).sum()
    }
}

type ShortOutcome = (Vec<Series>, Vec<Vec<String>>, Guardrail);

/// Pads or drops series shorter than `min_length`.
fn handle_short_series(
    series: Vec<Series>,
    min_length: usize,
    handling: ShortSeriesHandling,
    grain: &[String],
    what: &str,
) -> Result<ShortOutcome> {
    let short: Vec<usize> = (0..series.len())
        .filter(|&i| series[i].values.len() < min_length)
        .collect();
    if short.is_empty() {
        return Ok((
            series,
            Vec::new(),
            guardrail(
                "Short series handling",
                GuardrailStatus::Passed,
                format!("every series has at least {min_length} steps"),
            ),
        ));
    }
    let all_short = short.len() == series.len();
    let pad = match handling {
        ShortSeriesHandling::Pad => true,
        ShortSeriesHandling::Drop => false,
        ShortSeriesHandling::Auto => false,
        ShortSeriesHandling::Off => {
            let s = &series[short[0]];
            return Err(AutotabError::data(format!(
                "{what}: {} has {} steps, fewer than the {min_length} the horizon and lags need; set short_series_handling_config to pad or drop",
                s.describe(grain),
                s.values.len()
            )));
        }
    };
    let names: Vec<String> = short
        .iter()
        .take(3)
        .map(|&i| series[i].describe(grain))
        .collect();
    if pad {
        let mut series = series;
        for &i in &short {
            let s = &mut series[i];
            let missing = min_length - s.values.len();
            let mean = s.values.iter().sum::<f64>() / s.values.len() as f64;
            s.values.splice(0..0, std::iter::repeat_n(mean, missing));
            for f in s.features.iter_mut() {
                let first = f[0];
                f.splice(0..0, std::iter::repeat_n(first, missing));
            }
            s.start -= missing as i64;
        }
        return Ok((
            series,
            Vec::new(),
            guardrail(
                "Short series handling",
                GuardrailStatus::Done,
                format!(
                    "{} series shorter than {min_length} steps padded at the front with their mean ({})",
                    short.len(),
                    names.join("; ")
                ),
            ),
        ));
    }
    if all_short {
        return Err(AutotabError::data(format!(
            "{what}: every series is shorter than the {min_length} steps the horizon and lags need (the longest has {}); give a shorter horizon or fewer lags, or pad short series",
            series.iter().map(|s| s.values.len()).max().unwrap_or(0)
        )));
    }
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for (i, s) in series.into_iter().enumerate() {
        if short.contains(&i) {
            dropped.push(s.key);
        } else {
            kept.push(s);
        }
    }
    Ok((
        kept,
        dropped,
        guardrail(
            "Short series handling",
            GuardrailStatus::Done,
            format!(
                "{} series shorter than {min_length} steps dropped ({}); they cannot be forecast",
                short.len(),
                names.join("; ")
            ),
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Column;

    fn settings() -> ForecastSettings {
        ForecastSettings {
            time_column: "t".into(),
            horizon: 2,
            grain: vec!["g".into()],
            frequency: None,
            target_lags: None,
            rolling_window: None,
            feature_lags: false,
            seasonality: None,
            short_series: ShortSeriesHandling::Auto,
            aggregate: None,
            cv_step: None,
            n_folds: None,
            excluded: Vec::new(),
        }
    }

    fn table(rows: &[(&str, &str, f64, f64)]) -> Dataset {
        Dataset::new(vec![
            Column {
                name: "t".into(),
                values: ColumnValues::Text(rows.iter().map(|r| Some(r.0.to_string())).collect()),
            },
            Column {
                name: "g".into(),
                values: ColumnValues::Text(rows.iter().map(|r| Some(r.1.to_string())).collect()),
            },
            Column {
                name: "y".into(),
                values: ColumnValues::Numeric(rows.iter().map(|r| r.2).collect()),
            },
            Column {
                name: "x".into(),
                values: ColumnValues::Numeric(rows.iter().map(|r| r.3).collect()),
            },
        ])
        .unwrap()
    }

    #[test]
    fn gaps_are_filled_and_duplicates_refused_or_aggregated() {
        let rows = [
            ("2020-01-01", "a", 1.0, 10.0),
            ("2020-01-02", "a", 2.0, 20.0),
            ("2020-01-05", "a", 5.0, f64::NAN),
            ("2020-01-06", "a", f64::NAN, 60.0),
            ("2020-01-07", "a", 7.0, 70.0),
        ];
        let set = SeriesSet::build(&table(&rows), "y", &settings(), &|_| 3, "train").unwrap();
        let s = &set.series[0];
        assert_eq!(s.values, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
        assert_eq!(
            s.features[0],
            vec![10.0, 20.0, 20.0, 20.0, 20.0, 60.0, 70.0]
        );
        let gaps = set
            .guardrails
            .iter()
            .find(|g| g.name == "Missing time steps")
            .unwrap();
        assert!(
            gaps.message.contains("inserted 2 missing"),
            "{}",
            gaps.message
        );

        let mut dup = rows.to_vec();
        dup.push(("2020-01-02", "a", 4.0, 0.0));
        let err = SeriesSet::build(&table(&dup), "y", &settings(), &|_| 3, "train")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("g=a has 2 rows at 2020-01-02 (lines 3, 7)"),
            "{err}"
        );
        let mut s2 = settings();
        s2.aggregate = Some(super::super::settings::Aggregate::Sum);
        let set = SeriesSet::build(&table(&dup), "y", &s2, &|_| 3, "train").unwrap();
        assert_eq!(set.series[0].values[1], 6.0);
        assert!(set
            .guardrails
            .iter()
            .any(|g| g.name == "Duplicate time stamps"));
    }

    #[test]
    fn one_short_series_is_dropped_or_padded() {
        let mut rows = Vec::new();
        let days = [
            "2020-01-01",
            "2020-01-02",
            "2020-01-03",
            "2020-01-04",
            "2020-01-05",
        ];
        for (i, d) in days.iter().enumerate() {
            rows.push((*d, "long", i as f64, 0.0));
        }
        rows.push(("2020-01-04", "short", 3.0, 0.0));
        rows.push(("2020-01-05", "short", 5.0, 0.0));
        let set = SeriesSet::build(&table(&rows), "y", &settings(), &|_| 4, "train").unwrap();
        assert_eq!(set.series.len(), 1);
        assert_eq!(set.dropped, vec![vec!["short".to_string()]]);
        let mut pad = settings();
        pad.short_series = ShortSeriesHandling::Pad;
        let set = SeriesSet::build(&table(&rows), "y", &pad, &|_| 4, "train").unwrap();
        let short = set.series.iter().find(|s| s.key[0] == "short").unwrap();
        assert_eq!(short.values, vec![4.0, 4.0, 3.0, 5.0]);
        assert_eq!(short.end(), set.series[0].end());
        let mut off = settings();
        off.short_series = ShortSeriesHandling::Off;
        let err = SeriesSet::build(&table(&rows), "y", &off, &|_| 4, "train").unwrap_err();
        assert!(err.to_string().contains("g=short has 2 steps"), "{err}");
        let err = SeriesSet::build(&table(&rows), "y", &settings(), &|_| 40, "train").unwrap_err();
        assert!(err.to_string().contains("every series is shorter"), "{err}");
    }

    #[test]
    fn bad_time_stamps_and_zones_are_named() {
        let rows = [("2020-01-01", "a", 1.0, 0.0), ("soon", "a", 2.0, 0.0)];
        let err = SeriesSet::build(&table(&rows), "y", &settings(), &|_| 1, "train").unwrap_err();
        assert!(
            err.to_string()
                .contains("line 3: time column 't' value 'soon'"),
            "{err}"
        );
        let rows = [
            ("2020-01-01T00:00:00+01:00", "a", 1.0, 0.0),
            ("2020-01-01T01:00:00Z", "a", 2.0, 0.0),
        ];
        let err = SeriesSet::build(&table(&rows), "y", &settings(), &|_| 1, "train").unwrap_err();
        assert!(err.to_string().contains("mixes time zones"), "{err}");
        let err =
            SeriesSet::build(&table(&rows), "nope", &settings(), &|_| 1, "train").unwrap_err();
        assert!(err.to_string().contains("label column 'nope'"), "{err}");
    }
}
