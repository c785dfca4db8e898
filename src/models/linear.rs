//! Linear models: L2-regularised logistic regression and elastic net, both written here.
//!
//! Both are fitted on standardised features; only the coefficients are kept, so a stored model
//! carries no library types and predicts with one matrix product.
//!
//! linfa's solvers took seconds where these take milliseconds (adult: over 10 s for logistic
//! regression on 35k rows), so the objectives are written here: logistic regression minimises
//! the mean log-loss plus `alpha / (2 n) |W|^2` (scikit-learn's objective with `C = 1 / alpha`,
//! intercept unpenalised) with argmin's L-BFGS, the loss and its gradient each one matrix
//! product; elastic net runs cyclic coordinate descent on scikit-learn's objective
//! `|y - Zw|^2 / (2 n) + penalty (l1_ratio |w|_1 + (1 - l1_ratio) |w|^2 / 2)`.
//!
//! Both honour the fit's deadline without depending on the machine's speed: they either finish
//! their deterministic schedule or stop with a budget error (logistic regression when an
//! evaluation of its objective starts past the deadline; coordinate descent before a sweep
//! whose cost, measured on the sweeps so far, would end past it).

use std::time::Instant;

use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use ndarray::{Array1, Array2, ArrayView2, Axis, Slice};
use serde::{Deserialize, Serialize};

use super::deadline::Deadline;
use super::params::hyperparams;
use super::scaler::Standardizer;
use super::{positions_among_present, present_classes, Algorithm, FitContext, TargetRef, TrainSet};
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

/// L-BFGS memory (pairs of steps kept).
const LBFGS_MEMORY: usize = 10;
/// L-BFGS stops when the gradient's norm falls below this.
const LBFGS_GRADIENT_TOLERANCE: f64 = 1e-6;
/// Most coordinate-descent sweeps of elastic net.
const ELASTIC_NET_MAX_SWEEPS: usize = 1000;
/// Coordinate descent stops when no coefficient moved by more than this (relative to the
/// largest coefficient).
const ELASTIC_NET_TOLERANCE: f64 = 1e-6;

/// The message of the error a deadline raises inside argmin (turned back into a budget error).
const PAST_DEADLINE: &str = "past the fit's deadline";

/// A point, the loss there and the gradient there.
type Evaluation = (Array1<f64>, f64, Array1<f64>);

/// The regularised log-loss of a linear model on standardised rows, as argmin sees it.
///
/// Parameters are `(p + 1) x m` values, row-major: `p` coefficient rows and the intercept row,
/// `m` score columns. Two classes use one column (the logit of the second class; the first
/// class's score is fixed at 0); more use one column per class (softmax).
struct LogLoss<'a> {
    z: ArrayView2<'a, f64>,
    /// Each row's class, as a position among the classes present.
    y: &'a [usize],
    /// Score columns: 1 for two classes, else the number of classes.
    m: usize,
    alpha: f64,
    deadline: Option<Instant>,
    /// The last evaluation: argmin asks for the cost and the gradient at the same point
    /// separately, and both come from one pass.
    last: std::cell::RefCell<Option<Evaluation>>,
}

impl LogLoss<'_> {
    /// Loss and gradient at `w`, from the last evaluation when `w` is the same point.
    fn cached(&self, w: &Array1<f64>) -> Result<(f64, Array1<f64>), argmin::core::Error> {
        if let Some((at, loss, grad)) = self.last.borrow().as_ref() {
            if at == w {
                return Ok((*loss, grad.clone()));
            }
        }
        let (loss, grad) = self.evaluate(w)?;
        *self.last.borrow_mut() = Some((w.clone(), loss, grad.clone()));
        Ok((loss, grad))
    }

    /// Loss and gradient at `w`.
    fn evaluate(&self, w: &Array1<f64>) -> Result<(f64, Array1<f64>), argmin::core::Error> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(argmin::core::Error::msg(PAST_DEADLINE));
        }
        let (n, p, m) = (self.z.nrows(), self.z.ncols(), self.m);
        let params = w
            .view()
            .into_shape_with_order((p + 1, m))
            .map_err(|e| argmin::core::Error::msg(e.to_string()))?;
        let coef = params.slice_axis(Axis(0), Slice::from(..p));
        let intercept = params.row(p);
        let mut residual = self.z.dot(&coef) + intercept;
        let mut loss = 0.0;
        for (mut row, &class) in residual.axis_iter_mut(Axis(0)).zip(self.y) {
            if m == 1 {
                // Two classes: score s of the second; p = sigmoid(s).
                let s = row[0];
                let target = if class == 1 { 1.0 } else { 0.0 };
                // -log sigmoid(s) = softplus(-s); -log(1 - sigmoid(s)) = softplus(s).
                loss += softplus(if class == 1 { -s } else { s });
                row[0] = sigmoid(s) - target;
            } else {
                let max = row.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
                let sum: f64 = row.iter().map(|v| (v - max).exp()).sum();
                loss += max + sum.ln() - row[class];
                row.mapv_inplace(|v| (v - max).exp() / sum);
                row[class] -= 1.0;
            }
        }
        let scale = 1.0 / n as f64;
        let penalty = self.alpha * scale;
        loss = loss * scale + 0.5 * penalty * coef.iter().map(|v| v * v).sum::<f64>();
        let mut grad = Array2::zeros((p + 1, m));
        grad.slice_axis_mut(Axis(0), Slice::from(..p))
            .assign(&(self.z.t().dot(&residual) * scale + &coef * penalty));
        grad.row_mut(p)
            .assign(&(residual.sum_axis(Axis(0)) * scale));
        Ok((
            loss,
            grad.into_shape_with_order((p + 1) * m)
                .map_err(|e| argmin::core::Error::msg(e.to_string()))?,
        ))
    }
}

