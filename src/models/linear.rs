//! Linear models: logistic regression (linfa-logistic) and elastic net (linfa-elasticnet).
//!
//! Both are fitted on standardised features; only the coefficients are kept, so a stored model
//! carries no library types and predicts with one matrix product.
//!
//! Neither solver can be interrupted, so both honour the fit's deadline by running in pieces
//! of a fixed schedule (so the model does not depend on the machine's speed) and checking
//! before each piece that its cost, measured on the previous ones, fits before the deadline:
//! logistic regression runs L-BFGS in chunks of iterations, each warm-started from the last;
//! elastic net (no warm start in linfa) runs coordinate descent with growing iteration caps,
//! the next only when the last did not converge.

use std::time::Instant;

use linfa::traits::Fit;
use linfa_elasticnet::ElasticNet;
use linfa_logistic::MultiLogisticRegression;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::deadline::Deadline;
use super::params::hyperparams;
use super::scaler::Standardizer;
use super::{present_classes, Algorithm, FitContext, TargetRef, TrainSet};
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

/// L-BFGS iterations of the first chunk, which measures the cost of an iteration.
const FIRST_CHUNK: u64 = 5;
/// L-BFGS iterations of every later chunk (the solver's curvature memory restarts with each).
const CHUNK: u64 = 25;

/// Coordinate-descent iteration caps tried in turn; the last is the cap of a full fit.
const ELASTIC_NET_CAPS: [u32; 3] = [10, 100, 1000];

