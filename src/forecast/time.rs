//! Time stamps and their regular grid: parsing the time column, inferring the frequency
//! (hourly, daily, weekly with its anchor day, month start/end, quarterly, yearly) or reading
//! it from a pandas-style name (`H`, `D`, `W-THU`, `MS`, `ME`, `QS`, `YS`, ...), and mapping
//! each time stamp to its step number on the grid.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike, Weekday};
use serde::{Deserialize, Serialize};

use crate::error::{AutotabError, Result};

/// A parsed time stamp and the UTC offset it was written with (`None` for a local time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedTime {
    /// The wall-clock time written.
    pub time: NaiveDateTime,
    /// The offset in seconds when the text carried one (`Z`, `+01:00`).
    pub offset_s: Option<i32>,
}

/// Parses a date or date-time: `YYYY-MM-DD`, `YYYY/MM/DD`, `M/D/YYYY`, optionally followed by
/// ` HH:MM[:SS[.fff]]` (or `T`), RFC 3339 with an offset, or `YYYYMMDD`.
pub fn parse_time(text: &str) -> Option<ParsedTime> {
    let s = text.trim();
    if let Some(time) = crate::data::parse_datetime(s) {
        let offset_s = chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| d.offset().local_minus_utc());
        return Some(ParsedTime { time, offset_s });
    }
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        let date = NaiveDate::parse_from_str(s, "%Y%m%d").ok()?;
        return Some(ParsedTime {
            time: date.and_hms_opt(0, 0, 0)?,
            offset_s: None,
        });
    }
    None
}

/// Formats a time stamp as the data usually writes it: the date alone at midnight.
pub fn format_time(t: NaiveDateTime) -> String {
    if t.time() == chrono::NaiveTime::MIN {
        t.format("%Y-%m-%d").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M:%S").to_string()
    }
}

/// Where in its month a monthly (quarterly, yearly) time stamp falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MonthAnchor {
    /// The first day of the month.
    Start,
    /// The last day of the month.
    End,
    /// This day of the month (clamped to the month's last day).
    Day(u32),
}

/// The step between two consecutive time stamps of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frequency {
    /// A fixed step in seconds: minutes, hours, days, weeks.
    Fixed {
        /// Seconds per step.
        seconds: i64,
    },
    /// Calendar months per step (1 monthly, 3 quarterly, 12 yearly) at an anchor day.
    Months {
        /// Months per step.
        months: u32,
        /// Day of the month.
        anchor: MonthAnchor,
    },
}

const MINUTE: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
const WEEK: i64 = 7 * DAY;

impl Frequency {
    /// Parses a pandas-style frequency name: `min`/`T`, `H`/`h`, `D`, `W`/`W-SUN`..`W-SAT`,
    /// `MS`, `M`/`ME`, `QS`, `Q`/`QE`, `YS`/`AS`, `Y`/`A`/`YE`, each with an optional count
    /// (`15min`, `2H`). The weekly anchor day is checked against the data, not stored.
    pub fn parse(name: &str) -> Result<Frequency> {
        let trimmed = name.trim();
        let digits: String = trimmed.chars().take_while(|c| c.is_ascii_digit()).collect();
        let count: i64 = if digits.is_empty() {
            1
        } else {
            digits.parse().unwrap_or(0)
        };
        let unit = trimmed[digits.len()..].to_string();
        let upper = unit.to_ascii_uppercase();
        let base = upper.split('-').next().unwrap_or("");
        let months = |m: u32, anchor| Frequency::Months {
            months: m * count as u32,
            anchor,
        };
        let freq = match base {
            "MIN" | "T" => Frequency::Fixed {
                seconds: count * MINUTE,
            },
            "H" => Frequency::Fixed {
                seconds: count * HOUR,
            },
            "D" => Frequency::Fixed {
                seconds: count * DAY,
            },
            "W" => Frequency::Fixed {
                seconds: count * WEEK,
            },
            "MS" => months(1, MonthAnchor::Start),
            "M" | "ME" => months(1, MonthAnchor::End),
            "QS" => months(3, MonthAnchor::Start),
            "Q" | "QE" => months(3, MonthAnchor::End),
            "YS" | "AS" => months(12, MonthAnchor::Start),
            "Y" | "A" | "YE" => months(12, MonthAnchor::End),
            _ => {
                return Err(AutotabError::config(format!(
                    "frequency '{name}' is not understood; expected one of min, H, D, W, W-SUN..W-SAT, MS, ME, QS, QE, YS, YE (optionally with a count, as 2H)"
                )))
            }
        };
        if count == 0 {
            return Err(AutotabError::config(format!(
                "frequency '{name}': the count must be at least 1"
            )));
        }
        Ok(freq)
    }

