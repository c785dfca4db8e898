//! A stacked model: member models whose outputs are the features of a meta-learner (Azure's
//! `StackEnsemble`). The members are fitted on the training rows; the meta-learner is fitted on
//! the members' out-of-fold predictions (see `crate::ensemble::stack`), so it learns how far to
//! trust each member on rows that member never saw.

use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::FittedModel;
use crate::error::{AutotabError, Result};

/// Which outputs of each member feed the meta-learner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StackInput {
    /// One output column of every member (binary classification: the positive class's
    /// probability; regression: the value).
    Column(usize),
    /// Every output column of every member (multi-class probabilities).
    All,
}

impl StackInput {
    /// What feeds a meta-learner for a target of `n_outputs` columns (class probabilities or
    /// one value): one column per member for a binary or regression target, every class's
    /// probability otherwise.
    pub fn for_outputs(n_outputs: usize) -> StackInput {
        match n_outputs {
            0 | 1 => StackInput::Column(0),
            2 => StackInput::Column(1),
            _ => StackInput::All,
        }
    }

    /// The meta-learner's features: the members' `outputs` (all of the same rows), side by
    /// side in member order.
    pub fn features(self, outputs: &[ArrayView2<f64>]) -> Result<Array2<f64>> {
        let Some(first) = outputs.first() else {
            return Err(AutotabError::Predict("a stack without members".into()));
        };
        let n = first.nrows();
        let mut parts = Vec::with_capacity(outputs.len());
        for out in outputs {
            if out.nrows() != n {
                return Err(AutotabError::Predict(
                    "stack members predicted different numbers of rows".into(),
                ));
            }
            match self {
                StackInput::Column(c) => {
                    if c >= out.ncols() {
                        return Err(AutotabError::Predict(format!(
                            "a stack member has {} outputs, the meta-learner reads column {c}",
                            out.ncols()
                        )));
                    }
                    parts.push(out.column(c).insert_axis(Axis(1)));
                }
                StackInput::All => parts.push(out.view()),
            }
        }
        ndarray::concatenate(Axis(1), &parts)
            .map_err(|e| AutotabError::Predict(format!("stack features: {e}")))
    }
}

/// Members and the meta-learner over their outputs.
#[derive(Debug, Serialize, Deserialize)]
pub struct StackedModel {
    /// The member models, in the order of the meta-learner's features.
    pub members: Vec<FittedModel>,
    /// Which member outputs are the meta-learner's features.
    pub input: StackInput,
    /// The meta-learner (logistic regression or elastic net).
    pub meta: Box<FittedModel>,
}

impl StackedModel {
    pub(crate) fn predict_before(
        &self,
        x: ArrayView2<f64>,
        deadline: Option<std::time::Instant>,
    ) -> Result<Array2<f64>> {
        let outputs = self
            .members
            .iter()
            .map(|m| m.predict_before(x, deadline))
            .collect::<Result<Vec<_>>>()?;
        let views: Vec<ArrayView2<f64>> = outputs.iter().map(|o| o.view()).collect();
        let z = self.input.features(&views)?;
        self.meta.predict_before(z.view(), deadline)
    }

    pub(crate) fn n_features(&self) -> usize {
        self.members.first().map_or(0, FittedModel::n_features)
    }

    /// Members present, checked, on the same inputs; the meta-learner checked, and reading as
    /// many features as the members give it when their widths are known.
    pub(crate) fn validate(&self) -> Result<()> {
        let Some(first) = self.members.first() else {
            return Err(AutotabError::data("a stack without members"));
        };
        for member in &self.members {
            member.validate()?;
            if member.n_features() != first.n_features() {
                return Err(AutotabError::data("stack members differ in their inputs"));
            }
        }
        self.meta.validate()?;
        let widths: Option<Vec<usize>> = self.members.iter().map(|m| m.n_outputs()).collect();
        if let Some(widths) = widths {
            let expected = match self.input {
                StackInput::Column(c) => {
                    if widths.iter().any(|&w| c >= w) {
                        return Err(AutotabError::data(format!(
                            "the stack reads output {c} of a member with fewer outputs"
                        )));
                    }
                    widths.len()
                }
                StackInput::All => widths.iter().sum(),
            };
            if self.meta.n_features() != expected {
                return Err(AutotabError::data(format!(
                    "the stack's meta-learner reads {} features, its members give {expected}",
                    self.meta.n_features()
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn features_take_one_column_or_all_in_member_order() {
        let a = array![[0.2, 0.8], [0.6, 0.4]];
        let b = array![[0.1, 0.9], [0.7, 0.3]];
        let one = StackInput::Column(1)
            .features(&[a.view(), b.view()])
            .unwrap();
        assert_eq!(one, array![[0.8, 0.9], [0.4, 0.3]]);
        let all = StackInput::All.features(&[a.view(), b.view()]).unwrap();
        assert_eq!(all, array![[0.2, 0.8, 0.1, 0.9], [0.6, 0.4, 0.7, 0.3]]);
        assert!(StackInput::Column(2).features(&[a.view()]).is_err());
        assert_eq!(StackInput::for_outputs(1), StackInput::Column(0));
        assert_eq!(StackInput::for_outputs(2), StackInput::Column(1));
        assert_eq!(StackInput::for_outputs(3), StackInput::All);
    }

    #[test]
    fn a_stack_of_constants_predicts_and_validates() {
        let member = |p: f64| FittedModel::Constant {
            output: vec![1.0 - p, p],
            n_features: 3,
        };
        let stacked = StackedModel {
            members: vec![member(0.2), member(0.9)],
            input: StackInput::Column(1),
            meta: Box::new(FittedModel::Constant {
                output: vec![0.5, 0.5],
                n_features: 2,
            }),
        };
        stacked.validate().unwrap();
        let x = Array2::zeros((4, 3));
        assert_eq!(
            stacked.predict_before(x.view(), None).unwrap().dim(),
            (4, 2)
        );
        let wrong = StackedModel {
            meta: Box::new(FittedModel::Constant {
                output: vec![0.5, 0.5],
                n_features: 5,
            }),
            ..stacked
        };
        assert!(wrong.validate().is_err());
    }
}
