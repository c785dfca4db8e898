//! Hyperparameters: the values a trial sets, each algorithm's declared search space, and the
//! typed parameters a learner is fitted with.
//!
//! Each family declares its hyperparameters once, with `hyperparams!`:
//! field name, Rust type, domain (integer or real range, log scale or not, or a choice enum
//! declared with `choice_param!`), default and low-cost starting value.
//! From that one declaration come the typed struct the learner reads, its [`Hyperparams::SPACE`]
//! table (what the search samples), [`Hyperparams::check`] (a [`Params`] map validated once into
//! the typed struct: unknown names and out-of-range values are errors) and
//! [`Hyperparams::to_params`] (the complete map, which is what trials, child runs and bundles
//! record).

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

/// A full set of hyperparameter values, by name: the record form of a configuration.
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

/// A Rust type a hyperparameter can have, and how it is written in a [`Params`] map.
pub trait ParamType: Sized {
    /// The map form of the value.
    fn to_value(&self) -> ParamValue;
    /// The value read from its map form; `None` when the map holds another kind of value.
    fn from_value(value: &ParamValue) -> Option<Self>;
}

impl ParamType for usize {
    fn to_value(&self) -> ParamValue {
        ParamValue::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }

    fn from_value(value: &ParamValue) -> Option<Self> {
        match value {
            ParamValue::Int(v) => usize::try_from(*v).ok(),
            _ => None,
        }
    }
}

impl ParamType for f64 {
    fn to_value(&self) -> ParamValue {
        ParamValue::Float(*self)
    }

    fn from_value(value: &ParamValue) -> Option<Self> {
        match value {
            ParamValue::Float(v) => Some(*v),
            ParamValue::Int(v) => Some(*v as f64),
            ParamValue::Choice(_) => None,
        }
    }
}

/// The typed hyperparameters of one algorithm family, declared with
/// `hyperparams!`.
pub trait Hyperparams: Sized + Clone + PartialEq + std::fmt::Debug + Default {
    /// The declared hyperparameters: ranges, defaults and low-cost starting values, in
    /// declaration order. The search samples this table.
    const SPACE: &'static [ParamSpec];

    /// Validates `params` into the typed form, filling absent names with their defaults.
    /// A name outside [`Self::SPACE`] or a value outside its range is an
    /// [`AutotabError::InvalidConfig`] naming the parameter and its range.
    fn check(params: &Params) -> Result<Self>;

    /// The complete map of these values, one entry per declared parameter.
    fn to_params(&self) -> Params;
}