    /// A pandas-style name of this frequency; weekly names carry `anchor`'s week day.
    pub fn name(&self, anchor: NaiveDateTime) -> String {
        let count = |n: i64, unit: &str| {
            if n == 1 {
                unit.to_string()
            } else {
                format!("{n}{unit}")
            }
        };
        match *self {
            Frequency::Fixed { seconds } if seconds % WEEK == 0 => {
                let day = match anchor.weekday() {
                    Weekday::Mon => "MON",
                    Weekday::Tue => "TUE",
                    Weekday::Wed => "WED",
                    Weekday::Thu => "THU",
                    Weekday::Fri => "FRI",
                    Weekday::Sat => "SAT",
                    Weekday::Sun => "SUN",
                };
                format!("{}-{day}", count(seconds / WEEK, "W"))
            }
            Frequency::Fixed { seconds } if seconds % DAY == 0 => count(seconds / DAY, "D"),
            Frequency::Fixed { seconds } if seconds % HOUR == 0 => count(seconds / HOUR, "H"),
            Frequency::Fixed { seconds } if seconds % MINUTE == 0 => count(seconds / MINUTE, "min"),
            Frequency::Fixed { seconds } => count(seconds, "s"),
            Frequency::Months { months, anchor } => {
                let (n, unit) = if months % 12 == 0 {
                    (months / 12, "Y")
                } else if months % 3 == 0 {
                    (months / 3, "Q")
                } else {
                    (months, "M")
                };
                let suffix = match anchor {
                    MonthAnchor::Start => "S".to_string(),
                    MonthAnchor::End => "E".to_string(),
                    MonthAnchor::Day(d) => format!(" (day {d})"),
                };
                count(n as i64, &format!("{unit}{suffix}"))
            }
        }
    }

    /// The season length a series of this frequency usually has: 24 hourly, 7 daily, 52
    /// weekly, 12 monthly, 4 quarterly, 1 otherwise (as `run_anchor.py` and Azure choose).
    pub fn default_season(&self) -> usize {
        match *self {
            Frequency::Fixed { seconds: HOUR } => 24,
            Frequency::Fixed { seconds: DAY } => 7,
            Frequency::Fixed { seconds: WEEK } => 52,
            Frequency::Months { months: 1, .. } => 12,
            Frequency::Months { months: 3, .. } => 4,
            _ => 1,
        }
    }

    /// Whether the steps are shorter than a day (hour of day is then a feature).
    pub fn is_sub_daily(&self) -> bool {
        matches!(*self, Frequency::Fixed { seconds } if seconds < DAY)
    }
}

/// A regular grid: a frequency and the time stamp of step 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grid {
    /// The step.
    pub frequency: Frequency,
    /// The time stamp of step 0.
    pub origin: NaiveDateTime,
}

fn month_number(t: NaiveDateTime) -> i64 {
    t.year() as i64 * 12 + t.month0() as i64
}

fn last_day_of_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(ny, nm, 1)
        .and_then(|d| d.pred_opt())
        .map(|d| d.day())
        .unwrap_or(28)
}

fn anchored_day(anchor: MonthAnchor, year: i32, month: u32) -> u32 {
    let last = last_day_of_month(year, month);
    match anchor {
        MonthAnchor::Start => 1,
        MonthAnchor::End => last,
        MonthAnchor::Day(d) => d.min(last),
    }
}

impl Grid {
    /// The step number of `t`, or `None` when `t` is not on the grid.
    pub fn index_of(&self, t: NaiveDateTime) -> Option<i64> {
        match self.frequency {
            Frequency::Fixed { seconds } => {
                let diff = (t - self.origin).num_seconds();
                (diff.rem_euclid(seconds) == 0 && t.nanosecond() == self.origin.nanosecond())
                    .then_some(diff.div_euclid(seconds))
            }
            Frequency::Months { months, anchor } => {
                let diff = month_number(t) - month_number(self.origin);
                let on_day = t.day() == anchored_day(anchor, t.year(), t.month());
                (diff.rem_euclid(months as i64) == 0 && on_day && t.time() == self.origin.time())
                    .then_some(diff.div_euclid(months as i64))
            }
        }
    }

