//! The trained pipeline: featurizer + model + label decoding. What a bundle stores and what
//! scoring runs.

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
    /// Scores raw rows: featurizes them as at training time, then predicts.
    /// A label column in `data` is ignored.
    pub fn predict(&self, data: &Dataset) -> Result<Predictions> {
        let features = self.featurizer.transform(&data.without(&self.label))?;
        let output = self.model.predict(features.view())?;
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