/// Refuses any name of `params` that `space` does not declare, listing the declared ones.
pub fn check_names(space: &[ParamSpec], params: &Params) -> Result<()> {
    match params
        .keys()
        .find(|name| !space.iter().any(|s| s.name == *name))
    {
        None => Ok(()),
        Some(name) => Err(AutotabError::config(format!(
            "no hyperparameter '{name}'; the known ones are: {}",
            space.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// Reads parameter `name` of `space` from `params` (its default when absent), checked against
/// its range. Used by the code `hyperparams!` generates.
pub fn read_param<T: ParamType>(space: &[ParamSpec], name: &str, params: &Params) -> Result<T> {
    let spec = space
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| AutotabError::config(format!("no hyperparameter '{name}'")))?;
    let value = params
        .get(name)
        .cloned()
        .unwrap_or_else(|| spec.default.value());
    spec.check(&value)?;
    T::from_value(&value).ok_or_else(|| {
        AutotabError::config(format!(
            "hyperparameter '{name}' = {value} is not of its kind {}",
            spec.describe_domain()
        ))
    })
}

/// Declares a closed set of names a hyperparameter chooses from, as an enum whose names
/// (given once, as string literals) serve parsing, display, the space table and the map form.
///
/// ```text
/// choice_param! {
///     /// How neighbours' votes count.
///     pub enum KnnWeights {
///         /// Every neighbour counts the same.
///         Uniform = "uniform",
///         /// Nearer neighbours count more.
///         Distance = "distance",
///     }
/// }
/// ```
macro_rules! choice_param {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[doc = $doc:literal])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash,
            strum::EnumString, strum::IntoStaticStr, strum::Display,
            strum::VariantNames, strum::VariantArray,
        )]
        $vis enum $name {
            $( $(#[doc = $doc])* #[strum(to_string = $text)] $variant, )+
        }

        impl $crate::models::params::ParamType for $name {
            fn to_value(&self) -> $crate::models::params::ParamValue {
                let name: &'static str = (*self).into();
                $crate::models::params::ParamValue::Choice(name.to_string())
            }

            fn from_value(value: &$crate::models::params::ParamValue) -> Option<Self> {
                match value {
                    $crate::models::params::ParamValue::Choice(v) => v.parse().ok(),
                    _ => None,
                }
            }
        }
    };
}
pub(crate) use choice_param;

/// Declares the typed hyperparameters of an algorithm family, once: for each field its Rust
/// type, domain, default and low-cost starting value. Generates the struct (with a `Default`
/// holding the declared defaults) and its [`Hyperparams`]
/// implementation: the `SPACE` table, `check` and `to_params`.
///
/// A domain is `int(low, high)`, `float(low, high)` (append `, log` for a log scale) or
/// `choice` (the field's type then comes from `choice_param!`). A field
/// whose recorded name is not a Rust identifier is written `field as "Name"`.
///
/// ```text
/// hyperparams! {
///     /// k nearest neighbours.
///     pub struct KnnParams {
///         /// Number of neighbours.
///         n_neighbors: usize = int(1, 100, log), default 5, low_cost 5;
///         /// How their votes count.
///         weights: KnnWeights = choice, default KnnWeights::Uniform, low_cost KnnWeights::Uniform;
///     }
/// }
/// ```
macro_rules! hyperparams {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $field:ident $(as $rename:literal)? : $ty:ty = $kind:ident $(($($domain:tt)*))?,
                default $default:expr, low_cost $low_cost:expr;
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        $vis struct $name {
            $( $(#[doc = $doc])* pub $field: $ty, )+
        }

        impl Default for $name {
            fn default() -> Self {
                $name { $( $field: $default, )+ }
            }
        }

        impl $crate::models::params::Hyperparams for $name {
            const SPACE: &'static [$crate::models::params::ParamSpec] = &[
                $( $crate::models::params::hyperparams!(
                    @spec $crate::models::params::hyperparams!(@name $field $($rename)?), $ty,
                    $kind $(($($domain)*))?, $default, $low_cost
                ), )+
            ];

            fn check(
                params: &$crate::models::params::Params,
            ) -> $crate::error::Result<Self> {
                $crate::models::params::check_names(Self::SPACE, params)?;
                Ok($name {
                    $( $field: $crate::models::params::read_param(
                        Self::SPACE,
                        $crate::models::params::hyperparams!(@name $field $($rename)?),
                        params,
                    )?, )+
                })
            }

            fn to_params(&self) -> $crate::models::params::Params {
                [ $( (
                    $crate::models::params::hyperparams!(@name $field $($rename)?).to_string(),
                    $crate::models::params::ParamType::to_value(&self.$field),
                ), )+ ]
                .into_iter()
                .collect()
            }
        }
    };

    (@name $field:ident $rename:literal) => { $rename };
    (@name $field:ident) => { stringify!($field) };

    (@spec $name:expr, $ty:ty, int($low:expr, $high:expr, log), $default:expr, $low_cost:expr) => {
        $crate::models::params::ParamSpec::int($name, $low, $high, true, $default, $low_cost)
    };
    (@spec $name:expr, $ty:ty, int($low:expr, $high:expr), $default:expr, $low_cost:expr) => {
        $crate::models::params::ParamSpec::int($name, $low, $high, false, $default, $low_cost)
    };
    (@spec $name:expr, $ty:ty, float($low:expr, $high:expr, log), $default:expr, $low_cost:expr) => {
        $crate::models::params::ParamSpec::float($name, $low, $high, true, $default, $low_cost)
    };
    (@spec $name:expr, $ty:ty, float($low:expr, $high:expr), $default:expr, $low_cost:expr) => {
        $crate::models::params::ParamSpec::float($name, $low, $high, false, $default, $low_cost)
    };
    (@spec $name:expr, $ty:ty, choice, $default:expr, $low_cost:expr) => {
        $crate::models::params::ParamSpec::choice(
            $name,
            <$ty as strum::VariantNames>::VARIANTS,
            <$ty as strum::VariantNames>::VARIANTS[$default as usize],
            <$ty as strum::VariantNames>::VARIANTS[$low_cost as usize],
        )
    };
}
pub(crate) use hyperparams;

#[cfg(test)]
mod tests {
    use super::*;

    super::choice_param! {
        /// A test choice.
        enum Shape {
            /// Round.
            Round = "round",
            /// Square.
            Square = "square",
        }
    }

    super::hyperparams! {
        /// A test family.
        struct TestParams {
            /// An integer on a log scale.
            k: usize = int(1, 50, log), default 5, low_cost 2;
            /// A real.
            alpha: f64 = float(1e-4, 10.0, log), default 1.0, low_cost 0.5;
            /// A renamed real.
            c as "C": f64 = float(0.0, 1.0), default 0.25, low_cost 0.25;
            /// A choice.
            shape: Shape = choice, default Shape::Square, low_cost Shape::Round;
        }
    }

    #[test]
    fn the_declaration_gives_the_table() {
        let space = TestParams::SPACE;
        assert_eq!(space[0], ParamSpec::int("k", 1, 50, true, 5, 2));
        assert_eq!(
            space[1],
            ParamSpec::float("alpha", 1e-4, 10.0, true, 1.0, 0.5)
        );
        assert_eq!(space[2], ParamSpec::float("C", 0.0, 1.0, false, 0.25, 0.25));
        assert_eq!(
            space[3],
            ParamSpec::choice("shape", &["round", "square"], "square", "round")
        );
    }

    #[test]
    fn defaults_fill_missing_values() {
        let mut p = Params::new();
        p.insert("k".into(), ParamValue::Int(7));
        let typed = TestParams::check(&p).unwrap();
        assert_eq!(
            typed,
            TestParams {
                k: 7,
                ..TestParams::default()
            }
        );
        assert_eq!(typed.alpha, 1.0);
        assert_eq!(typed.shape, Shape::Square);
        assert_eq!(
            TestParams::check(&Params::new()).unwrap(),
            TestParams::default()
        );
    }

    #[test]
    fn typed_values_round_trip_through_the_map() {
        let typed = TestParams {
            k: 9,
            alpha: 0.01,
            c: 0.5,
            shape: Shape::Round,
        };
        let map = typed.to_params();
        assert_eq!(map["C"], ParamValue::Float(0.5));
        assert_eq!(map["shape"], ParamValue::Choice("round".into()));
        assert_eq!(map.len(), TestParams::SPACE.len());
        assert_eq!(TestParams::check(&map).unwrap(), typed);
    }

    #[test]
    fn out_of_range_unknown_names_and_wrong_kinds_are_errors() {
        let with = |name: &str, value: ParamValue| {
            let mut p = Params::new();
            p.insert(name.into(), value);
            TestParams::check(&p).unwrap_err().to_string()
        };
        let err = with("k", ParamValue::Int(0));
        assert!(
            err.contains("'k'") && err.contains("[1, 50] (log)"),
            "{err}"
        );
        let err = with("depth", ParamValue::Int(3));
        assert!(
            err.contains("no hyperparameter 'depth'") && err.contains("alpha, C, shape"),
            "{err}"
        );
        let err = with("shape", ParamValue::Choice("oval".into()));
        assert!(
            err.contains("'shape'") && err.contains("{round, square}"),
            "{err}"
        );
        let err = with("k", ParamValue::Float(3.0));
        assert!(err.contains("'k'"), "{err}");
        // An integer where a real is declared is read as that real.
        let mut p = Params::new();
        p.insert("alpha".into(), ParamValue::Int(2));
        assert_eq!(TestParams::check(&p).unwrap().alpha, 2.0);
    }
}