    /// The time stamp of step `i`.
    pub fn time_at(&self, i: i64) -> NaiveDateTime {
        match self.frequency {
            Frequency::Fixed { seconds } => self.origin + Duration::seconds(seconds * i),
            Frequency::Months { months, anchor } => {
                let m = month_number(self.origin) + i * months as i64;
                let year = m.div_euclid(12) as i32;
                let month = m.rem_euclid(12) as u32 + 1;
                NaiveDate::from_ymd_opt(year, month, anchored_day(anchor, year, month))
                    .map(|d| d.and_time(self.origin.time()))
                    .unwrap_or(self.origin)
            }
        }
    }

    /// The frequency's name (weekly with the grid's week day).
    pub fn frequency_name(&self) -> String {
        self.frequency.name(self.origin)
    }
}

/// Infers the grid of `series` (each one's time stamps, any order): the most common step
/// between consecutive distinct time stamps within a series, checked against every time stamp.
/// `column` names the time column in errors.
pub fn infer_grid(series: &[Vec<NaiveDateTime>], column: &str) -> Result<Grid> {
    let mut steps: BTreeMap<i64, usize> = BTreeMap::new();
    let mut all: Vec<NaiveDateTime> = Vec::new();
    for times in series {
        let mut sorted = times.clone();
        sorted.sort();
        sorted.dedup();
        for pair in sorted.windows(2) {
            *steps.entry((pair[1] - pair[0]).num_seconds()).or_default() += 1;
        }
        all.extend(sorted);
    }
    let origin = *all.iter().min().ok_or_else(|| {
        AutotabError::data(format!("time column '{column}': no time stamps to read"))
    })?;
    let Some((&step, _)) = steps.iter().max_by_key(|(s, n)| (**n, -**s)) else {
        return Err(AutotabError::data(format!(
            "time column '{column}': every series has a single time stamp, so the frequency cannot be inferred; give --frequency"
        )));
    };
    let days = step as f64 / DAY as f64;
    let monthly = |months: u32| -> Result<Frequency> {
        let anchor = if all.iter().all(|t| t.day() == 1) {
            MonthAnchor::Start
        } else if all
            .iter()
            .all(|t| t.day() == last_day_of_month(t.year(), t.month()))
        {
            MonthAnchor::End
        } else {
            MonthAnchor::Day(origin.day())
        };
        Ok(Frequency::Months { months, anchor })
    };
    let frequency = if (28.0..=31.0).contains(&days) {
        monthly(1)?
    } else if (89.0..=92.0).contains(&days) {
        monthly(3)?
    } else if (365.0..=366.0).contains(&days) {
        monthly(12)?
    } else {
        Frequency::Fixed { seconds: step }
    };
    let grid = Grid { frequency, origin };
    check_on_grid(&grid, &all, column)?;
    Ok(grid)
}

/// Checks that every time stamp lies on `grid`; the error names the first few that do not.
pub fn check_on_grid(grid: &Grid, times: &[NaiveDateTime], column: &str) -> Result<()> {
    let off: Vec<String> = times
        .iter()
        .filter(|t| grid.index_of(**t).is_none())
        .take(3)
        .map(|t| format_time(*t))
        .collect();
    if off.is_empty() {
        return Ok(());
    }
    Err(AutotabError::data(format!(
        "time column '{column}': cannot use a regular frequency: the most common step is {} from {}, but {} {} not on that grid; give --frequency or fix those rows",
        grid.frequency_name(),
        format_time(grid.origin),
        off.join(", "),
        if off.len() == 1 { "is" } else { "are" }
    )))
}

