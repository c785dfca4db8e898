//! The trained pipeline: featurizer + model + label decoding. What a bundle stores and what
//! scoring runs.
//!
//! A pipeline is either one model refit on every training row, or the validation folds' own
//! models averaged (k-fold bagging, as AutoGluon ships its models): each fold's featurizer and
//! model score the row, and the outputs (class probabilities or values) are averaged.
//! [`FinalFit`] says which.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::data::{format_number, Dataset, Schema};
use crate::ensemble::Learner;
use crate::error::{AutotabError, Result};
use crate::featurize::FittedFeaturizer;
use crate::models::FittedModel;
use crate::target::{class_name, LabelEncoding};
use crate::task::Task;

/// A fitted featurizer and model, ready to score raw rows.
#[derive(Debug, Serialize, Deserialize)]
pub struct Pipeline {
    /// The task.
    pub task: Task,
    /// The label column's name.
    pub label: String,
    /// How outputs map back to label values.
    pub label_encoding: LabelEncoding,
    /// The training schema (input columns and kinds).
    pub schema: Schema,
    /// What produced the model: an algorithm or an ensemble.
    pub learner: Learner,
    /// Raw rows to features.
    pub featurizer: FittedFeaturizer,
    /// Features to predictions.
    pub model: FittedModel,
    /// How the model was trained for shipping: refit on all rows, or the folds' models.
    pub fit: FinalFit,
    /// With [`FinalFit::Folds`], the other folds' featurizers and models (`featurizer` and
    /// `model` are the first fold's); empty for a refit.
    pub bag: Vec<FoldModel>,
}

/// How a pipeline's model was trained for shipping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinalFit {
    /// Refit on every training row.
    Refit,
    /// The validation folds' models, each trained on its fold's training rows, averaged:
    /// exactly what the cross-validated score measured, with no refit.
    Folds {
        /// Number of fold models averaged.
        models: usize,
    },
}

impl FinalFit {
    /// A short description: `refit on all rows`, `5 fold models averaged`.
    pub fn describe(&self) -> String {
        match self {
            FinalFit::Refit => "refit on all rows".into(),
            FinalFit::Folds { models: 1 } => "the validation fold's model (no refit)".into(),
            FinalFit::Folds { models } => format!("{models} fold models averaged (bagged)"),
        }
    }
}

/// One fold's featurizer and model in a bagged pipeline.
#[derive(Debug, Serialize, Deserialize)]
pub struct FoldModel {
    /// Raw rows to features, fitted on the fold's training rows.
    pub featurizer: FittedFeaturizer,
    /// Features to predictions, trained on the fold's training rows.
    pub model: FittedModel,
}

/// Predictions for a batch of rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// One prediction per row, in the label's own values (class name or number).
    pub labels: Vec<String>,
    /// Regression values (empty for classification).
    pub values: Vec<f64>,
    /// Class probabilities, `rows x classes` (classification only).
    pub proba: Option<Array2<f64>>,
    /// Class names in probability column order (empty for regression).
    pub classes: Vec<String>,
    /// Whether the label was numeric (write predictions as numbers).
    pub numeric_labels: bool,
}

impl Pipeline {
    /// Every (featurizer, model) pair whose outputs are averaged: the one model of a refit,
    /// or each fold's of a bagged pipeline.
    pub fn members(&self) -> impl Iterator<Item = (&FittedFeaturizer, &FittedModel)> {
        std::iter::once((&self.featurizer, &self.model))
            .chain(self.bag.iter().map(|f| (&f.featurizer, &f.model)))
    }

    /// Scores raw rows: featurizes them as at training time, then predicts.
    /// A label column in `data` is ignored.
    pub fn predict(&self, data: &Dataset) -> Result<Predictions> {
        let inputs = data.without(&self.label);
        let features = self.featurizer.transform(&inputs)?;
        let mut output = self.model.predict(features.view())?;
        for fold in &self.bag {
            let features = fold.featurizer.transform(&inputs)?;
            output += &fold.model.predict(features.view())?;
        }
        if !self.bag.is_empty() {
            output /= (self.bag.len() + 1) as f64;
        }
        match &self.label_encoding {
            LabelEncoding::Classes { classes, numeric } => {
                let labels = output
                    .rows()
                    .into_iter()
                    .map(|row| {
                        let best = row
                            .iter()
                            .enumerate()
                            .fold(
                                (0, f64::NEG_INFINITY),
                                |acc, (i, &p)| if p > acc.1 { (i, p) } else { acc },
                            )
                            .0;
                        class_name(&self.label_encoding, best)
                    })
                    .collect();
                Ok(Predictions {
                    labels,
                    values: Vec::new(),
                    proba: Some(output),
                    classes: classes.clone(),
                    numeric_labels: *numeric,
                })
            }
            LabelEncoding::Values => {
                let values: Vec<f64> = output.column(0).to_vec();
                if values.iter().any(|v| !v.is_finite()) {
                    return Err(AutotabError::Predict(
                        "the model produced a non-finite value".into(),
                    ));
                }
                Ok(Predictions {
                    labels: values.iter().map(|v| format_number(*v)).collect(),
                    values,
                    proba: None,
                    classes: Vec::new(),
                    numeric_labels: true,
                })
            }
        }
    }
}