fn sigmoid(s: f64) -> f64 {
    if s >= 0.0 {
        1.0 / (1.0 + (-s).exp())
    } else {
        let e = s.exp();
        e / (1.0 + e)
    }
}

/// `ln(1 + e^s)`, without overflow.
fn softplus(s: f64) -> f64 {
    if s > 30.0 {
        s
    } else {
        s.exp().ln_1p()
    }
}

impl CostFunction for LogLoss<'_> {
    type Param = Array1<f64>;
    type Output = f64;

    fn cost(&self, w: &Self::Param) -> Result<f64, argmin::core::Error> {
        Ok(self.cached(w)?.0)
    }
}

impl Gradient for LogLoss<'_> {
    type Param = Array1<f64>;
    type Gradient = Array1<f64>;

    fn gradient(&self, w: &Self::Param) -> Result<Array1<f64>, argmin::core::Error> {
        Ok(self.cached(w)?.1)
    }
}

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
    let present = present_classes(labels);
    let y = positions_among_present(labels, &present);
    let m = if present.len() == 2 { 1 } else { present.len() };
    let p = z.ncols();
    let problem = LogLoss {
        z: z.view(),
        y: &y,
        m,
        alpha: params.alpha,
        deadline: ctx.deadline,
        last: std::cell::RefCell::new(None),
    };
    let fail = |e: argmin::core::Error| {
        if e.to_string().contains(PAST_DEADLINE) {
            AutotabError::Budget(format!(
                "LogisticRegression reached its deadline during L-BFGS on {} rows",
                z.nrows()
            ))
        } else {
            AutotabError::fit(Algorithm::LogisticRegression, e)
        }
    };
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), LBFGS_MEMORY)
        .with_tolerance_grad(LBFGS_GRADIENT_TOLERANCE)
        .and_then(|s| s.with_tolerance_cost(1e-12))
        .map_err(fail)?;
    let result = Executor::new(problem, solver)
        .configure(|state| {
            state
                .param(Array1::zeros((p + 1) * m))
                .max_iters(params.max_iterations as u64)
        })
        .run()
        .map_err(fail)?;
    let w = result.state().get_best_param().cloned().ok_or_else(|| {
        AutotabError::fit(Algorithm::LogisticRegression, "L-BFGS gave no parameters")
    })?;
    let w = w
        .into_shape_with_order((p + 1, m))
        .map_err(|e| AutotabError::fit(Algorithm::LogisticRegression, e))?;
    // Two classes: the first class's score is 0, the second's the fitted logit.
    let (coef, intercept) = if m == 1 {
        let mut coef = Array2::zeros((p, 2));
        coef.column_mut(1)
            .assign(&w.column(0).slice_axis(Axis(0), Slice::from(..p)));
        let intercept = Array1::from(vec![0.0, w[[p, 0]]]);
        (coef, intercept)
    } else {
        (
            w.slice_axis(Axis(0), Slice::from(..p)).to_owned(),
            w.row(p).to_owned(),
        )
    };
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
    let targets: Vec<f64> = y.iter().map(|v| (v - y_mean) / y_scale).collect();
    let w = coordinate_descent(z.view(), &targets, params, &deadline)?;
    let coef = Array1::from(w).insert_axis(Axis(1));
    Ok(LinearModel {
        scaler,
        coef,
        intercept: Array1::from(vec![0.0]),
        link: Link::Identity { y_mean, y_scale },
    })
}

