//! Learning algorithms behind one interface.
//!
//! [`Algorithm`] is the closed set of families; each family lives in its own file and declares
//! its typed hyperparameters there, once, with a `hyperparams!` table ([`params`]); the search
//! samples that table ([`Algorithm::space`]). An [`Estimator`] is an algorithm with checked,
//! typed hyperparameters ([`AlgorithmParams`]), unfitted; [`Estimator::fit`] returns a
//! [`FittedModel`], a serde enum that predicts without mutating.

mod boosting;
mod deadline;
mod decision_tree;
mod forest;
mod knn;
mod linear;
mod naive_bayes;
pub mod params;
mod scaler;
mod smartcore_glue;
pub mod stacked;
mod svm;
mod target_scale;
pub mod trees;

use std::time::Instant;

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

pub use boosting::{BoostingModel, BoostingParams};
pub use decision_tree::{DecisionTreeParams, TreeCriterion};
pub use forest::{ForestFit, RandomForestParams};
pub use knn::{KnnParams, KnnWeights};
pub use linear::{ElasticNetParams, LogisticRegressionParams};
pub use naive_bayes::NaiveBayesParams;
pub use params::{Domain, Hyperparams, ParamSpec, ParamValue, Params, SpecValue};
pub use stacked::{StackInput, StackedModel};
pub use svm::LinearSvmParams;
pub(crate) use target_scale::log_possible;
pub use target_scale::TargetScale;

use crate::error::{AutotabError, Result};
use crate::task::Task;

/// The algorithm families autotab searches over.
///
/// Names (the `strum` attributes are their one source): each variant's `to_string` is the name
/// used in reports, configs and `--allowed-algorithms` (Azure's where there is one); its
/// `serialize` values are accepted aliases, written lowercase without separators because
/// [`Algorithm::parse`] ignores case, `_`, `-` and spaces.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
    strum::EnumMessage,
)]
#[strum(ascii_case_insensitive)]
pub enum Algorithm {
    /// L2-regularised logistic regression (L-BFGS by argmin); classification.
    #[strum(
        to_string = "LogisticRegression",
        serialize = "logistic",
        serialize = "logreg"
    )]
    LogisticRegression,
    /// Elastic net, covering ridge and lasso (coordinate descent); regression.
    #[strum(
        to_string = "ElasticNet",
        serialize = "ridge",
        serialize = "lasso",
        serialize = "linearregression"
    )]
    ElasticNet,
    /// A single CART decision tree (smartcore).
    #[strum(to_string = "DecisionTree")]
    DecisionTree,
    /// k nearest neighbours (exact brute-force search).
    #[strum(
        to_string = "KNN",
        serialize = "knearestneighbors",
        serialize = "kneighbors"
    )]
    KNearestNeighbors,
    /// Gaussian naive Bayes (computed directly, as scikit-learn's `GaussianNB`); classification.
    #[strum(
        to_string = "GaussianNaiveBayes",
        serialize = "naivebayes",
        serialize = "gaussiannb"
    )]
    GaussianNaiveBayes,
    /// Linear support vector machine with Platt-scaled probabilities (dual coordinate descent); classification.
    #[strum(to_string = "LinearSVM", serialize = "svm", serialize = "linearsvc")]
    LinearSvm,
    /// Random forest on the native histogram tree core.
    #[strum(to_string = "RandomForest", serialize = "rf")]
    RandomForest,
    /// Extremely randomised trees on the native histogram tree core.
    #[strum(
        to_string = "ExtremeRandomTrees",
        serialize = "extratrees",
        serialize = "et"
    )]
    ExtraTrees,
    /// Gradient-boosted trees (LightGBM-style) on the native histogram tree core.
    #[strum(
        to_string = "LightGBM",
        serialize = "gbm",
        serialize = "gradientboosting",
        serialize = "xgboost",
        serialize = "xgboostclassifier"
    )]
    GradientBoosting,
}

