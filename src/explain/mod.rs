//! Explanations of a fitted pipeline in the columns a user knows (raw input columns, not their
//! one-hot or date parts).
//!
//! - [`tree_contributions`]: exact TreeSHAP (`treeshap.rs`) of the native tree models
//!   (gradient boosting, random forest, extra trees): per row, one contribution per raw column
//!   plus a base value, adding up to the model's raw score (log-odds for binary boosting,
//!   the class's logit under softmax, the class probability for forests, the value for
//!   regression). A raw column's contribution is the sum of its features' (one-hot parts,
//!   date parts, hashed buckets) contributions, so the columns still add up to the raw score.
//! - [`permutation_importance`] (`permutation.rs`): the loss increase when one raw column's
//!   values are shuffled across rows, through the whole pipeline.

mod permutation;
mod treeshap;

pub use permutation::{permutation_importance, Importance, ImportanceSettings};

/// The explanations a run stores with its model (bundle info, model card).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExplanationSummary {
    /// Permutation importance of every raw input column, most important first.
    pub importances: Vec<Importance>,
    /// Which rows were shuffled, such as "299 rows of the job's data through the refit
    /// pipeline".
    pub rows: String,
    /// The metric whose loss increase is the importance.
    pub metric: String,
    /// Wall seconds spent computing them.
    pub seconds: f64,
    /// Those seconds as a share of the run's time budget.
    pub budget_share: f64,
}

use ndarray::{Array2, ArrayView2};

use crate::data::Dataset;
use crate::error::{AutotabError, Result};
use crate::models::trees::{GbmLoss, Tree};
use crate::models::FittedModel;
use crate::pipeline::Pipeline;
use crate::target::{class_name, LabelEncoding};
use treeshap::ShapTree;

/// What the explained raw score is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreScale {
    /// Log-odds of the positive class (binary boosting).
    LogOdds,
    /// The class's raw score before softmax (multiclass boosting).
    Logit,
    /// The class's probability (forests).
    Probability,
    /// The predicted value (regression).
    Value,
    /// The logarithm of the predicted value (boosting on a log-scaled label).
    LogValue,
}

impl ScoreScale {
    /// A short name for headers and messages.
    pub fn name(self) -> &'static str {
        match self {
            ScoreScale::LogOdds => "log-odds",
            ScoreScale::Logit => "logit",
            ScoreScale::Probability => "probability",
            ScoreScale::Value => "value",
            ScoreScale::LogValue => "log of the value",
        }
    }
}

/// Per-row contributions of every raw input column to the model's raw score.
#[derive(Debug, Clone)]
pub struct Contributions {
    /// Raw input columns, in the featurizer's order.
    pub columns: Vec<String>,
    /// `rows x columns` contributions.
    pub values: Array2<f64>,
    /// The expected raw score (over the training rows) of the explained output, per row.
    pub base: Vec<f64>,
    /// The model's raw score of the explained output, per row: `base + sum(values row)`.
    pub raw_scores: Vec<f64>,
    /// The explained output per row: the positive class (binary), the predicted class
    /// (multiclass), or the label's name (regression).
    pub outputs: Vec<String>,
    /// What the raw score is.
    pub scale: ScoreScale,
}

impl Contributions {
    /// Row `i`'s `k` largest contributions by size, as `(column, contribution)`.
    pub fn top(&self, i: usize, k: usize) -> Vec<(String, f64)> {
        let mut row: Vec<(String, f64)> = self
            .columns
            .iter()
            .cloned()
            .zip(self.values.row(i).iter().copied())
            .collect();
        row.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        row.truncate(k);
        row
    }
}

/// The tree model a pipeline explains, with how its trees make each raw score.
struct TreeEnsemble<'a> {
    trees: &'a [Tree],
    /// Raw score `c` adds the trees `t` with `t % stride == c` (boosting), or every tree's
    /// output `c` (forests, `stride == 0`).
    stride: usize,
    /// Starting raw score per output.
    init: Vec<f64>,
    /// Weight of every tree's value.
    scale: f64,
    n_outputs: usize,
    score: ScoreScale,
}