/// Cyclic coordinate descent for elastic net on standardised `z` (centred columns) and a
/// centred target: the intercept is 0. Returns the coefficients.
fn coordinate_descent(
    z: ArrayView2<f64>,
    y: &[f64],
    params: &ElasticNetParams,
    deadline: &Deadline,
) -> Result<Vec<f64>> {
    let (n, p) = (z.nrows(), z.ncols());
    // Columns contiguous: each coordinate step reads one.
    let columns: Vec<Vec<f64>> = z.axis_iter(Axis(1)).map(|c| c.to_vec()).collect();
    let norms: Vec<f64> = columns
        .iter()
        .map(|c| c.iter().map(|v| v * v).sum())
        .collect();
    let l1 = params.penalty * params.l1_ratio * n as f64;
    let l2 = params.penalty * (1.0 - params.l1_ratio) * n as f64;
    let mut w = vec![0.0; p];
    let mut residual = y.to_vec();
    let started = Instant::now();
    for sweep in 0..ELASTIC_NET_MAX_SWEEPS {
        if sweep > 0 {
            let per_sweep = started.elapsed().as_secs_f64() / sweep as f64;
            deadline.afford(
                per_sweep,
                &format!(
                    "coordinate-descent sweep {} of at most {ELASTIC_NET_MAX_SWEEPS}",
                    sweep + 1
                ),
            )?;
        }
        let (mut largest_step, mut largest_w) = (0.0_f64, 0.0_f64);
        for j in 0..p {
            if norms[j] <= 1e-12 {
                continue;
            }
            let col = &columns[j];
            let old = w[j];
            let rho: f64 =
                col.iter().zip(&residual).map(|(a, r)| a * r).sum::<f64>() + norms[j] * old;
            let new = soft_threshold(rho, l1) / (norms[j] + l2);
            if new != old {
                let delta = new - old;
                for (r, a) in residual.iter_mut().zip(col) {
                    *r -= delta * a;
                }
                w[j] = new;
                largest_step = largest_step.max(delta.abs());
            }
            largest_w = largest_w.max(new.abs());
        }
        if largest_step <= ELASTIC_NET_TOLERANCE * largest_w.max(1e-12) {
            break;
        }
    }
    Ok(w)
}