impl Algorithm {
    /// Every algorithm the search can try, in the order it first tries them (cheapest first).
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
        self.into()
    }

    /// Parses a name or alias of a searchable algorithm, ignoring case, `_`, `-` and spaces.
    /// An unknown name is an [`AutotabError::InvalidConfig`] listing the valid names.
    pub fn parse(name: &str) -> Result<Algorithm> {
        let wanted = name.replace(['_', '-', ' '], "");
        wanted
            .parse::<Algorithm>()
            .ok()
            .filter(|a| Algorithm::ALL.contains(a))
            .ok_or_else(|| {
                AutotabError::config(format!(
                    "unknown algorithm '{name}'; valid algorithms: {}",
                    Algorithm::ALL.map(|a| a.name()).join(", ")
                ))
            })
    }

    /// Whether this algorithm can learn `task`. Forecasting is answered as regression (the
    /// learners a forecaster would use), though forecasting jobs are refused before any search
    /// until it is implemented.
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
        }
    }

    /// The declared hyperparameters with ranges, defaults and low-cost starting values: the
    /// table generated from the family's typed parameters.
    pub fn space(self) -> &'static [ParamSpec] {
        match self {
            Algorithm::LogisticRegression => LogisticRegressionParams::SPACE,
            Algorithm::ElasticNet => ElasticNetParams::SPACE,
            Algorithm::DecisionTree => DecisionTreeParams::SPACE,
            Algorithm::KNearestNeighbors => KnnParams::SPACE,
            Algorithm::GaussianNaiveBayes => NaiveBayesParams::SPACE,
            Algorithm::LinearSvm => LinearSvmParams::SPACE,
            Algorithm::RandomForest | Algorithm::ExtraTrees => RandomForestParams::SPACE,
            Algorithm::GradientBoosting => BoostingParams::SPACE,
        }
    }

    /// Most training rows this algorithm is given in a trial or refit; larger sets are
    /// subsampled (the SVM's SMO solver and k-NN's neighbour search scale badly with rows).
    pub fn max_train_rows(self) -> Option<usize> {
        match self {
            Algorithm::LinearSvm => Some(10_000),
            Algorithm::KNearestNeighbors => Some(20_000),
            _ => None,
        }
    }
}

crate::names::value_enum!(Algorithm, Algorithm::ALL);

/// The checked, typed hyperparameters of one algorithm.
#[derive(Debug, Clone, PartialEq)]
pub enum AlgorithmParams {
    /// Logistic regression.
    LogisticRegression(LogisticRegressionParams),
    /// Elastic net.
    ElasticNet(ElasticNetParams),
    /// Decision tree.
    DecisionTree(DecisionTreeParams),
    /// k nearest neighbours.
    KNearestNeighbors(KnnParams),
    /// Gaussian naive Bayes.
    GaussianNaiveBayes(NaiveBayesParams),
    /// Linear SVM.
    LinearSvm(LinearSvmParams),
    /// Random forest.
    RandomForest(RandomForestParams),
    /// Extra trees (the forest's parameters).
    ExtraTrees(RandomForestParams),
    /// Gradient boosting.
    GradientBoosting(BoostingParams),
}

impl AlgorithmParams {
    /// Validates `params` for `algorithm` into its typed form, defaults filling absent names.
    /// Unknown names and out-of-range values are [`AutotabError::InvalidConfig`] errors naming
    /// the algorithm, the parameter and its range.
    pub fn check(algorithm: Algorithm, params: &Params) -> Result<AlgorithmParams> {
        let checked = match algorithm {
            Algorithm::LogisticRegression => {
                LogisticRegressionParams::check(params).map(Self::LogisticRegression)
            }
            Algorithm::ElasticNet => ElasticNetParams::check(params).map(Self::ElasticNet),
            Algorithm::DecisionTree => DecisionTreeParams::check(params).map(Self::DecisionTree),
            Algorithm::KNearestNeighbors => KnnParams::check(params).map(Self::KNearestNeighbors),
            Algorithm::GaussianNaiveBayes => {
                NaiveBayesParams::check(params).map(Self::GaussianNaiveBayes)
            }
            Algorithm::LinearSvm => LinearSvmParams::check(params).map(Self::LinearSvm),
            Algorithm::RandomForest => RandomForestParams::check(params).map(Self::RandomForest),
            Algorithm::ExtraTrees => RandomForestParams::check(params).map(Self::ExtraTrees),
            Algorithm::GradientBoosting => {
                BoostingParams::check(params).map(Self::GradientBoosting)
            }
        };
        checked.map_err(|e| AutotabError::config(format!("{algorithm}: {e}")))
    }

