//! The strong start: a fixed, ordered portfolio of configurations known to do well across
//! tabular data, run before any sampled trial.
//!
//! AutoGluon wins small tables in seconds because its first models are good defaults, not
//! search starting points; FLAML's cost-frugal search wins large ones because it keeps
//! improving. The scheduler does both: [`PORTFOLIO`] first (cheapest first, filtered to the
//! run's algorithms), then the local search around the best of them.
//!
//! The table is written by hand from the sources named in each entry's `origin`. It has not been
//! tuned on the bench splits: tuning it (by leave-one-dataset-out over the shared splits, so that
//! it generalizes to unseen tables) is future work, and any change to it must say how it was
//! chosen. Boosting entries give `n_estimators` as a cap: the trial stops its rounds early on an
//! inner split of each fold and records the rounds it kept.

use crate::models::{Algorithm, ParamSpec, Params, SpecValue};

/// One configuration of the strong start.
#[derive(Debug, Clone, Copy)]
pub struct PortfolioEntry {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The values that differ from the algorithm's declared defaults.
    pub values: &'static [(&'static str, SpecValue)],
    /// Rough relative cost (1 = a linear model on the same table): the run order.
    pub cost: f64,
    /// Where the configuration comes from.
    pub origin: &'static str,
}

impl PortfolioEntry {
    /// The complete parameters: the algorithm's defaults with this entry's values.
    pub fn params(&self) -> Params {
        let space: &[ParamSpec] = self.algorithm.space();
        let mut params: Params = space
            .iter()
            .map(|s| (s.name.to_string(), s.default.value()))
            .collect();
        for (name, value) in self.values {
            params.insert((*name).to_string(), value.value());
        }
        params
    }
}

use SpecValue::{Choice, Float, Int};

/// The strong start, in no particular order (the scheduler sorts it by `cost`).
pub const PORTFOLIO: &[PortfolioEntry] = &[
    PortfolioEntry {
        algorithm: Algorithm::GaussianNaiveBayes,
        values: &[],
        cost: 0.2,
        origin: "scikit-learn's GaussianNB defaults",
    },
    PortfolioEntry {
        algorithm: Algorithm::LogisticRegression,
        values: &[("alpha", Float(1.0)), ("max_iterations", Int(200))],
        cost: 1.0,
        origin: "scikit-learn's LogisticRegression defaults (C = 1), the `logreg` anchor",
    },
    PortfolioEntry {
        algorithm: Algorithm::ElasticNet,
        values: &[("penalty", Float(1e-3)), ("l1_ratio", Float(0.0))],
        cost: 1.0,
        origin: "a lightly penalised ridge, the `logreg` anchor's regression counterpart",
    },
    PortfolioEntry {
        algorithm: Algorithm::ElasticNet,
        values: &[("penalty", Float(1e-2)), ("l1_ratio", Float(0.5))],
        cost: 1.2,
        origin: "scikit-learn's ElasticNet l1_ratio with a moderate penalty",
    },
    PortfolioEntry {
        algorithm: Algorithm::DecisionTree,
        values: &[("max_depth", Int(8)), ("min_samples_leaf", Int(5))],
        cost: 1.5,
        origin: "a pruned CART tree (depth 8, 5 rows per leaf)",
    },
    PortfolioEntry {
        algorithm: Algorithm::GradientBoosting,
        values: &[
            ("n_estimators", Int(1000)),
            ("num_leaves", Int(31)),
            ("min_child_samples", Int(20)),
            ("learning_rate", Float(0.1)),
        ],
        cost: 3.0,
        origin: "LightGBM's defaults (the `lgbm_default` anchor) with early-stopped rounds",
    },
    PortfolioEntry {
        algorithm: Algorithm::KNearestNeighbors,
        values: &[("n_neighbors", Int(10)), ("weights", Choice("distance"))],
        cost: 4.0,
        origin: "AutoGluon's KNeighborsDist",
    },
    PortfolioEntry {
        algorithm: Algorithm::RandomForest,
        values: &[
            ("n_estimators", Int(150)),
            ("max_features", Float(0.35)),
            ("max_leaves", Int(32768)),
            ("min_samples_leaf", Int(1)),
        ],
        cost: 6.0,
        origin: "scikit-learn's RandomForest (the `rf` anchor): unlimited trees, about sqrt(p) features per node",
    },
    PortfolioEntry {
        algorithm: Algorithm::ExtraTrees,
        values: &[
            ("n_estimators", Int(150)),
            ("max_features", Float(0.5)),
            ("max_leaves", Int(32768)),
            ("min_samples_leaf", Int(1)),
        ],
        cost: 5.0,
        origin: "AutoGluon's ExtraTrees: unlimited trees, half the features per node",
    },
    PortfolioEntry {
        algorithm: Algorithm::GradientBoosting,
        values: &[
            ("n_estimators", Int(2000)),
            ("num_leaves", Int(15)),
            ("min_child_samples", Int(10)),
            ("learning_rate", Float(0.05)),
            ("colsample_bytree", Float(0.7)),
            ("subsample", Float(0.8)),
            ("reg_lambda", Float(1.0)),
        ],
        cost: 7.0,
        origin: "small regularised trees at a moderate rate, as in FLAML's zero-shot LightGBM starts",
    },
    PortfolioEntry {
        algorithm: Algorithm::GradientBoosting,
        values: &[
            ("n_estimators", Int(2000)),
            ("num_leaves", Int(15)),
            ("min_child_samples", Int(10)),
            ("learning_rate", Float(0.05)),
            ("colsample_bytree", Float(0.7)),
            ("subsample", Float(0.8)),
            ("reg_lambda", Float(1.0)),
            ("target", Choice("log")),
        ],
        cost: 7.1,
        origin: "the entry above on the label's logarithm, the usual start for skewed positive \
                 regression labels (prices); run only when every label is above 0",
    },
    PortfolioEntry {
        algorithm: Algorithm::GradientBoosting,
        values: &[
            ("n_estimators", Int(2000)),
            ("num_leaves", Int(128)),
            ("min_child_samples", Int(3)),
            ("learning_rate", Float(0.03)),
            ("colsample_bytree", Float(0.9)),
        ],
        cost: 12.0,
        origin: "AutoGluon's GBMLarge (num_leaves 128, feature_fraction 0.9, min_data_in_leaf 3, learning_rate 0.03)",
    },
    PortfolioEntry {
        algorithm: Algorithm::LinearSvm,
        values: &[("C", Float(1.0))],
        cost: 8.0,
        origin: "scikit-learn's LinearSVC defaults (C = 1)",
    },
];