fn soft_threshold(v: f64, threshold: f64) -> f64 {
    if v > threshold {
        v - threshold
    } else if v < -threshold {
        v + threshold
    } else {
        0.0
    }
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
        let m = fit_logistic(
            &LogisticRegressionParams::default(),
            &train,
            &FitContext::unbounded(),
        )
        .unwrap();
        let proba = m.predict(x.view());
        for (i, l) in labels.iter().enumerate() {
            assert!(proba[[i, *l]] > 0.5, "row {i}: {:?}", proba.row(i));
            assert!((proba.row(i).sum() - 1.0).abs() < 1e-9);
        }
    }

    /// Twenty correlated features and three nearly separable classes.
    fn three_classes() -> (Array2<f64>, Vec<usize>) {
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
        (x, labels)
    }

    #[test]
    fn logistic_regression_reaches_a_stationary_point() {
        let (x, labels) = three_classes();
        for (classes, labels) in [
            (3, labels.clone()),
            (2, labels.iter().map(|&l| usize::from(l > 0)).collect()),
        ] {
            let train = TrainSet {
                x: x.view(),
                y: TargetRef::Classes {
                    labels: &labels,
                    n_classes: classes,
                },
                weights: None,
                binned: None,
            };
            let params = LogisticRegressionParams {
                alpha: 1.0,
                max_iterations: 500,
            };
            let model = fit_logistic(&params, &train, &FitContext::unbounded()).unwrap();
            // The gradient of the objective at the fitted parameters is (nearly) zero.
            let z = model.scaler.transform(x.view());
            let m = if classes == 2 { 1 } else { 3 };
            let mut w = Array2::zeros((21, m));
            if m == 1 {
                w.column_mut(0)
                    .slice_axis_mut(Axis(0), Slice::from(..20))
                    .assign(&model.coef.column(1));
                w[[20, 0]] = model.intercept[1];
            } else {
                w.slice_axis_mut(Axis(0), Slice::from(..20))
                    .assign(&model.coef);
                w.row_mut(20).assign(&model.intercept);
            }
            let problem = LogLoss {
                z: z.view(),
                y: &labels,
                m,
                alpha: 1.0,
                deadline: None,
                last: std::cell::RefCell::new(None),
            };
            let (_, grad) = problem
                .evaluate(&w.into_shape_with_order(21 * m).unwrap())
                .unwrap();
            let norm = grad.mapv(|g| g * g).sum().sqrt();
            assert!(norm < 1e-4, "{classes} classes: gradient norm {norm}");
            let proba = model.predict(x.view());
            let accuracy = labels
                .iter()
                .enumerate()
                .filter(|(i, &l)| {
                    proba
                        .row(*i)
                        .iter()
                        .enumerate()
                        .max_by(|a, b| a.1.total_cmp(b.1))
                        .unwrap()
                        .0
                        == l
                })
                .count() as f64
                / 400.0;
            assert!(accuracy > 0.8, "{classes} classes: accuracy {accuracy}");
        }
    }

    #[test]
    fn a_past_deadline_is_a_budget_error() {
        let (x, labels) = three_classes();
        let train = TrainSet {
            x: x.view(),
            y: TargetRef::Classes {
                labels: &labels,
                n_classes: 3,
            },
            weights: None,
            binned: None,
        };
        let ctx = FitContext {
            deadline: Some(Instant::now()),
            seed: 0,
            valid: None,
        };
        let err = fit_logistic(&LogisticRegressionParams::default(), &train, &ctx).unwrap_err();
        assert!(matches!(err, AutotabError::Budget(_)), "{err}");
    }

    #[test]
    fn ridge_matches_its_closed_form() {
        let (x, _) = three_classes();
        let y: Vec<f64> = (0..400)
            .map(|i| x[[i, 0]] * 3.0 - x[[i, 5]] + 0.1 * x[[i, 7]] * x[[i, 7]])
            .collect();
        let penalty = 0.05;
        let params = ElasticNetParams {
            penalty,
            l1_ratio: 0.0,
        };
        let train = TrainSet {
            x: x.view(),
            y: TargetRef::Values(&y),
            weights: None,
            binned: None,
        };
        let model = fit_elastic_net(&params, &train, &FitContext::unbounded()).unwrap();
        // (Z'Z / n + penalty I) w = Z'y / n on the standardised problem, by Gauss-Jordan.
        let z = model.scaler.transform(x.view());
        let Link::Identity { y_mean, y_scale } = model.link else {
            panic!("a regression model");
        };
        let t = Array1::from_iter(y.iter().map(|v| (v - y_mean) / y_scale));
        let n = 400.0;
        let mut a = z.t().dot(&z) / n + Array2::<f64>::eye(20) * penalty;
        let mut b = z.t().dot(&t) / n;
        for c in 0..20 {
            let pivot = (c..20)
                .max_by(|&i, &j| a[[i, c]].abs().total_cmp(&a[[j, c]].abs()))
                .unwrap();
            for k in 0..20 {
                a.swap([c, k], [pivot, k]);
            }
            b.swap(c, pivot);
            for r in 0..20 {
                if r != c {
                    let f = a[[r, c]] / a[[c, c]];
                    for k in 0..20 {
                        a[[r, k]] -= f * a[[c, k]];
                    }
                    b[r] -= f * b[c];
                }
            }
        }
        for j in 0..20 {
            let exact = b[j] / a[[j, j]];
            assert!(
                (model.coef[[j, 0]] - exact).abs() < 1e-4,
                "coefficient {j}: {} vs {exact}",
                model.coef[[j, 0]]
            );
        }
    }

    #[test]
    fn lasso_zeroes_irrelevant_features() {
        let (x, _) = three_classes();
        let y: Vec<f64> = (0..400).map(|i| 2.0 * x[[i, 3]]).collect();
        let params = ElasticNetParams {
            penalty: 0.05,
            l1_ratio: 1.0,
        };
        let train = TrainSet {
            x: x.view(),
            y: TargetRef::Values(&y),
            weights: None,
            binned: None,
        };
        let model = fit_elastic_net(&params, &train, &FitContext::unbounded()).unwrap();
        let nonzero = model.coef.iter().filter(|c| c.abs() > 1e-12).count();
        assert!(
            nonzero <= 3,
            "{nonzero} non-zero coefficients: {:?}",
            model.coef
        );
        assert!(model.coef[[3, 0]] > 0.5);
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
        let m = fit_elastic_net(&p, &train, &FitContext::unbounded()).unwrap();
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
