//! Hyperparameters: the values a trial sets, and each algorithm's declared search space.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{AutotabError, Result};

/// One hyperparameter value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// An integer.
    Int(i64),
    /// A real number.
    Float(f64),
    /// One of a fixed set of names.
    Choice(String),
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Int(v) => write!(f, "{v}"),
            ParamValue::Float(v) => {
                if v.abs() >= 1e-3 && v.abs() < 1e4 {
                    write!(f, "{}", (v * 1e4).round() / 1e4)
                } else {
                    write!(f, "{v:.3e}")
                }
            }
            ParamValue::Choice(v) => f.write_str(v),
        }
    }
}

/// A full set of hyperparameter values, by name.
pub type Params = BTreeMap<String, ParamValue>;

/// The range a hyperparameter is searched over.
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    /// Integers in `[low, high]`, sampled on a log scale when `log`.
    Int {
        /// Smallest value.
        low: i64,
        /// Largest value.
        high: i64,
        /// Sample uniformly in log space.
        log: bool,
    },
    /// Reals in `[low, high]`, sampled on a log scale when `log`.
    Float {
        /// Smallest value.
        low: f64,
        /// Largest value.
        high: f64,
        /// Sample uniformly in log space.
        log: bool,
    },
    /// One of the listed names.
    Choice(&'static [&'static str]),
}

/// A value written in a search-space table (a `const` form of [`ParamValue`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SpecValue {
    /// An integer.
    Int(i64),
    /// A real number.
    Float(f64),
    /// One of the domain's names.
    Choice(&'static str),
}

impl SpecValue {
    /// The owned value.
    pub fn value(self) -> ParamValue {
        match self {
            SpecValue::Int(v) => ParamValue::Int(v),
            SpecValue::Float(v) => ParamValue::Float(v),
            SpecValue::Choice(v) => ParamValue::Choice(v.to_string()),
        }
    }
}

/// One hyperparameter of an algorithm: its name, range, default and cheap starting value.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// Name as it appears in params and reports.
    pub name: &'static str,
    /// Search range.
    pub domain: Domain,
    /// The library's usual default.
    pub default: SpecValue,
    /// The value the search starts from: the cheapest sensible one (FLAML's low-cost init).
    pub low_cost: SpecValue,
}

impl ParamSpec {
    /// An integer parameter.
    pub const fn int(
        name: &'static str,
        low: i64,
        high: i64,
        log: bool,
        default: i64,
        low_cost: i64,
    ) -> Self {
        ParamSpec {
            name,
            domain: Domain::Int { low, high, log },
            default: SpecValue::Int(default),
            low_cost: SpecValue::Int(low_cost),
        }
    }

    /// A real parameter.
    pub const fn float(
        name: &'static str,
        low: f64,
        high: f64,
        log: bool,
        default: f64,
        low_cost: f64,
    ) -> Self {
        ParamSpec {
            name,
            domain: Domain::Float { low, high, log },
            default: SpecValue::Float(default),
            low_cost: SpecValue::Float(low_cost),
        }
    }

    /// A parameter naming one of `options`.
    pub const fn choice(
        name: &'static str,
        options: &'static [&'static str],
        default: &'static str,
        low_cost: &'static str,
    ) -> Self {
        ParamSpec {
            name,
            domain: Domain::Choice(options),
            default: SpecValue::Choice(default),
            low_cost: SpecValue::Choice(low_cost),
        }
    }

    /// Checks that `value` lies in this parameter's domain.
    pub fn check(&self, value: &ParamValue) -> Result<()> {
        let ok = match (&self.domain, value) {
            (Domain::Int { low, high, .. }, ParamValue::Int(v)) => v >= low && v <= high,
            (Domain::Float { low, high, .. }, ParamValue::Float(v)) => v >= low && v <= high,
            (Domain::Float { low, high, .. }, ParamValue::Int(v)) => {
                (*v as f64) >= *low && (*v as f64) <= *high
            }
            (Domain::Choice(options), ParamValue::Choice(v)) => options.contains(&v.as_str()),
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(AutotabError::config(format!(
                "hyperparameter '{}' = {value} is outside its range {}",
                self.name,
                self.describe_domain()
            )))
        }
    }

    /// The domain written for people: `[1, 100] (log)`, `{gini, entropy}`.
    pub fn describe_domain(&self) -> String {
        match &self.domain {
            Domain::Int { low, high, log } => {
                format!("[{low}, {high}]{}", if *log { " (log)" } else { "" })
            }
            Domain::Float { low, high, log } => {
                format!("[{low}, {high}]{}", if *log { " (log)" } else { "" })
            }
            Domain::Choice(options) => format!("{{{}}}", options.join(", ")),
        }
    }
}

/// Typed access to a validated [`Params`] map.
pub(crate) struct ParamReader<'a> {
    params: &'a Params,
}

impl<'a> ParamReader<'a> {
    pub(crate) fn new(params: &'a Params) -> Self {
        ParamReader { params }
    }

    pub(crate) fn float(&self, name: &str, default: f64) -> f64 {
        match self.params.get(name) {
            Some(ParamValue::Float(v)) => *v,
            Some(ParamValue::Int(v)) => *v as f64,
            _ => default,
        }
    }

    pub(crate) fn int(&self, name: &str, default: i64) -> i64 {
        match self.params.get(name) {
            Some(ParamValue::Int(v)) => *v,
            Some(ParamValue::Float(v)) => v.round() as i64,
            _ => default,
        }
    }

    pub(crate) fn choice(&self, name: &str, default: &'a str) -> &'a str {
        match self.params.get(name) {
            Some(ParamValue::Choice(v)) => v.as_str(),
            _ => default,
        }
    }
}

/// Completes `params` with the defaults of `space` and checks every value against its range.
/// Unknown names are an error that lists the known ones.
pub fn complete_and_check(space: &[ParamSpec], params: &Params, algorithm: &str) -> Result<Params> {
    for name in params.keys() {
        if !space.iter().any(|s| s.name == name) {
            return Err(AutotabError::config(format!(
                "{algorithm} has no hyperparameter '{name}'; it has: {}",
                space.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let mut full = Params::new();
    for spec in space {
        let value = params
            .get(spec.name)
            .cloned()
            .unwrap_or_else(|| spec.default.value());
        spec.check(&value)?;
        full.insert(spec.name.to_string(), value);
    }
    Ok(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPACE: [ParamSpec; 2] = [
        ParamSpec::int("k", 1, 50, true, 5, 5),
        ParamSpec::float("alpha", 1e-4, 10.0, true, 1.0, 1.0),
    ];

    #[test]
    fn defaults_fill_missing_values() {
        let mut p = Params::new();
        p.insert("k".into(), ParamValue::Int(7));
        let full = complete_and_check(&SPACE, &p, "KNN").unwrap();
        assert_eq!(full["k"], ParamValue::Int(7));
        assert_eq!(full["alpha"], ParamValue::Float(1.0));
    }

    #[test]
    fn out_of_range_and_unknown_names_are_errors() {
        let mut p = Params::new();
        p.insert("k".into(), ParamValue::Int(0));
        let err = complete_and_check(&SPACE, &p, "KNN")
            .unwrap_err()
            .to_string();
        assert!(err.contains("'k'") && err.contains("[1, 50]"), "{err}");
        let mut p = Params::new();
        p.insert("depth".into(), ParamValue::Int(3));
        let err = complete_and_check(&SPACE, &p, "KNN")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no hyperparameter 'depth'") && err.contains("alpha"),
            "{err}"
        );
    }
}