/// Configurations considered for [`PORTFOLIO`] and not (yet) in it: the pool the
/// leave-one-dataset-out tuning (`examples/portfolio_lodo.rs`) chooses from, together with
/// the portfolio's own entries. Never run by a search.
pub const CANDIDATES: &[PortfolioEntry] = &[
    PortfolioEntry {
        algorithm: Algorithm::GradientBoosting,
        values: &[("n_estimators", Int(2000)), ("learning_rate", Float(0.05))],
        cost: 4.0,
        origin: "AutoGluon's GBM default (LightGBM at learning_rate 0.05)",
    },
    PortfolioEntry {
        algorithm: Algorithm::GradientBoosting,
        values: &[
            ("n_estimators", Int(1000)),
            ("num_leaves", Int(63)),
            ("min_child_samples", Int(10)),
            ("learning_rate", Float(0.1)),
            ("colsample_bytree", Float(0.6)),
            ("reg_lambda", Float(5.0)),
        ],
        cost: 6.0,
        origin: "larger trees with column sampling and L2, a common Kaggle LightGBM start",
    },
    PortfolioEntry {
        algorithm: Algorithm::GradientBoosting,
        values: &[
            ("n_estimators", Int(2000)),
            ("num_leaves", Int(7)),
            ("min_child_samples", Int(30)),
            ("learning_rate", Float(0.05)),
            ("subsample", Float(0.8)),
        ],
        cost: 5.0,
        origin: "shallow, heavily averaged trees (num_leaves 7): boosting for small noisy tables",
    },
    PortfolioEntry {
        algorithm: Algorithm::RandomForest,
        values: &[
            ("n_estimators", Int(150)),
            ("max_features", Float(1.0)),
            ("max_leaves", Int(32768)),
            ("min_samples_leaf", Int(1)),
        ],
        cost: 9.0,
        origin: "scikit-learn's RandomForestRegressor default (every feature at each node)",
    },
    PortfolioEntry {
        algorithm: Algorithm::RandomForest,
        values: &[
            ("n_estimators", Int(150)),
            ("max_features", Float(0.35)),
            ("max_leaves", Int(32768)),
            ("min_samples_leaf", Int(5)),
        ],
        cost: 5.0,
        origin: "the `rf` anchor with 5 rows per leaf (smoother probabilities)",
    },
    PortfolioEntry {
        algorithm: Algorithm::ExtraTrees,
        values: &[
            ("n_estimators", Int(150)),
            ("max_features", Float(1.0)),
            ("max_leaves", Int(32768)),
            ("min_samples_leaf", Int(1)),
        ],
        cost: 7.0,
        origin: "scikit-learn's ExtraTreesRegressor default (every feature at each node)",
    },
    PortfolioEntry {
        algorithm: Algorithm::ExtraTrees,
        values: &[
            ("n_estimators", Int(150)),
            ("max_features", Float(0.5)),
            ("max_leaves", Int(32768)),
            ("min_samples_leaf", Int(8)),
        ],
        cost: 4.0,
        origin: "AutoGluon's ExtraTrees with 8 rows per leaf (smoother on small tables)",
    },
    PortfolioEntry {
        algorithm: Algorithm::KNearestNeighbors,
        values: &[("n_neighbors", Int(5)), ("weights", Choice("uniform"))],
        cost: 4.0,
        origin: "AutoGluon's KNeighborsUnif (scikit-learn's defaults)",
    },
    PortfolioEntry {
        algorithm: Algorithm::KNearestNeighbors,
        values: &[("n_neighbors", Int(30)), ("weights", Choice("distance"))],
        cost: 4.0,
        origin: "a wide distance-weighted neighbourhood (30 neighbours)",
    },
    PortfolioEntry {
        algorithm: Algorithm::LogisticRegression,
        values: &[("alpha", Float(0.1)), ("max_iterations", Int(300))],
        cost: 1.2,
        origin: "logistic regression with C = 10 (weak penalty)",
    },
    PortfolioEntry {
        algorithm: Algorithm::LogisticRegression,
        values: &[("alpha", Float(10.0)), ("max_iterations", Int(200))],
        cost: 1.0,
        origin: "logistic regression with C = 0.1 (strong penalty)",
    },
    PortfolioEntry {
        algorithm: Algorithm::ElasticNet,
        values: &[("penalty", Float(0.1)), ("l1_ratio", Float(0.5))],
        cost: 1.0,
        origin: "scikit-learn's ElasticNet at a tenth of its default alpha",
    },
    PortfolioEntry {
        algorithm: Algorithm::LinearSvm,
        values: &[("C", Float(0.1))],
        cost: 6.0,
        origin: "a linear SVM with C = 0.1",
    },
    PortfolioEntry {
        algorithm: Algorithm::DecisionTree,
        values: &[("max_depth", Int(5)), ("min_samples_leaf", Int(20))],
        cost: 1.2,
        origin: "a shallow CART tree (depth 5, 20 rows per leaf)",
    },
];