pub(crate) fn fit_logistic(
    params: &LogisticRegressionParams,
    train: &TrainSet,
    ctx: &FitContext,
) -> Result<LinearModel> {
    let TargetRef::Classes { labels, n_classes } = train.y else {
        return Err(AutotabError::fit(
            Algorithm::LogisticRegression,
            "needs class labels",
        ));
    };
    let deadline = Deadline::new(ctx.deadline, Algorithm::LogisticRegression);
    deadline.check("before training")?;
    let scaler = Standardizer::fit(train.x);
    let z = scaler.transform(train.x);
    let targets = Array1::from(labels.to_vec());
    let dataset = linfa::Dataset::new(z, targets);
    let max_iterations = params.max_iterations as u64;
    let mut done = 0;
    let mut seconds_per_iteration = 0.0_f64;
    let mut fitted = None;
    // The solver's parameters with the intercept as last row: the warm start of the next chunk.
    let mut start_from: Option<Array2<f64>> = None;
    while done < max_iterations {
        let chunk = if done == 0 { FIRST_CHUNK } else { CHUNK }.min(max_iterations - done);
        if done > 0 {
            deadline.afford(
                seconds_per_iteration * chunk as f64,
                &format!(
                    "iterations {}..{} of {max_iterations}",
                    done + 1,
                    done + chunk
                ),
            )?;
        }
        let started = Instant::now();
        let mut solver = MultiLogisticRegression::default()
            .alpha(params.alpha)
            .max_iterations(chunk);
        if let Some(w) = &start_from {
            solver = solver.initial_params(w.clone());
        }
        let model = solver
            .fit(&dataset)
            .map_err(|e| AutotabError::fit(Algorithm::LogisticRegression, e))?;
        seconds_per_iteration =
            seconds_per_iteration.max(started.elapsed().as_secs_f64() / chunk as f64);
        done += chunk;
        let mut w = model.params().clone();
        w.push_row(model.intercept().view())
            .map_err(|e| AutotabError::fit(Algorithm::LogisticRegression, e))?;
        // A chunk that starts at the optimum stops at once, where it started: converged.
        let converged = start_from.as_ref() == Some(&w);
        start_from = Some(w);
        fitted = Some(model);
        if converged {
            break;
        }
    }
    let fitted = fitted.ok_or_else(|| {
        AutotabError::fit(Algorithm::LogisticRegression, "max_iterations is zero")
    })?;
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

pub(crate) fn fit_elastic_net(
    params: &ElasticNetParams,
    train: &TrainSet,
    ctx: &FitContext,
) -> Result<LinearModel> {
    let TargetRef::Values(y) = train.y else {
        return Err(AutotabError::fit(
            Algorithm::ElasticNet,
            "needs numeric targets",
        ));
    };
    let deadline = Deadline::new(ctx.deadline, Algorithm::ElasticNet);
    deadline.check("before training")?;
    let scaler = Standardizer::fit(train.x);
    let z = scaler.transform(train.x);
    let n = y.len() as f64;
    let y_mean = y.iter().sum::<f64>() / n;
    let var = y.iter().map(|v| (v - y_mean).powi(2)).sum::<f64>() / n;
    let y_scale = if var > 1e-24 { var.sqrt() } else { 1.0 };
    let targets = Array1::from_iter(y.iter().map(|v| (v - y_mean) / y_scale));
    let dataset = linfa::Dataset::new(z, targets);
    let mut seconds_per_iteration = 0.0_f64;
    let mut fitted = None;
    for cap in ELASTIC_NET_CAPS {
        if fitted.is_some() {
            deadline.afford(
                seconds_per_iteration * cap as f64,
                &format!("{cap} coordinate-descent iterations"),
            )?;
        }
        let started = Instant::now();
        let model = ElasticNet::params()
            .penalty(params.penalty)
            .l1_ratio(params.l1_ratio)
            .max_iterations(cap)
            .fit(&dataset)
            .map_err(|e| AutotabError::fit(Algorithm::ElasticNet, e))?;
        let steps = model.n_steps().max(1);
        seconds_per_iteration =
            seconds_per_iteration.max(started.elapsed().as_secs_f64() / steps as f64);
        // Stopping before the cap means the duality gap met the tolerance.
        let converged = model.n_steps() < cap;
        fitted = Some(model);
        if converged {
            break;
        }
    }
    let fitted =
        fitted.ok_or_else(|| AutotabError::fit(Algorithm::ElasticNet, "no iteration cap"))?;
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

    fn unbounded() -> FitContext<'static> {
        FitContext {
            deadline: None,
            seed: 0,
            valid: None,
        }
    }

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
        let m = fit_logistic(&LogisticRegressionParams::default(), &train, &unbounded()).unwrap();
        let proba = m.predict(x.view());
        for (i, l) in labels.iter().enumerate() {
            assert!(proba[[i, *l]] > 0.5, "row {i}: {:?}", proba.row(i));
            assert!((proba.row(i).sum() - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn chunked_logistic_regression_reaches_the_single_run_optimum() {
        // Twenty correlated features and three nearly separable classes: L-BFGS needs more
        // iterations than the first chunk.
        let mut state = 0x2545_F491_4F6C_DD1D_u64;
        let mut noise = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let base = Array2::from_shape_fn((400, 20), |_| noise());
        let x = Array2::from_shape_fn((400, 20), |(i, j)| {
            base[[i, j]] + 0.9 * base[[i, (j + 1) % 20]] * (j as f64 / 5.0)
        });
        let labels: Vec<usize> = (0..400)
            .map(|i| {
                let s: f64 =
                    (0..20).map(|j| x[[i, j]] * (j as f64 - 9.5)).sum::<f64>() + 0.5 * noise();
                if s < -3.0 {
                    0
                } else if s < 3.0 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let train = TrainSet {
            x: x.view(),
            y: TargetRef::Classes {
                labels: &labels,
                n_classes: 3,
            },
            weights: None,
            binned: None,
        };
        let params = LogisticRegressionParams {
            alpha: 1.0,
            max_iterations: 500,
        };
        let chunked = fit_logistic(&params, &train, &unbounded())
            .unwrap()
            .predict(x.view());
        let z = Standardizer::fit(x.view()).transform(x.view());
        let single_run = |iterations: u64| {
            MultiLogisticRegression::default()
                .alpha(params.alpha)
                .max_iterations(iterations)
                .fit(&linfa::Dataset::new(
                    z.clone(),
                    Array1::from(labels.clone()),
                ))
                .unwrap()
                .predict_probabilities(&z)
        };
        let largest_gap = |a: &Array2<f64>, b: &Array2<f64>| {
            (a - b).mapv(f64::abs).fold(0.0_f64, |m, &v| m.max(v))
        };
        let optimum = single_run(500);
        // One chunk from scratch is not enough: the chunks must carry on from each other.
        // Ten iterations run as two chunks of five: the second must carry on from the first
        // (five iterations from scratch leave the probabilities far from the optimum).
        let two_chunks = LogisticRegressionParams {
            max_iterations: 2 * FIRST_CHUNK as usize,
            ..params.clone()
        };
        let after_two = fit_logistic(&two_chunks, &train, &unbounded())
            .unwrap()
            .predict(x.view());
        let after_one = largest_gap(&single_run(FIRST_CHUNK), &optimum);
        let carried_on = largest_gap(&after_two, &optimum);
        assert!(
            after_one > 0.1 && carried_on < after_one / 2.0,
            "one chunk {after_one}, two chunks {carried_on}"
        );
        let gap = largest_gap(&chunked, &optimum);
        assert!(
            gap < 1e-4,
            "chunked and single-run probabilities differ by {gap}"
        );
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
        let m = fit_elastic_net(&p, &train, &unbounded()).unwrap();
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
