//! Algorithm names in allowed/blocked lists: Azure's names (`LightGBM`, `XGBoostClassifier`,
//! `light_gbm`, ...) and autotab's map to an [`Algorithm`]; Azure algorithms autotab does not
//! have are acknowledged with a note rather than refused.

use crate::error::{AutotabError, Result};
use crate::models::Algorithm;

/// What an algorithm name means here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meaning {
    /// One of autotab's algorithms (`stand_in` when Azure's algorithm differs from it).
    Ours {
        algorithm: Algorithm,
        stand_in: bool,
    },
    /// An Azure algorithm autotab does not have.
    Missing,
}

/// Azure's algorithm names (classification, regression and forecasting), lowercase without
/// separators, and what each means here.
const AZURE_NAMES: &[(&str, Meaning)] = &[
    ("lightgbm", ours(Algorithm::GradientBoosting, false)),
    ("gradientboosting", ours(Algorithm::GradientBoosting, true)),
    ("xgboostclassifier", ours(Algorithm::GradientBoosting, true)),
    ("xgboostregressor", ours(Algorithm::GradientBoosting, true)),
    ("randomforest", ours(Algorithm::RandomForest, false)),
    ("extremerandomtrees", ours(Algorithm::ExtraTrees, false)),
    (
        "logisticregression",
        ours(Algorithm::LogisticRegression, false),
    ),
    ("knn", ours(Algorithm::KNearestNeighbors, false)),
    ("linearsvm", ours(Algorithm::LinearSvm, false)),
    ("svm", ours(Algorithm::LinearSvm, true)),
    ("decisiontree", ours(Algorithm::DecisionTree, false)),
    ("elasticnet", ours(Algorithm::ElasticNet, false)),
    ("sgd", Meaning::Missing),
    ("bernoullinaivebayes", Meaning::Missing),
    ("multinomialnaivebayes", Meaning::Missing),
    ("lassolars", Meaning::Missing),
    ("tabnetclassifier", Meaning::Missing),
    ("tabnetregressor", Meaning::Missing),
    ("autoarima", Meaning::Missing),
    ("prophet", Meaning::Missing),
    ("naive", Meaning::Missing),
    ("seasonalnaive", Meaning::Missing),
    ("average", Meaning::Missing),
    ("seasonalaverage", Meaning::Missing),
    ("exponentialsmoothing", Meaning::Missing),
    ("arimax", Meaning::Missing),
    ("tcnforecaster", Meaning::Missing),
];

const fn ours(algorithm: Algorithm, stand_in: bool) -> Meaning {
    Meaning::Ours {
        algorithm,
        stand_in,
    }
}

fn normalize(name: &str) -> String {
    name.trim()
        .to_ascii_lowercase()
        .replace(['_', '-', ' '], "")
}

/// A resolved allowed/blocked list.
#[derive(Debug, Clone, PartialEq)]
pub struct AlgorithmList {
    /// autotab's algorithms named, without repeats.
    pub algorithms: Vec<Algorithm>,
    /// One line per name with no exact local meaning.
    pub notes: Vec<String>,
}

/// Resolves the names of `key` (an allowed list when `allowed`, else a blocked one).
/// An unknown name is an error naming `key` and suggesting the closest name.
pub fn resolve_algorithms(key: &str, names: &[String], allowed: bool) -> Result<AlgorithmList> {
    let mut list = AlgorithmList {
        algorithms: Vec::new(),
        notes: Vec::new(),
    };
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let wanted = normalize(name);
        let meaning = AZURE_NAMES
            .iter()
            .find(|(n, _)| *n == wanted)
            .map(|(_, m)| *m)
            .or_else(|| {
                Algorithm::parse(name).ok().map(|algorithm| Meaning::Ours {
                    algorithm,
                    stand_in: false,
                })
            });
        match meaning {
            Some(Meaning::Ours {
                algorithm,
                stand_in,
            }) => {
                if stand_in {
                    list.notes.push(format!(
                        "{key}: {name} runs as autotab's {}",
                        algorithm.name()
                    ));
                }
                if !list.algorithms.contains(&algorithm) {
                    list.algorithms.push(algorithm);
                }
            }
            Some(Meaning::Missing) => list.notes.push(if allowed {
                format!("{key}: {name} is not available in autotab; skipped")
            } else {
                format!("{key}: {name} is not available in autotab; nothing to block")
            }),
            None => return Err(unknown(key, name)),
        }
    }
    Ok(list)
}

fn unknown(key: &str, name: &str) -> AutotabError {
    let wanted = normalize(name);
    let ours = Algorithm::ALL.map(|a| a.name());
    let closest = ours
        .iter()
        .map(|n| (normalize(n), *n))
        .chain(
            AZURE_NAMES
                .iter()
                .filter(|(_, m)| *m == Meaning::Missing)
                .map(|(n, _)| (n.to_string(), *n)),
        )
        .map(|(n, shown)| (strsim::jaro_winkler(&n, &wanted), shown))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .filter(|(score, _)| *score > 0.8)
        .map(|(_, shown)| format!("; did you mean {shown}?"))
        .unwrap_or_default();
    AutotabError::config(format!(
        "{key}: unknown algorithm '{name}'{closest} (autotab's algorithms: {}; Azure's names are accepted too)",
        ours.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn azure_names_map_or_are_acknowledged() {
        let list = resolve_algorithms(
            "allowed",
            &names(&[
                "gradient_boosting",
                "logistic_regression",
                "LightGBM",
                "XGBoostClassifier",
                "ExtremeRandomTrees",
                "KNN",
                "TabnetClassifier",
            ]),
            true,
        )
        .unwrap();
        assert_eq!(
            list.algorithms,
            vec![
                Algorithm::GradientBoosting,
                Algorithm::LogisticRegression,
                Algorithm::ExtraTrees,
                Algorithm::KNearestNeighbors
            ]
        );
        assert!(list
            .notes
            .iter()
            .any(|n| n.contains("TabnetClassifier") && n.contains("skipped")));
        assert!(list
            .notes
            .iter()
            .any(|n| n.contains("gradient_boosting runs as")));
        let blocked =
            resolve_algorithms("blocked", &names(&["MultinomialNaiveBayes", "SGD"]), false)
                .unwrap();
        assert!(blocked.algorithms.is_empty());
        assert_eq!(blocked.notes.len(), 2);
        assert!(blocked.notes[0].contains("nothing to block"));
        let own = resolve_algorithms("allowed", &names(&["GaussianNaiveBayes"]), true).unwrap();
        assert_eq!(own.algorithms, vec![Algorithm::GaussianNaiveBayes]);
    }

    #[test]
    fn unknown_names_suggest_the_closest() {
        let err = resolve_algorithms(
            "training.allowed_training_algorithms",
            &names(&["RandomForrest"]),
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(
                "training.allowed_training_algorithms: unknown algorithm 'RandomForrest'"
            ),
            "{err}"
        );
        assert!(err.contains("did you mean RandomForest?"), "{err}");
    }
}