    /// The algorithm these parameters are for.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            AlgorithmParams::LogisticRegression(_) => Algorithm::LogisticRegression,
            AlgorithmParams::ElasticNet(_) => Algorithm::ElasticNet,
            AlgorithmParams::DecisionTree(_) => Algorithm::DecisionTree,
            AlgorithmParams::KNearestNeighbors(_) => Algorithm::KNearestNeighbors,
            AlgorithmParams::GaussianNaiveBayes(_) => Algorithm::GaussianNaiveBayes,
            AlgorithmParams::LinearSvm(_) => Algorithm::LinearSvm,
            AlgorithmParams::RandomForest(_) => Algorithm::RandomForest,
            AlgorithmParams::ExtraTrees(_) => Algorithm::ExtraTrees,
            AlgorithmParams::GradientBoosting(_) => Algorithm::GradientBoosting,
        }
    }

    /// The complete map of the values, one entry per declared parameter.
    pub fn to_params(&self) -> Params {
        match self {
            AlgorithmParams::LogisticRegression(p) => p.to_params(),
            AlgorithmParams::ElasticNet(p) => p.to_params(),
            AlgorithmParams::DecisionTree(p) => p.to_params(),
            AlgorithmParams::KNearestNeighbors(p) => p.to_params(),
            AlgorithmParams::GaussianNaiveBayes(p) => p.to_params(),
            AlgorithmParams::LinearSvm(p) => p.to_params(),
            AlgorithmParams::RandomForest(p) | AlgorithmParams::ExtraTrees(p) => p.to_params(),
            AlgorithmParams::GradientBoosting(p) => p.to_params(),
        }
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

    /// The targets of the rows at `indices`, owned (a sample of the training rows).
    pub fn select(&self, indices: &[usize]) -> crate::target::Targets {
        match self {
            TargetRef::Classes { labels, n_classes } => crate::target::Targets::Classes(
                indices.iter().map(|&i| labels[i]).collect(),
                *n_classes,
            ),
            TargetRef::Values(v) => {
                crate::target::Targets::Values(indices.iter().map(|&i| v[i]).collect())
            }
        }
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
/// learners that would stop early on it.
#[derive(Debug, Clone, Copy)]
pub struct FitContext<'a> {
    /// Iterative learners stop when this instant passes.
    pub deadline: Option<Instant>,
    /// Seed for every random choice of the fit.
    pub seed: u64,
    /// Held-out rows for early stopping: gradient boosting stops its rounds on them (the
    /// search passes an inner split of each fold's training rows; refits pass `None` and train
    /// the rounds the search chose). Other families ignore them.
    pub valid: Option<TrainSet<'a>>,
}

/// An algorithm with checked, typed hyperparameters: the unfitted model.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimator {
    params: AlgorithmParams,
}

impl Estimator {
    /// Checks `params` against the algorithm's space, filling in defaults.
    pub fn new(algorithm: Algorithm, params: &Params) -> Result<Estimator> {
        Ok(Estimator {
            params: AlgorithmParams::check(algorithm, params)?,
        })
    }

    /// An estimator from already typed parameters.
    pub fn from_typed(params: AlgorithmParams) -> Estimator {
        Estimator { params }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.params.algorithm()
    }

    /// The typed hyperparameters.
    pub fn typed_params(&self) -> &AlgorithmParams {
        &self.params
    }