/// The grid of `frequency` through the earliest of `times` (given with `--frequency`).
pub fn grid_for(frequency: Frequency, times: &[NaiveDateTime], column: &str) -> Result<Grid> {
    let origin = *times.iter().min().ok_or_else(|| {
        AutotabError::data(format!("time column '{column}': no time stamps to read"))
    })?;
    let grid = Grid { frequency, origin };
    check_on_grid(&grid, times, column)?;
    Ok(grid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> NaiveDateTime {
        parse_time(s).unwrap().time
    }

    #[test]
    fn parses_the_common_formats() {
        assert_eq!(t("1949-01-01"), t("1949/01/01"));
        assert_eq!(t("1/31/2011"), t("2011-01-31"));
        assert_eq!(t("20110131"), t("2011-01-31"));
        assert_eq!(t("2012-01-01 01:00:00"), t("2012-01-01T01:00"));
        assert_eq!(
            parse_time("2012-01-01T01:00:00+02:00").unwrap().offset_s,
            Some(7200)
        );
        assert_eq!(parse_time("2012-01-01").unwrap().offset_s, None);
        assert!(parse_time("yesterday").is_none());
        assert!(parse_time("2012-13-01").is_none());
    }

    #[test]
    fn infers_each_kind_of_frequency() {
        let series = |v: &[&str]| vec![v.iter().map(|s| t(s)).collect::<Vec<_>>()];
        let cases: [(&[&str], &str); 7] = [
            (
                &["2020-01-01 00:00", "2020-01-01 01:00", "2020-01-01 03:00"],
                "H",
            ),
            (&["2020-01-01", "2020-01-02", "2020-01-04"], "D"),
            (&["2020-01-02", "2020-01-09", "2020-01-23"], "W-THU"),
            (&["2020-01-01", "2020-02-01", "2020-04-01"], "MS"),
            (&["2020-01-31", "2020-02-29", "2020-03-31"], "ME"),
            (&["2020-01-01", "2020-04-01", "2020-07-01"], "QS"),
            (&["2019-12-31", "2020-12-31", "2021-12-31"], "YE"),
        ];
        for (times, name) in cases {
            let grid = infer_grid(&series(times), "t").unwrap();
            assert_eq!(grid.frequency_name(), name, "{times:?}");
            for s in times {
                let i = grid.index_of(t(s)).unwrap();
                assert_eq!(grid.time_at(i), t(s));
            }
        }
    }

    #[test]
    fn an_irregular_time_stamp_is_named() {
        let times = vec![vec![
            t("2020-01-01"),
            t("2020-01-02"),
            t("2020-01-03"),
            t("2020-01-03 12:00"),
        ]];
        let err = infer_grid(&times, "when").unwrap_err().to_string();
        assert!(
            err.contains("when") && err.contains("2020-01-03 12:00:00"),
            "{err}"
        );
    }

    #[test]
    fn frequency_names_parse() {
        assert_eq!(
            Frequency::parse("W-THU").unwrap(),
            Frequency::Fixed { seconds: WEEK }
        );
        assert_eq!(
            Frequency::parse("15min").unwrap(),
            Frequency::Fixed { seconds: 900 }
        );
        assert_eq!(
            Frequency::parse("MS").unwrap(),
            Frequency::Months {
                months: 1,
                anchor: MonthAnchor::Start
            }
        );
        assert!(Frequency::parse("fortnightly").is_err());
    }

    proptest! {
        #[test]
        fn iso_dates_round_trip(days in 0i64..60_000) {
            let date = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + Duration::days(days);
            let text = date.format("%Y-%m-%d").to_string();
            let parsed = parse_time(&text).unwrap().time;
            prop_assert_eq!(parsed, date.and_hms_opt(0, 0, 0).unwrap());
            let us = date.format("%m/%d/%Y").to_string();
            prop_assert_eq!(parse_time(&us).unwrap().time, parsed);
            prop_assert_eq!(format_time(parsed), text);
        }

        #[test]
        fn date_times_round_trip(secs in 0i64..2_000_000_000) {
            let base = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
            let time = base + Duration::seconds(secs);
            let text = time.format("%Y-%m-%d %H:%M:%S").to_string();
            prop_assert_eq!(parse_time(&text).unwrap().time, time);
        }

        #[test]
        fn grid_steps_invert(step in 0i64..500, kind in 0usize..4) {
            let frequency = [
                Frequency::Fixed { seconds: HOUR },
                Frequency::Fixed { seconds: WEEK },
                Frequency::Months { months: 1, anchor: MonthAnchor::End },
                Frequency::Months { months: 3, anchor: MonthAnchor::Start },
            ][kind];
            let grid = Grid { frequency, origin: t("2000-01-31") };
            let grid = Grid { origin: grid.time_at(0), ..grid };
            prop_assert_eq!(grid.index_of(grid.time_at(step)), Some(step));
        }

        #[test]
        fn garbage_never_panics(s in "\\PC{0,24}") {
            let _ = parse_time(&s);
        }
    }
}
