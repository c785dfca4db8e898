//! Linear models: logistic regression (linfa-logistic) and elastic net (linfa-elasticnet).
//!
//! Both are fitted on standardised features; only the coefficients are kept, so a stored model
//! carries no library types and predicts with one matrix product.

use linfa::traits::Fit;
use linfa_elasticnet::ElasticNet;
use linfa_logistic::MultiLogisticRegression;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::params::hyperparams;
use super::scaler::Standardizer;
use super::{present_classes, Algorithm, TargetRef, TrainSet};
use crate::error::{AutotabError, Result};

hyperparams! {
    /// Logistic regression's hyperparameters.
    pub struct LogisticRegressionParams {
        /// L2 penalty.
        alpha: f64 = float(1e-4, 100.0, log), default 1.0, low_cost 1.0;
        /// Cap on the L-BFGS iterations.
        max_iterations: usize = int(20, 500, log), default 100, low_cost 50;
    }
}

hyperparams! {
    /// Elastic net's hyperparameters.
    pub struct ElasticNetParams {
        /// Overall penalty.
        penalty: f64 = float(1e-5, 10.0, log), default 1e-2, low_cost 1e-2;
        /// Share of L1 in the penalty: 0 is ridge, 1 is lasso.
        l1_ratio: f64 = float(0.0, 1.0), default 0.5, low_cost 0.5;
    }
}

/// How the linear scores become outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Link {
    /// Softmax over the classes seen in training, spread into `n_classes` columns.
    Softmax {
        present: Vec<usize>,
        n_classes: usize,
    },
    /// The score itself, rescaled to the target's units.
    Identity { y_mean: f64, y_scale: f64 },
}

/// A fitted linear model on standardised inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    scaler: Standardizer,
    /// `n_features x n_outputs`.
    coef: Array2<f64>,
    intercept: Array1<f64>,
    link: Link,
}

impl LinearModel {
    pub(crate) fn n_features(&self) -> usize {
        self.scaler.n_features()
    }

    pub(crate) fn predict(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let z = self.scaler.transform(x);
        let mut scores = z.dot(&self.coef) + &self.intercept;
        match &self.link {
            Link::Softmax { present, n_classes } => {
                for mut row in scores.axis_iter_mut(Axis(0)) {
                    let max = row.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
                    row.mapv_inplace(|s| (s - max).exp());
                    let sum = row.sum();
                    row.mapv_inplace(|p| p / sum);
                }
                super::expand_classes(present, &scores, *n_classes)
            }
            Link::Identity { y_mean, y_scale } => scores.mapv(|s| s * y_scale + y_mean),
        }
    }
}

pub(crate) fn fit_logistic(
    params: &LogisticRegressionParams,
    train: &TrainSet,
) -> Result<LinearModel> {
    let TargetRef::Classes { labels, n_classes } = train.y else {
        return Err(AutotabError::fit(
            Algorithm::LogisticRegression,
            "needs class labels",
        ));
    };
    let scaler = Standardizer::fit(train.x);
    let z = scaler.transform(train.x);
    let targets = Array1::from(labels.to_vec());
    let dataset = linfa::Dataset::new(z, targets);
    let fitted = MultiLogisticRegression::default()
        .alpha(params.alpha)
        .max_iterations(params.max_iterations as u64)
        .fit(&dataset)
        .map_err(|e| AutotabError::fit(Algorithm::LogisticRegression, e))?;
    let present = present_classes(labels);
    let order: Vec<usize> = fitted.classes().to_vec();
    // linfa orders classes by its own sort; map each fitted column to our class order.
    let coef_in = fitted.params();
    let intercept_in = fitted.intercept();
    let mut coef = Array2::zeros((coef_in.nrows(), present.len()));
    let mut intercept = Array1::zeros(present.len());
    for (j, class) in order.iter().enumerate() {
        let k = present
            .iter()
            .position(|c| c == class)
            .ok_or_else(|| AutotabError::fit(Algorithm::LogisticRegression, "unexpected class"))?;
        coef.column_mut(k).assign(&coef_in.column(j));
        intercept[k] = intercept_in[j];
    }
    Ok(LinearModel {
        scaler,
        coef,
        intercept,
        link: Link::Softmax { present, n_classes },
    })
}

pub(crate) fn fit_elastic_net(params: &ElasticNetParams, train: &TrainSet) -> Result<LinearModel> {
    let TargetRef::Values(y) = train.y else {
        return Err(AutotabError::fit(
            Algorithm::ElasticNet,
            "needs numeric targets",
        ));
    };
    let scaler = Standardizer::fit(train.x);
    let z = scaler.transform(train.x);
    let n = y.len() as f64;
    let y_mean = y.iter().sum::<f64>() / n;
    let var = y.iter().map(|v| (v - y_mean).powi(2)).sum::<f64>() / n;
    let y_scale = if var > 1e-24 { var.sqrt() } else { 1.0 };
    let targets = Array1::from_iter(y.iter().map(|v| (v - y_mean) / y_scale));
    let dataset = linfa::Dataset::new(z, targets);
    let fitted = ElasticNet::params()
        .penalty(params.penalty)
        .l1_ratio(params.l1_ratio)
        .max_iterations(1000)
        .fit(&dataset)
        .map_err(|e| AutotabError::fit(Algorithm::ElasticNet, e))?;
    let coef = fitted.hyperplane().clone().insert_axis(Axis(1));
    Ok(LinearModel {
        scaler,
        coef,
        intercept: Array1::from(vec![fitted.intercept()]),
        link: Link::Identity { y_mean, y_scale },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn logistic_separates_two_classes() {
        let x = array![
            [0.0, 1.0],
            [0.2, 0.8],
            [0.1, 0.9],
            [1.0, 0.0],
            [0.9, 0.1],
            [0.8, 0.3]
        ];
        let labels = [0usize, 0, 0, 1, 1, 1];
        let train = TrainSet {
            x: x.view(),
            y: TargetRef::Classes {
                labels: &labels,
                n_classes: 2,
            },
            weights: None,
            binned: None,
        };
        let m = fit_logistic(&LogisticRegressionParams::default(), &train).unwrap();
        let proba = m.predict(x.view());
        for (i, l) in labels.iter().enumerate() {
            assert!(proba[[i, *l]] > 0.5, "row {i}: {:?}", proba.row(i));
            assert!((proba.row(i).sum() - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn elastic_net_recovers_a_line() {
        let x = Array2::from_shape_fn((50, 1), |(i, _)| i as f64);
        let y: Vec<f64> = (0..50).map(|i| 3.0 * i as f64 + 100.0).collect();
        let p = ElasticNetParams {
            penalty: 1e-5,
            ..ElasticNetParams::default()
        };
        let train = TrainSet {
            x: x.view(),
            y: TargetRef::Values(&y),
            weights: None,
            binned: None,
        };
        let m = fit_elastic_net(&p, &train).unwrap();
        let pred = m.predict(x.view());
        for i in 0..50 {
            assert!(
                (pred[[i, 0]] - y[i]).abs() < 0.5,
                "{} vs {}",
                pred[[i, 0]],
                y[i]
            );
        }
    }
}