    /// The complete hyperparameters as a map (the record form).
    pub fn params(&self) -> Params {
        self.params.to_params()
    }

    /// Trains on `train`. Classification models predict `n_classes` probability columns even
    /// when some class is absent from `train`.
    ///
    /// Every learner honours `ctx.deadline`: a fit that cannot end before it returns
    /// [`AutotabError::Budget`] (at once when the deadline has already passed) rather than
    /// running on past it.
    pub fn fit(&self, train: &TrainSet, ctx: &FitContext) -> Result<FittedModel> {
        if train.x.nrows() != train.y.len() {
            return Err(AutotabError::fit(
                self.algorithm(),
                format!(
                    "{} rows of features but {} targets",
                    train.x.nrows(),
                    train.y.len()
                ),
            ));
        }
        if train.x.nrows() == 0 {
            return Err(AutotabError::fit(self.algorithm(), "no training rows"));
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
        deadline::Deadline::new(ctx.deadline, self.algorithm()).check("before training")?;
        let model = match &self.params {
            AlgorithmParams::LogisticRegression(p) => {
                FittedModel::Linear(linear::fit_logistic(p, train, ctx)?)
            }
            AlgorithmParams::ElasticNet(p) => {
                FittedModel::Linear(linear::fit_elastic_net(p, train, ctx)?)
            }
            AlgorithmParams::DecisionTree(p) => {
                FittedModel::DecisionTree(decision_tree::fit(p, train, ctx)?)
            }
            AlgorithmParams::KNearestNeighbors(p) => FittedModel::Knn(knn::fit(p, train, ctx)?),
            AlgorithmParams::GaussianNaiveBayes(p) => {
                FittedModel::NaiveBayes(naive_bayes::fit(p, train)?)
            }
            AlgorithmParams::LinearSvm(p) => FittedModel::Svm(svm::fit(p, train, ctx)?),
            AlgorithmParams::RandomForest(p) => {
                FittedModel::Forest(forest::fit(p, train, ctx, false)?)
            }
            AlgorithmParams::ExtraTrees(p) => {
                FittedModel::Forest(forest::fit(p, train, ctx, true)?)
            }
            AlgorithmParams::GradientBoosting(p) => {
                FittedModel::Boosting(boosting::fit(p, train, ctx)?)
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
    /// Member models whose outputs feed a meta-learner (a stack ensemble). Last, so that the
    /// variants before it keep their encoding in bundles saved before it existed.
    Stacked(StackedModel),
}

impl FittedModel {
    /// A deep copy, made through the bundle's encoding (the library tree models are not
    /// `Clone`): used where one fitted model serves several bagged folds.
    pub fn duplicate(&self) -> Result<FittedModel> {
        let bytes = bincode::serialize(self)
            .map_err(|e| AutotabError::config(format!("cannot copy a model: {e}")))?;
        bincode::deserialize(&bytes)
            .map_err(|e| AutotabError::config(format!("cannot copy a model: {e}")))
    }

    /// The boosting rounds the model keeps (its best round under early stopping); `None` for
    /// other families.
    pub fn boosting_rounds(&self) -> Option<usize> {
        match self {
            FittedModel::Boosting(m) => Some(m.gbm.best_iteration()),
            _ => None,
        }
    }

    /// Predicts `x`: an `n x k` matrix of class probabilities (rows sum to 1) for
    /// classification, or an `n x 1` matrix of values for regression.
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        self.predict_before(x, None)
    }

    /// [`Self::predict`] within a deadline: the learners whose prediction is costly (k-NN's
    /// neighbour searches) predict in blocks and stop with [`AutotabError::Budget`] once the
    /// rest would end past `deadline`; the others are fast and predict as usual. A trial
    /// scores its validation rows with this, inside the trial's deadline.
    pub fn predict_before(
        &self,
        x: ArrayView2<f64>,
        deadline: Option<Instant>,
    ) -> Result<Array2<f64>> {
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
            FittedModel::Knn(m) => m.predict_before(x, deadline),
            FittedModel::NaiveBayes(m) => Ok(m.predict(x)),
            FittedModel::Svm(m) => Ok(m.predict(x)),
            FittedModel::Forest(m) => Ok(m.forest.predict(x)),
            FittedModel::Boosting(m) => Ok(m.predict(x)),
            FittedModel::Ensemble(members) => {
                let mut total: Option<Array2<f64>> = None;
                for (weight, model) in members {
                    let p = model.predict_before(x, deadline)? * *weight;
                    total = Some(match total {
                        Some(t) => t + p,
                        None => p,
                    });
                }
                total.ok_or_else(|| AutotabError::Predict("an ensemble without members".into()))
            }
            FittedModel::Stacked(m) => m.predict_before(x, deadline),
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
    /// indices and output widths, ensemble members' shapes and weights, a stack's members and
    /// meta-learner width, a constant's output.
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
            FittedModel::Stacked(m) => m.validate(),
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
    /// models, constants, ensembles of them and stacks whose meta-learner states it); `None`
    /// for the other families.
    pub fn n_outputs(&self) -> Option<usize> {
        match self {
            FittedModel::Forest(m) => Some(m.forest.n_outputs()),
            FittedModel::Boosting(m) => Some(m.gbm.n_outputs()),
            FittedModel::Constant { output, .. } => Some(output.len()),
            FittedModel::Ensemble(members) => members.iter().find_map(|(_, m)| m.n_outputs()),
            FittedModel::Stacked(m) => m.meta.n_outputs(),
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
            FittedModel::Stacked(m) => m.n_features(),
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

/// Each label as its position among the classes present (the columns a learner fitted only on
/// those classes scores): `[2, 0, 2]` gives `[1, 0, 1]`.
pub(crate) fn positions_among_present(labels: &[usize], present: &[usize]) -> Vec<usize> {
    let mut position = vec![0; present.last().map_or(0, |c| c + 1)];
    for (i, c) in present.iter().enumerate() {
        position[*c] = i;
    }
    labels.iter().map(|l| position[*l]).collect()
}

#[cfg(test)]
impl FitContext<'static> {
    /// No deadline, seed 0, no validation rows: the context of a learner's unit tests.
    pub(crate) fn unbounded() -> Self {
        FitContext {
            deadline: None,
            seed: 0,
            valid: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_map_to_their_position_among_the_present_classes() {
        let labels = [2, 0, 2, 5];
        let present = present_classes(&labels);
        assert_eq!(positions_among_present(&labels, &present), [1, 0, 1, 2]);
    }

    fn defaults_of(space: &[ParamSpec]) -> Params {
        space
            .iter()
            .map(|s| (s.name.to_string(), s.default.value()))
            .collect()
    }

    fn low_costs_of(space: &[ParamSpec]) -> Params {
        space
            .iter()
            .map(|s| (s.name.to_string(), s.low_cost.value()))
            .collect()
    }

    #[test]
    fn boosting_regularisation_defaults_come_from_the_table() {
        let estimator = Estimator::new(Algorithm::GradientBoosting, &Params::new()).unwrap();
        let AlgorithmParams::GradientBoosting(p) = estimator.typed_params() else {
            panic!("boosting params expected, got {estimator:?}");
        };
        assert_eq!((p.reg_alpha, p.reg_lambda), (1e-3, 1.0));
        let core = p.to_core();
        assert_eq!((core.reg_alpha, core.reg_lambda), (1e-3, 1.0));
        assert_eq!(*p, BoostingParams::default());
    }

    #[test]
    fn every_algorithm_completes_its_defaults_from_its_table() {
        for algorithm in Algorithm::ALL {
            let estimator = Estimator::new(algorithm, &Params::new()).unwrap();
            assert_eq!(estimator.algorithm(), algorithm);
            assert_eq!(
                estimator.params(),
                defaults_of(algorithm.space()),
                "{algorithm}"
            );
        }
    }

    #[test]
    fn typed_params_round_trip_through_the_map_for_every_algorithm() {
        for algorithm in Algorithm::ALL {
            for params in [
                defaults_of(algorithm.space()),
                low_costs_of(algorithm.space()),
            ] {
                let typed = AlgorithmParams::check(algorithm, &params).unwrap();
                let map = typed.to_params();
                assert_eq!(map, params, "{algorithm}");
                assert_eq!(
                    AlgorithmParams::check(algorithm, &map).unwrap(),
                    typed,
                    "{algorithm}"
                );
                assert_eq!(Estimator::from_typed(typed).params(), params);
            }
        }
    }

    #[test]
    fn unknown_names_and_out_of_range_values_are_errors_naming_them() {
        let mut misspelt = Params::new();
        misspelt.insert("reg_alpah".into(), ParamValue::Float(1.0));
        let err = Estimator::new(Algorithm::GradientBoosting, &misspelt)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("LightGBM")
                && err.contains("no hyperparameter 'reg_alpah'")
                && err.contains("reg_alpha"),
            "{err}"
        );
        let mut outside = Params::new();
        outside.insert("n_neighbors".into(), ParamValue::Int(0));
        let err = Estimator::new(Algorithm::KNearestNeighbors, &outside)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("KNN") && err.contains("'n_neighbors'") && err.contains("[1, 100] (log)"),
            "{err}"
        );
        let mut choice = Params::new();
        choice.insert("criterion".into(), ParamValue::Choice("log_loss".into()));
        let err = Estimator::new(Algorithm::DecisionTree, &choice)
            .unwrap_err()
            .to_string();
        assert!(err.contains("{gini, entropy}"), "{err}");
    }

    /// A classification table of `n` rows (three classes, `d` noisy features) and a
    /// regression table of the same features.
    fn synthetic(n: usize, d: usize) -> (Array2<f64>, Vec<usize>, Vec<f64>) {
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut noise = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let x = Array2::from_shape_fn((n, d), |_| noise());
        let labels: Vec<usize> = (0..n)
            .map(|i| {
                let s = x[[i, 0]] + 0.5 * x[[i, 1]] + 0.3 * noise();
                if s < -0.2 {
                    0
                } else if s < 0.2 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let values: Vec<f64> = (0..n)
            .map(|i| 3.0 * x[[i, 0]] - x[[i, 2]] + 0.1 * noise())
            .collect();
        (x, labels, values)
    }

    /// Fits every learner of `task` on `x` at its default (not low-cost) point, each with a
    /// deadline `budget` after its start, then predicts the table within that deadline as a
    /// trial scores its validation rows; returns each algorithm's outcome and seconds.
    fn fit_each_within(
        x: &Array2<f64>,
        y: TargetRef,
        task: Task,
        budget: std::time::Duration,
    ) -> Vec<(Algorithm, Result<Array2<f64>>, f64)> {
        Algorithm::ALL
            .into_iter()
            .filter(|a| a.supports(task))
            .map(|algorithm| {
                let started = Instant::now();
                let deadline = started + budget;
                let estimator = Estimator::new(algorithm, &Params::new()).unwrap();
                let train = TrainSet {
                    x: x.view(),
                    y,
                    weights: None,
                    binned: None,
                };
                let ctx = FitContext {
                    deadline: Some(deadline),
                    seed: 7,
                    valid: None,
                };
                let outcome = estimator
                    .fit(&train, &ctx)
                    .and_then(|m| m.predict_before(x.view(), Some(deadline)));
                (algorithm, outcome, started.elapsed().as_secs_f64())
            })
            .collect()
    }

    #[test]
    fn a_passed_deadline_stops_every_learner_at_once_with_a_budget_error() {
        let (x, labels, values) = synthetic(2_000, 10);
        let none = std::time::Duration::ZERO;
        let classes = TargetRef::Classes {
            labels: &labels,
            n_classes: 3,
        };
        let mut outcomes = fit_each_within(&x, classes, Task::Classification, none);
        outcomes.extend(fit_each_within(
            &x,
            TargetRef::Values(&values),
            Task::Regression,
            none,
        ));
        assert_eq!(outcomes.len(), 14);
        for (algorithm, outcome, seconds) in outcomes {
            assert!(
                matches!(outcome, Err(AutotabError::Budget(_))),
                "{algorithm}: {:?}",
                outcome.map(|p| p.dim())
            );
            assert!(seconds < 0.5, "{algorithm} took {seconds:.2}s to give up");
        }
    }

    #[test]
    fn a_near_deadline_on_a_large_table_ends_every_learner_within_a_bounded_time() {
        // 12 000 rows x 40 features: k-NN's neighbour searches over all of them and an
        // unbounded SMO solve take far longer than the 50 ms allowed here.
        let (x, labels, values) = synthetic(12_000, 40);
        for task in [Task::Classification, Task::Regression] {
            let y = match task {
                Task::Regression => TargetRef::Values(&values),
                _ => TargetRef::Classes {
                    labels: &labels,
                    n_classes: 3,
                },
            };
            // Bounded, not fast: a forest starts at most one tree per thread before the
            // deadline and lets it finish, so the bound is 2 s plus a few times the smallest
            // unbounded forest (4 trees), measured here and now (a loaded machine slows both).
            let smallest_forest = {
                let mut params = Params::new();
                params.insert("n_estimators".into(), ParamValue::Int(4));
                let started = Instant::now();
                let train = TrainSet {
                    x: x.view(),
                    y,
                    weights: None,
                    binned: None,
                };
                let ctx = FitContext {
                    deadline: None,
                    seed: 7,
                    valid: None,
                };
                Estimator::new(Algorithm::RandomForest, &params)
                    .and_then(|e| e.fit(&train, &ctx))
                    .unwrap();
                started.elapsed().as_secs_f64()
            };
            let bound = 2.0 + 3.0 * smallest_forest;
            let budget = std::time::Duration::from_millis(50);
            for (algorithm, outcome, seconds) in fit_each_within(&x, y, task, budget) {
                eprintln!(
                    "{algorithm} ({task}): {seconds:.3}s, {}",
                    match &outcome {
                        Ok(_) => "a model".to_string(),
                        Err(e) => e.to_string(),
                    }
                );
                match outcome {
                    Err(AutotabError::Budget(_)) => {}
                    Ok(p) => assert_eq!(p.dim(), (x.nrows(), y.n_outputs()), "{algorithm}"),
                    Err(e) => panic!("{algorithm}: {e}"),
                }
                assert!(
                    seconds < bound,
                    "{algorithm} ({task}) ran {seconds:.2}s on a 50 ms deadline (bound {bound:.2}s)"
                );
            }
        }
    }

    #[test]
    fn algorithm_names_and_aliases_parse() {
        for algorithm in Algorithm::ALL {
            assert_eq!(Algorithm::parse(algorithm.name()).unwrap(), algorithm);
            assert_eq!(algorithm.to_string(), algorithm.name());
        }
        for (alias, algorithm) in [
            ("light_gbm", Algorithm::GradientBoosting),
            ("XGBoostClassifier", Algorithm::GradientBoosting),
            ("k-neighbors", Algorithm::KNearestNeighbors),
            ("knn", Algorithm::KNearestNeighbors),
            ("Extra Trees", Algorithm::ExtraTrees),
            ("linear_svc", Algorithm::LinearSvm),
            ("ridge", Algorithm::ElasticNet),
            ("GaussianNB", Algorithm::GaussianNaiveBayes),
            ("LogReg", Algorithm::LogisticRegression),
        ] {
            assert_eq!(Algorithm::parse(alias).unwrap(), algorithm, "{alias}");
        }
        let err = Algorithm::parse("VotingEnsemble").unwrap_err().to_string();
        assert!(
            err.contains("unknown algorithm 'VotingEnsemble'") && err.contains("LightGBM, "),
            "{err}"
        );
    }
}
