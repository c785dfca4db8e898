//! Learning algorithms behind one interface.
//!
//! [`Algorithm`] is the closed set of families; each family lives in its own file and declares
//! its search space there ([`Algorithm::space`]). An [`Estimator`] is an algorithm with checked
//! hyperparameters (unfitted); [`Estimator::fit`] returns a [`FittedModel`], a serde enum that
//! predicts without mutating.

mod boosting;
mod decision_tree;
mod forest;
mod knn;
mod linear;
mod naive_bayes;
pub mod params;
mod scaler;
mod smartcore_glue;
mod svm;
pub mod trees;

use std::time::Instant;

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

pub use params::{Domain, ParamSpec, ParamValue, Params, SpecValue};

use crate::error::{AutotabError, Result};
use crate::task::Task;

/// The algorithm families autotab searches over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Algorithm {
    /// L2-regularised logistic regression (linfa-logistic); classification.
    LogisticRegression,
    /// Elastic net, covering ridge and lasso (linfa-elasticnet); regression.
    ElasticNet,
    /// A single CART decision tree (smartcore).
    DecisionTree,
    /// k nearest neighbours (smartcore, cover tree).
    KNearestNeighbors,
    /// Gaussian naive Bayes (smartcore); classification.
    GaussianNaiveBayes,
    /// Linear support vector machine with Platt-scaled probabilities (linfa-svm); classification.
    LinearSvm,
    /// Random forest on the native histogram tree core.
    RandomForest,
    /// Extremely randomised trees on the native histogram tree core.
    ExtraTrees,
    /// Gradient-boosted trees (LightGBM-style) on the native histogram tree core.
    GradientBoosting,
    /// A weighted average of the best trials' models, chosen by greedy ensemble selection
    /// after the search; never searched or trained directly.
    VotingEnsemble,
}

impl Algorithm {
    /// Every algorithm, in the order the search first tries them (cheapest first).
    pub const ALL: [Algorithm; 9] = [
        Algorithm::GradientBoosting,
        Algorithm::LogisticRegression,
        Algorithm::ElasticNet,
        Algorithm::RandomForest,
        Algorithm::ExtraTrees,
        Algorithm::GaussianNaiveBayes,
        Algorithm::DecisionTree,
        Algorithm::KNearestNeighbors,
        Algorithm::LinearSvm,
    ];