/// The portfolio's configurations for `algorithms`, cheapest first; a family of `algorithms`
/// without an entry gets one at its low-cost starting point (placed first: it is cheap).
pub fn strong_start(algorithms: &[Algorithm]) -> Vec<(Algorithm, Params)> {
    let mut entries: Vec<(f64, Algorithm, Params)> = Vec::new();
    for &algorithm in algorithms {
        let own: Vec<&PortfolioEntry> = PORTFOLIO
            .iter()
            .filter(|e| e.algorithm == algorithm)
            .collect();
        if own.is_empty() {
            entries.push((0.0, algorithm, super::low_cost_params(algorithm.space())));
        }
        entries.extend(own.into_iter().map(|e| (e.cost, algorithm, e.params())));
    }
    // Stable: equal costs keep the run's algorithm order.
    entries.sort_by(|a, b| a.0.total_cmp(&b.0));
    entries.into_iter().map(|(_, a, p)| (a, p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::AlgorithmParams;

    #[test]
    fn every_entry_checks_into_its_typed_parameters() {
        for entry in PORTFOLIO.iter().chain(CANDIDATES) {
            let params = entry.params();
            let typed = AlgorithmParams::check(entry.algorithm, &params);
            assert!(typed.is_ok(), "{}: {typed:?}", entry.origin);
            assert_eq!(typed.unwrap().to_params(), params);
        }
    }

    #[test]
    fn the_start_keeps_the_run_algorithms_cheapest_first() {
        let start = strong_start(&[Algorithm::GradientBoosting, Algorithm::LogisticRegression]);
        let algorithms: Vec<Algorithm> = start.iter().map(|(a, _)| *a).collect();
        assert_eq!(algorithms[0], Algorithm::LogisticRegression);
        assert!(algorithms[1..]
            .iter()
            .all(|a| *a == Algorithm::GradientBoosting));
        // One logistic regression; boosting's three raw-label entries and its log-label one
        // (dropped by the scheduler's pin when the run cannot use it).
        assert_eq!(algorithms.len(), 5);
    }
}