impl<'a> TreeEnsemble<'a> {
    fn of(model: &'a FittedModel) -> Result<TreeEnsemble<'a>> {
        match model {
            FittedModel::Boosting(m) => {
                let g = &m.gbm;
                let k = g.n_outputs_per_round().max(1);
                Ok(TreeEnsemble {
                    trees: g.trees_for_explain(),
                    stride: k,
                    init: g.base_scores().to_vec(),
                    scale: 1.0,
                    n_outputs: k,
                    score: match g.loss() {
                        GbmLoss::LogLoss => ScoreScale::LogOdds,
                        GbmLoss::Softmax => ScoreScale::Logit,
                        _ if m.log_target => ScoreScale::LogValue,
                        _ => ScoreScale::Value,
                    },
                })
            }
            FittedModel::Forest(m) => {
                let f = &m.forest;
                let k = f.n_outputs();
                Ok(TreeEnsemble {
                    trees: f.trees_for_explain(),
                    stride: 0,
                    init: vec![0.0; k],
                    scale: 1.0 / f.n_trees().max(1) as f64,
                    n_outputs: k,
                    score: if k > 1 {
                        ScoreScale::Probability
                    } else {
                        ScoreScale::Value
                    },
                })
            }
            other => Err(AutotabError::config(format!(
                "TreeSHAP explains gradient boosting, random forest and extra trees models; \
                 this bundle holds {}",
                model_kind(other)
            ))),
        }
    }

    /// The trees adding to output `c`, each as a [`ShapTree`] of that output.
    fn shap_trees(&self, c: usize) -> Result<Vec<ShapTree>> {
        let mut out = Vec::new();
        for (i, t) in self.trees.iter().enumerate() {
            let (uses, output) = if self.stride == 0 {
                (true, c)
            } else {
                (i % self.stride == c, 0)
            };
            if !uses {
                continue;
            }
            out.push(ShapTree::new(t, output).ok_or_else(|| {
                AutotabError::config(
                    "the model's trees carry no training-row counts (it was saved by an older \
                     autotab); re-run to explain it",
                )
            })?);
        }
        Ok(out)
    }
}

fn model_kind(model: &FittedModel) -> &'static str {
    match model {
        FittedModel::Linear(_) => "a linear model",
        FittedModel::DecisionTree(_) => "a smartcore decision tree",
        FittedModel::Knn(_) => "a k-nearest-neighbours model",
        FittedModel::NaiveBayes(_) => "a naive Bayes model",
        FittedModel::Svm(_) => "a linear SVM",
        FittedModel::Forest(_) => "a forest",
        FittedModel::Boosting(_) => "a boosted model",
        FittedModel::Ensemble(_) => "a voting ensemble",
        FittedModel::Constant { .. } => "a constant model",
        FittedModel::Stacked(_) => "a stack ensemble",
    }
}