    /// The name used in reports, configs and `--allowed-algorithms` (Azure's where there is one).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::LogisticRegression => "LogisticRegression",
            Algorithm::ElasticNet => "ElasticNet",
            Algorithm::DecisionTree => "DecisionTree",
            Algorithm::KNearestNeighbors => "KNN",
            Algorithm::GaussianNaiveBayes => "GaussianNaiveBayes",
            Algorithm::LinearSvm => "LinearSVM",
            Algorithm::RandomForest => "RandomForest",
            Algorithm::ExtraTrees => "ExtremeRandomTrees",
            Algorithm::GradientBoosting => "LightGBM",
            Algorithm::VotingEnsemble => "VotingEnsemble",
        }
    }

    /// Parses a name, case-insensitively, ignoring `_` and `-`; a few aliases are accepted.
    pub fn parse(name: &str) -> Result<Algorithm> {
        let norm = |s: &str| s.to_ascii_lowercase().replace(['_', '-', ' '], "");
        let wanted = norm(name);
        let alias = match wanted.as_str() {
            "logistic" | "logreg" => Some(Algorithm::LogisticRegression),
            "ridge" | "lasso" | "elasticnet" | "linearregression" => Some(Algorithm::ElasticNet),
            "knearestneighbors" | "kneighbors" => Some(Algorithm::KNearestNeighbors),
            "naivebayes" | "gaussiannb" => Some(Algorithm::GaussianNaiveBayes),
            "svm" | "linearsvc" => Some(Algorithm::LinearSvm),
            "rf" | "randomforest" => Some(Algorithm::RandomForest),
            "extratrees" | "extremerandomtrees" | "et" => Some(Algorithm::ExtraTrees),
            "gbm" | "gradientboosting" | "lightgbm" | "xgboost" | "xgboostclassifier" => {
                Some(Algorithm::GradientBoosting)
            }
            _ => None,
        };
        alias
            .or_else(|| {
                Algorithm::ALL
                    .into_iter()
                    .find(|a| norm(a.name()) == wanted)
            })
            .ok_or_else(|| {
                AutotabError::config(format!(
                    "unknown algorithm '{name}'; valid algorithms: {}",
                    Algorithm::ALL.map(|a| a.name()).join(", ")
                ))
            })
    }

    /// Whether this algorithm can learn `task` (forecasting uses the regression learners).
    pub fn supports(self, task: Task) -> bool {
        match self {
            Algorithm::LogisticRegression
            | Algorithm::GaussianNaiveBayes
            | Algorithm::LinearSvm => task == Task::Classification,
            Algorithm::ElasticNet => task != Task::Classification,
            Algorithm::DecisionTree
            | Algorithm::KNearestNeighbors
            | Algorithm::RandomForest
            | Algorithm::ExtraTrees
            | Algorithm::GradientBoosting => true,
            Algorithm::VotingEnsemble => false,
        }
    }

    /// The declared hyperparameters with ranges, defaults and low-cost starting values.
    pub fn space(self) -> &'static [ParamSpec] {
        match self {
            Algorithm::LogisticRegression => linear::LOGISTIC_SPACE,
            Algorithm::ElasticNet => linear::ELASTIC_NET_SPACE,
            Algorithm::DecisionTree => decision_tree::SPACE,
            Algorithm::KNearestNeighbors => knn::SPACE,
            Algorithm::GaussianNaiveBayes => naive_bayes::SPACE,
            Algorithm::LinearSvm => svm::SPACE,
            Algorithm::RandomForest | Algorithm::ExtraTrees => forest::SPACE,
            Algorithm::GradientBoosting => boosting::SPACE,
            Algorithm::VotingEnsemble => &[],
        }
    }

    /// Most training rows this algorithm is given in a trial; larger folds are subsampled
    /// (kernel SVM and k-NN scale badly with rows).
    pub fn max_train_rows(self) -> Option<usize> {
        match self {
            Algorithm::LinearSvm => Some(3_000),
            Algorithm::KNearestNeighbors => Some(20_000),
            _ => None,
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Training targets: class indices (classification) or real values (regression).
#[derive(Debug, Clone, Copy)]
pub enum TargetRef<'a> {
    /// Class indices in `0..n_classes`.
    Classes {
        /// One index per row.
        labels: &'a [usize],
        /// Number of classes of the whole problem (a fold may miss some).
        n_classes: usize,
    },
    /// Real values.
    Values(&'a [f64]),
}

impl TargetRef<'_> {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            TargetRef::Classes { labels, .. } => labels.len(),
            TargetRef::Values(v) => v.len(),
        }
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of output columns of a prediction: classes, or 1 for regression.
    pub fn n_outputs(&self) -> usize {
        match self {
            TargetRef::Classes { n_classes, .. } => *n_classes,
            TargetRef::Values(_) => 1,
        }
    }
}

/// Rows to learn from.
#[derive(Debug, Clone, Copy)]
pub struct TrainSet<'a> {
    /// Featurized rows (no NaN).
    pub x: ArrayView2<'a, f64>,
    /// Targets, one per row.
    pub y: TargetRef<'a>,
    /// Optional per-row weights.
    pub weights: Option<&'a [f64]>,
    /// The same rows already binned for the tree learners (built once per fold and shared).
    pub binned: Option<&'a trees::BinnedData>,
}

/// What a fit may use besides the rows: its deadline, its seed, and a validation part for
/// learners that stop early.
#[derive(Debug, Clone, Copy)]
pub struct FitContext<'a> {
    /// Iterative learners stop when this instant passes.
    pub deadline: Option<Instant>,
    /// Seed for every random choice of the fit.
    pub seed: u64,
    /// Held-out rows for early stopping, when the learner uses them.
    pub valid: Option<TrainSet<'a>>,
}

/// An algorithm with checked hyperparameters: the unfitted model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimator {
    algorithm: Algorithm,
    params: Params,
}

