//! Names of closed sets (algorithms, metrics, tasks, column kinds, featurization modes) for the
//! command line.
//!
//! Each enum's names are written once, in its `strum` attributes: `to_string` is the canonical
//! name and every `serialize` an accepted alias. Parsing, display and, through
//! [`value_enum!`](value_enum), clap's [`ValueEnum`](clap::ValueEnum) (so a flag can take the
//! enum as a typed value) all read them from there.

use clap::builder::PossibleValue;

/// The clap value of `value`: its canonical name, its aliases and its doc comment as help.
pub(crate) fn possible_value<T>(value: T) -> PossibleValue
where
    T: Copy + Into<&'static str> + strum::EnumMessage,
{
    let name: &'static str = value.into();
    let aliases = value
        .get_serializations()
        .iter()
        .copied()
        .filter(move |alias| *alias != name);
    let possible = PossibleValue::new(name).aliases(aliases);
    match value.get_documentation() {
        // Doc comments wrap over lines; help is one line.
        Some(doc) => possible.help(doc.split_whitespace().collect::<Vec<_>>().join(" ")),
        None => possible,
    }
}

/// Implements [`clap::ValueEnum`] for a `strum`-named enum whose values are `$variants` (an
/// array or slice constant), by [`possible_value`].
macro_rules! value_enum {
    ($ty:ty, $variants:expr) => {
        impl clap::ValueEnum for $ty {
            fn value_variants<'a>() -> &'a [Self] {
                &$variants
            }

            fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
                Some($crate::names::possible_value(*self))
            }
        }
    };
}
pub(crate) use value_enum;

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use crate::data::ColumnKind;
    use crate::featurize::FeaturizationMode;
    use crate::metrics::Metric;
    use crate::models::Algorithm;
    use crate::task::Task;

    /// Every clap value parses back, by name and by alias, through the enum's own parser.
    fn check<T>(parse: impl Fn(&str) -> crate::Result<T>)
    where
        T: ValueEnum + PartialEq + std::fmt::Debug + std::fmt::Display,
    {
        for value in T::value_variants() {
            let possible = value.to_possible_value().expect("every variant is a value");
            assert_eq!(possible.get_name(), value.to_string());
            for name in possible.get_name_and_aliases() {
                assert_eq!(&parse(name).unwrap(), value, "{name}");
                assert_eq!(&T::from_str(name, true).unwrap(), value, "{name}");
            }
        }
    }

    #[test]
    fn clap_values_agree_with_the_parsers() {
        check(Algorithm::parse);
        check(Metric::parse);
        check(Task::parse);
        check(ColumnKind::parse);
        check(FeaturizationMode::parse);
    }

    #[test]
    fn aliases_and_help_reach_clap() {
        let gbm = Algorithm::GradientBoosting.to_possible_value().unwrap();
        assert_eq!(gbm.get_name(), "LightGBM");
        assert!(gbm.matches("xgboost", true));
        assert!(gbm.get_help().is_some());
        let classification = Task::Classification.to_possible_value().unwrap();
        assert!(classification.matches("binary", false));
        assert_eq!(Algorithm::value_variants().len(), Algorithm::ALL.len());
    }
}