/// Exact TreeSHAP contributions of `pipeline`'s tree model for every row of `data`, summed
/// per raw input column. A label column in `data` is ignored. Models other than boosting,
/// random forest and extra trees are an error naming the model. A bagged pipeline (its folds'
/// models averaged) is explained as the mean of its folds' explanations: contributions, base
/// value and raw score are each the folds' mean (so they still add up), for the output the
/// first fold's model explains (for multiclass boosting, its predicted class); for boosting
/// the mean of the folds' log-odds is explained, while the pipeline averages probabilities.
pub fn tree_contributions(pipeline: &Pipeline, data: &Dataset) -> Result<Contributions> {
    let inputs = data.without(&pipeline.label);
    let columns: Vec<String> = pipeline.featurizer.input_columns().to_vec();
    let mut total: Option<RowExplanations> = None;
    let mut scale = None;
    let mut members = 0usize;
    for (featurizer, model) in pipeline.members() {
        let ensemble = TreeEnsemble::of(model)?;
        if scale.is_some_and(|s| s != ensemble.score) {
            return Err(AutotabError::config(
                "the fold models of this bagged pipeline explain different scores",
            ));
        }
        scale = Some(ensemble.score);
        let features = featurizer.transform(&inputs)?;
        let column_of: Vec<Option<usize>> = featurizer
            .feature_sources()
            .iter()
            .map(|s| columns.iter().position(|c| c == s))
            .collect();
        let force = total.as_ref().map(|t| t.3.as_slice());
        let part =
            feature_contributions(&ensemble, features.view(), &column_of, columns.len(), force)?;
        members += 1;
        total = Some(match total {
            None => part,
            Some((values, base, raw, outputs)) => (
                values + &part.0,
                base.iter().zip(&part.1).map(|(a, b)| a + b).collect(),
                raw.iter().zip(&part.2).map(|(a, b)| a + b).collect(),
                outputs,
            ),
        });
    }
    let (values, base, raw_scores, explained) =
        total.ok_or_else(|| AutotabError::config("the pipeline holds no model"))?;
    let scale = scale.expect("one member at least");
    let n = members as f64;
    let outputs = explained
        .iter()
        .map(|&c| {
            // Binary boosting has one raw score, the positive class's log-odds.
            let class = if scale == ScoreScale::LogOdds { 1 } else { c };
            match &pipeline.label_encoding {
                LabelEncoding::Classes { .. } => class_name(&pipeline.label_encoding, class),
                LabelEncoding::Values => pipeline.label.clone(),
            }
        })
        .collect();
    Ok(Contributions {
        columns,
        values: values / n,
        base: base.iter().map(|b| b / n).collect(),
        raw_scores: raw_scores.iter().map(|r| r / n).collect(),
        outputs,
        scale,
    })
}

/// Per-row contributions over `n_columns` groups (feature `j` counts for group
/// `column_of[j]`), base values, raw scores and the explained output index of each row.
type RowExplanations = (Array2<f64>, Vec<f64>, Vec<f64>, Vec<usize>);

fn feature_contributions(
    ensemble: &TreeEnsemble,
    x: ArrayView2<f64>,
    column_of: &[Option<usize>],
    n_columns: usize,
    force: Option<&[usize]>,
) -> Result<RowExplanations> {
    let k = ensemble.n_outputs;
    let per_output: Vec<Vec<ShapTree>> = (0..k)
        .map(|c| ensemble.shap_trees(c))
        .collect::<Result<_>>()?;
    let expected: Vec<f64> = (0..k)
        .map(|c| {
            ensemble.init[c]
                + per_output[c]
                    .iter()
                    .map(|t| t.expected_value() * ensemble.scale)
                    .sum::<f64>()
        })
        .collect();
    let n = x.nrows();
    let p = x.ncols();
    let mut values = Array2::zeros((n, n_columns));
    let mut base = Vec::with_capacity(n);
    let mut raw_scores = Vec::with_capacity(n);
    let mut explained = Vec::with_capacity(n);
    let mut phi = vec![0.0; p];
    for (i, row) in x.rows().into_iter().enumerate() {
        let row = row.to_vec();
        let raw: Vec<f64> = (0..k)
            .map(|c| {
                ensemble.init[c]
                    + per_output[c]
                        .iter()
                        .map(|t| t.predict(&row) * ensemble.scale)
                        .sum::<f64>()
            })
            .collect();
        let c = match (ensemble.score, k) {
            _ if force.is_some() => force
                .and_then(|f| f.get(i).copied())
                .unwrap_or(0)
                .min(k - 1),
            (_, 1) => 0,
            (ScoreScale::Probability, 2) => 1,
            _ => {
                raw.iter()
                    .enumerate()
                    .fold(
                        (0, f64::NEG_INFINITY),
                        |acc, (j, &v)| {
                            if v > acc.1 {
                                (j, v)
                            } else {
                                acc
                            }
                        },
                    )
                    .0
            }
        };
        phi.fill(0.0);
        for t in &per_output[c] {
            t.add_shap(&row, &mut phi, ensemble.scale);
        }
        for (j, v) in phi.iter().enumerate() {
            if let Some(Some(col)) = column_of.get(j) {
                values[[i, *col]] += v;
            }
        }
        base.push(expected[c]);
        raw_scores.push(raw[c]);
        explained.push(c);
    }
    Ok((values, base, raw_scores, explained))
}

#[cfg(test)]
mod tests;