impl Estimator {
    /// Checks `params` against the algorithm's space, filling in defaults.
    pub fn new(algorithm: Algorithm, params: &Params) -> Result<Estimator> {
        let params = params::complete_and_check(algorithm.space(), params, algorithm.name())?;
        Ok(Estimator { algorithm, params })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The complete, checked hyperparameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Trains on `train`. Classification models predict `n_classes` probability columns even
    /// when some class is absent from `train`.
    pub fn fit(&self, train: &TrainSet, ctx: &FitContext) -> Result<FittedModel> {
        if train.x.nrows() != train.y.len() {
            return Err(AutotabError::fit(
                self.algorithm,
                format!(
                    "{} rows of features but {} targets",
                    train.x.nrows(),
                    train.y.len()
                ),
            ));
        }
        if train.x.nrows() == 0 {
            return Err(AutotabError::fit(self.algorithm, "no training rows"));
        }
        if let TargetRef::Classes { labels, n_classes } = train.y {
            let present = present_classes(labels);
            if present.len() == 1 {
                let mut proba = vec![0.0; n_classes];
                proba[present[0]] = 1.0;
                return Ok(FittedModel::Constant {
                    output: proba,
                    n_features: train.x.ncols(),
                });
            }
        }
        let reader = params::ParamReader::new(&self.params);
        let model = match self.algorithm {
            Algorithm::LogisticRegression => {
                FittedModel::Linear(linear::fit_logistic(&reader, train)?)
            }
            Algorithm::ElasticNet => FittedModel::Linear(linear::fit_elastic_net(&reader, train)?),
            Algorithm::DecisionTree => {
                FittedModel::DecisionTree(decision_tree::fit(&reader, train, ctx)?)
            }
            Algorithm::KNearestNeighbors => FittedModel::Knn(knn::fit(&reader, train)?),
            Algorithm::GaussianNaiveBayes => {
                FittedModel::NaiveBayes(naive_bayes::fit(&reader, train)?)
            }
            Algorithm::LinearSvm => FittedModel::Svm(svm::fit(&reader, train, ctx)?),
            Algorithm::RandomForest => {
                FittedModel::Forest(forest::fit(&reader, train, ctx, false)?)
            }
            Algorithm::ExtraTrees => FittedModel::Forest(forest::fit(&reader, train, ctx, true)?),
            Algorithm::GradientBoosting => {
                FittedModel::Boosting(boosting::fit(&reader, train, ctx)?)
            }
            Algorithm::VotingEnsemble => {
                return Err(AutotabError::fit(
                    self.algorithm,
                    "an ensemble is built from fitted trials, not trained from parameters",
                ))
            }
        };
        Ok(model)
    }
}

/// A trained model of any family.
#[derive(Debug, Serialize, Deserialize)]
pub enum FittedModel {
    /// Logistic regression or elastic net: coefficients on standardised features.
    Linear(linear::LinearModel),
    /// A decision tree.
    DecisionTree(decision_tree::TreeModel),
    /// k nearest neighbours.
    Knn(knn::KnnModel),
    /// Gaussian naive Bayes.
    NaiveBayes(naive_bayes::NaiveBayesModel),
    /// Linear SVM (one-vs-rest for more than two classes).
    Svm(svm::SvmModel),
    /// Random forest or extra trees.
    Forest(forest::ForestFit),
    /// Gradient-boosted trees.
    Boosting(boosting::BoostingModel),
    /// A weighted average of member models' outputs (weights sum to 1).
    Ensemble(Vec<(f64, FittedModel)>),
    /// The same output for every row (a training part that held a single class).
    Constant {
        /// The output row: class probabilities or the single value.
        output: Vec<f64>,
        /// Number of input features.
        n_features: usize,
    },
}

impl FittedModel {
    /// Predicts `x`: an `n x k` matrix of class probabilities (rows sum to 1) for
    /// classification, or an `n x 1` matrix of values for regression.
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        let expected = self.n_features();
        if x.ncols() != expected {
            return Err(AutotabError::Predict(format!(
                "the model expects {expected} features, got {}",
                x.ncols()
            )));
        }
        match self {
            FittedModel::Linear(m) => Ok(m.predict(x)),
            FittedModel::DecisionTree(m) => m.predict(x),
            FittedModel::Knn(m) => m.predict(x),
            FittedModel::NaiveBayes(m) => Ok(m.predict(x)),
            FittedModel::Svm(m) => Ok(m.predict(x)),
            FittedModel::Forest(m) => Ok(m.forest.predict(x)),
            FittedModel::Boosting(m) => Ok(m.gbm.predict(x)),
            FittedModel::Ensemble(members) => {
                let mut total: Option<Array2<f64>> = None;
                for (weight, model) in members {
                    let p = model.predict(x)? * *weight;
                    total = Some(match total {
                        Some(t) => t + p,
                        None => p,
                    });
                }
                total.ok_or_else(|| AutotabError::Predict("an ensemble without members".into()))
            }
            FittedModel::Constant { output, .. } => {
                let row = ndarray::ArrayView1::from(output.as_slice());
                Ok(row
                    .broadcast((x.nrows(), output.len()))
                    .map(|b| b.to_owned())
                    .unwrap_or_default())
            }
        }
    }

    /// Checks a decoded model before it predicts, so that a damaged or crafted `model.bin`
    /// cannot make prediction index out of bounds or loop: the tree models' node and leaf
    /// indices and output widths, ensemble members' shapes and weights, a constant's output.
    /// Models of the other families are checked by their libraries as they decode.
    pub fn validate(&self) -> Result<()> {
        match self {
            FittedModel::Forest(m) => m.forest.validate(),
            FittedModel::Boosting(m) => m.gbm.validate(),
            FittedModel::Ensemble(members) => {
                let Some((_, first)) = members.first() else {
                    return Err(AutotabError::data("an ensemble without members"));
                };
                for (weight, member) in members {
                    if !weight.is_finite() || *weight < 0.0 {
                        return Err(AutotabError::data(format!(
                            "an ensemble member has weight {weight}"
                        )));
                    }
                    member.validate()?;
                    let same_outputs = match (member.n_outputs(), first.n_outputs()) {
                        (Some(a), Some(b)) => a == b,
                        _ => true,
                    };
                    if member.n_features() != first.n_features() || !same_outputs {
                        return Err(AutotabError::data(
                            "ensemble members differ in their inputs or outputs",
                        ));
                    }
                }
                Ok(())
            }
            FittedModel::Constant { output, .. } => {
                if output.is_empty() || output.iter().any(|v| !v.is_finite()) {
                    return Err(AutotabError::data(
                        "a constant model without a finite output",
                    ));
                }
                Ok(())
            }
            FittedModel::Linear(_)
            | FittedModel::DecisionTree(_)
            | FittedModel::Knn(_)
            | FittedModel::NaiveBayes(_)
            | FittedModel::Svm(_) => Ok(()),
        }
    }

    /// Number of output columns of [`FittedModel::predict`], when the model states it (tree
    /// models, constants and ensembles of them); `None` for the other families.
    pub fn n_outputs(&self) -> Option<usize> {
        match self {
            FittedModel::Forest(m) => Some(m.forest.n_outputs()),
            FittedModel::Boosting(m) => Some(m.gbm.n_outputs()),
            FittedModel::Constant { output, .. } => Some(output.len()),
            FittedModel::Ensemble(members) => members.iter().find_map(|(_, m)| m.n_outputs()),
            FittedModel::Linear(_)
            | FittedModel::DecisionTree(_)
            | FittedModel::Knn(_)
            | FittedModel::NaiveBayes(_)
            | FittedModel::Svm(_) => None,
        }
    }

    /// Number of input features the model was trained on.
    pub fn n_features(&self) -> usize {
        match self {
            FittedModel::Linear(m) => m.n_features(),
            FittedModel::DecisionTree(m) => m.n_features(),
            FittedModel::Knn(m) => m.n_features(),
            FittedModel::NaiveBayes(m) => m.n_features(),
            FittedModel::Svm(m) => m.n_features(),
            FittedModel::Forest(m) => m.forest.n_features(),
            FittedModel::Boosting(m) => m.gbm.n_features(),
            FittedModel::Ensemble(members) => {
                members.first().map(|m| m.1.n_features()).unwrap_or(0)
            }
            FittedModel::Constant { n_features, .. } => *n_features,
        }
    }
}

/// Whether the algorithm learns from binned features (and so uses a shared [`trees::BinnedData`]).
pub fn uses_binned_features(algorithm: Algorithm) -> bool {
    matches!(
        algorithm,
        Algorithm::RandomForest | Algorithm::ExtraTrees | Algorithm::GradientBoosting
    )
}

/// The binned rows a tree learner trains on: the shared copy when there is one, else binned
/// here into `slot`.
pub(crate) fn binned_rows<'a>(
    shared: Option<&'a trees::BinnedData>,
    x: ArrayView2<f64>,
    slot: &'a mut Option<trees::BinnedData>,
    seed: u64,
) -> &'a trees::BinnedData {
    match shared {
        Some(b) => b,
        None => slot.insert(trees::BinnedData::build(x, 255, seed)),
    }
}

/// The tree core's view of a target.
pub(crate) fn tree_target(y: TargetRef<'_>) -> trees::TreeTarget<'_> {
    match y {
        TargetRef::Classes { labels, n_classes } => {
            trees::TreeTarget::Classes { labels, n_classes }
        }
        TargetRef::Values(v) => trees::TreeTarget::Values(v),
    }
}

/// Turns per-class score columns of the classes present in training into `n_classes` columns,
/// with zeros for absent classes.
pub(crate) fn expand_classes(
    present: &[usize],
    scores: &Array2<f64>,
    n_classes: usize,
) -> Array2<f64> {
    let mut out = Array2::zeros((scores.nrows(), n_classes));
    for (j, &class) in present.iter().enumerate() {
        out.column_mut(class).assign(&scores.column(j));
    }
    out
}

/// The sorted distinct class indices of `labels`.
pub(crate) fn present_classes(labels: &[usize]) -> Vec<usize> {
    let mut classes: Vec<usize> = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    classes
}
