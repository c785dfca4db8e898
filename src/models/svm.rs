//! Linear support vector machine with Platt-scaled probabilities, one machine per class
//! (one-vs-rest) beyond two classes.
//!
//! Each machine is scikit-learn's `LinearSVC` default (squared hinge loss, L2 penalty, bias as
//! a constant feature) solved by dual coordinate descent (Hsieh et al., 2008, LIBLINEAR's
//! solver): one pass over the rows costs one dot product per row, and the solver stops when
//! the projected gradient's spread falls below a tolerance. linfa-svm's SMO solver, used
//! before, could not be interrupted and took minutes at large `C`; here the passes run on a
//! fixed seeded order and, under a deadline, each pass is first checked to fit before it
//! (from the cost of the passes so far), so the model never depends on the machine's speed:
//! the fit finishes its schedule or stops with a budget error. Probabilities come from Platt's
//! sigmoid fitted on the machine's training decision values.

use std::time::Instant;

use ndarray::{Array2, ArrayView2, Axis};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::deadline::Deadline;
use super::params::hyperparams;
use super::scaler::Standardizer;
use super::{present_classes, Algorithm, FitContext, TargetRef, TrainSet};
use crate::error::{AutotabError, Result};

hyperparams! {
    /// The linear SVM's hyperparameters.
    pub struct LinearSvmParams {
        /// The soft-margin penalty, recorded as `C`.
        c as "C": f64 = float(1e-3, 100.0, log), default 1.0, low_cost 1.0;
    }
}

/// One binary machine: a hyperplane on standardised features and Platt's sigmoid over its
/// decision value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Machine {
    weights: Vec<f64>,
    bias: f64,
    /// `P(class) = 1 / (1 + exp(platt_a * f + platt_b))` for decision value `f`.
    platt_a: f64,
    platt_b: f64,
}

impl Machine {
    fn decision(&self, row: ndarray::ArrayView1<f64>) -> f64 {
        row.iter()
            .zip(&self.weights)
            .map(|(x, w)| x * w)
            .sum::<f64>()
            + self.bias
    }

    fn probability(&self, row: ndarray::ArrayView1<f64>) -> f64 {
        let t = self.platt_a * self.decision(row) + self.platt_b;
        if t >= 0.0 {
            (-t).exp() / (1.0 + (-t).exp())
        } else {
            1.0 / (1.0 + t.exp())
        }
    }
}

/// A fitted linear SVM: one binary machine per class it separates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SvmModel {
    scaler: Standardizer,
    /// `(class, machine)`: the machine gives the probability of `class` against the rest.
    machines: Vec<(usize, Machine)>,
    n_classes: usize,
}

impl SvmModel {
    pub(crate) fn n_features(&self) -> usize {
        self.scaler.n_features()
    }

    pub(crate) fn predict(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let z = self.scaler.transform(x);
        let mut out = Array2::zeros((x.nrows(), self.n_classes));
        if let [(class, machine)] = self.machines.as_slice() {
            // Binary problem: one machine for the positive class.
            let other = if *class == 1 { 0 } else { 1 };
            for (i, row) in z.rows().into_iter().enumerate() {
                let p = machine.probability(row);
                out[[i, *class]] = p;
                out[[i, other]] = 1.0 - p;
            }
            return out;
        }
        for (class, machine) in &self.machines {
            for (i, row) in z.rows().into_iter().enumerate() {
                out[[i, *class]] = machine.probability(row).max(1e-9);
            }
        }
        for mut row in out.rows_mut() {
            let sum = row.sum();
            row.mapv_inplace(|v| v / sum);
        }
        out
    }
}

/// Most passes of dual coordinate descent over the rows.
const MAX_PASSES: usize = 1000;
/// The solver stops when the projected gradient's spread over a pass falls below this
/// (LIBLINEAR's default is 0.1; tighter here because the tables are small).
const TOLERANCE: f64 = 1e-3;

pub(crate) fn fit(
    params: &LinearSvmParams,
    train: &TrainSet,
    ctx: &FitContext,
) -> Result<SvmModel> {
    let TargetRef::Classes { labels, n_classes } = train.y else {
        return Err(AutotabError::fit(
            Algorithm::LinearSvm,
            "needs class labels",
        ));
    };
    let deadline = Deadline::new(ctx.deadline, Algorithm::LinearSvm);
    deadline.check("before training")?;
    let scaler = Standardizer::fit(train.x);
    let z = scaler.transform(train.x);
    let present = present_classes(labels);
    let targets: Vec<usize> = if present.len() == 2 {
        vec![present[1]]
    } else {
        present
    };
    let mut machines = Vec::with_capacity(targets.len());
    for &class in &targets {
        let y: Vec<f64> = labels
            .iter()
            .map(|&l| if l == class { 1.0 } else { -1.0 })
            .collect();
        machines.push((class, fit_machine(&z, &y, params.c, ctx.seed, &deadline)?));
    }
    Ok(SvmModel {
        scaler,
        machines,
        n_classes,
    })
}

/// One binary machine by dual coordinate descent on the squared hinge loss; `y` is +1 / -1.
fn fit_machine(
    z: &Array2<f64>,
    y: &[f64],
    c: f64,
    seed: u64,
    deadline: &Deadline,
) -> Result<Machine> {
    let (n, p) = (z.nrows(), z.ncols());
    // The bias is the weight of a constant feature of value 1.
    let diagonal = 0.5 / c;
    let q: Vec<f64> = z
        .rows()
        .into_iter()
        .map(|r| r.dot(&r) + 1.0 + diagonal)
        .collect();
    let mut alpha = vec![0.0; n];
    let mut w = vec![0.0; p];
    let mut bias = 0.0;
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let started = Instant::now();
    for pass in 0..MAX_PASSES {
        if pass > 0 {
            let per_pass = started.elapsed().as_secs_f64() / pass as f64;
            deadline.afford(
                per_pass,
                &format!("pass {} of at most {MAX_PASSES} over {n} rows", pass + 1),
            )?;
        }
        order.shuffle(&mut rng);
        let (mut largest, mut smallest) = (f64::NEG_INFINITY, f64::INFINITY);
        for &i in &order {
            let row = z.row(i);
            let margin = row.iter().zip(&w).map(|(x, w)| x * w).sum::<f64>() + bias;
            let gradient = y[i] * margin - 1.0 + diagonal * alpha[i];
            let projected = if alpha[i] <= 0.0 {
                gradient.min(0.0)
            } else {
                gradient
            };
            largest = largest.max(projected);
            smallest = smallest.min(projected);
            if projected.abs() > 1e-12 {
                let old = alpha[i];
                alpha[i] = (old - gradient / q[i]).max(0.0);
                let step = (alpha[i] - old) * y[i];
                for (w, x) in w.iter_mut().zip(row.iter()) {
                    *w += step * x;
                }
                bias += step;
            }
        }
        if largest - smallest <= TOLERANCE {
            break;
        }
    }
    let mut machine = Machine {
        weights: w,
        bias,
        platt_a: -1.0,
        platt_b: 0.0,
    };
    let decisions: Vec<f64> = z.axis_iter(Axis(0)).map(|r| machine.decision(r)).collect();
    (machine.platt_a, machine.platt_b) = platt(&decisions, y);
    Ok(machine)
}

/// Platt's sigmoid `P(+1 | f) = 1 / (1 + exp(a f + b))` fitted by Newton's method with Platt's
/// smoothed targets (Lin, Lin and Weng's numerically careful version).
fn platt(decisions: &[f64], y: &[f64]) -> (f64, f64) {
    let positives = y.iter().filter(|&&v| v > 0.0).count() as f64;
    let negatives = y.len() as f64 - positives;
    let high = (positives + 1.0) / (positives + 2.0);
    let low = 1.0 / (negatives + 2.0);
    let targets: Vec<f64> = y
        .iter()
        .map(|&v| if v > 0.0 { high } else { low })
        .collect();
    let (mut a, mut b) = (0.0, ((negatives + 1.0) / (positives + 1.0)).ln());
    let objective = |a: f64, b: f64| -> f64 {
        decisions
            .iter()
            .zip(&targets)
            .map(|(f, t)| {
                let s = a * f + b;
                if s >= 0.0 {
                    t * s + (-s).exp().ln_1p()
                } else {
                    (t - 1.0) * s + s.exp().ln_1p()
                }
            })
            .sum()
    };
    let mut value = objective(a, b);
    for _ in 0..100 {
        let (mut h11, mut h22, mut h21, mut g1, mut g2) = (1e-12, 1e-12, 0.0, 0.0, 0.0);
        for (f, t) in decisions.iter().zip(&targets) {
            let s = a * f + b;
            let (p, q) = if s >= 0.0 {
                let e = (-s).exp();
                (e / (1.0 + e), 1.0 / (1.0 + e))
            } else {
                let e = s.exp();
                (1.0 / (1.0 + e), e / (1.0 + e))
            };
            let d2 = p * q;
            h11 += f * f * d2;
            h22 += d2;
            h21 += f * d2;
            let d1 = t - p;
            g1 += f * d1;
            g2 += d1;
        }
        if g1.abs() < 1e-5 && g2.abs() < 1e-5 {
            break;
        }
        let det = h11 * h22 - h21 * h21;
        let da = -(h22 * g1 - h21 * g2) / det;
        let db = -(-h21 * g1 + h11 * g2) / det;
        let gd = g1 * da + g2 * db;
        let mut step = 1.0;
        loop {
            let (na, nb) = (a + step * da, b + step * db);
            let new = objective(na, nb);
            if new < value + 1e-4 * step * gd {
                (a, b, value) = (na, nb, new);
                break;
            }
            step /= 2.0;
            if step < 1e-10 {
                return (a, b);
            }
        }
    }
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn separable_classes_get_confident_probabilities() {
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
        let model = fit(
            &LinearSvmParams::default(),
            &train,
            &FitContext::unbounded(),
        )
        .unwrap();
        let proba = model.predict(x.view());
        for (i, l) in labels.iter().enumerate() {
            assert!(proba[[i, *l]] > 0.5, "row {i}: {:?}", proba.row(i));
            assert!((proba.row(i).sum() - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn the_dual_solution_meets_the_optimality_conditions() {
        // Overlapping classes: some rows are inside the margin.
        let x = Array2::from_shape_fn((200, 3), |(i, j)| {
            ((i as f64 * 0.37 + j as f64 * 1.3).sin() + if i % 2 == 0 { 0.4 } else { -0.4 })
                * (j as f64 + 1.0)
        });
        let y: Vec<f64> = (0..200)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let deadline = Deadline::new(None, Algorithm::LinearSvm);
        let c = 0.5;
        let m = fit_machine(&x, &y, c, 3, &deadline).unwrap();
        // Primal: w = sum alpha_i y_i x_i with alpha_i = 2C max(0, 1 - y_i f_i) for the squared
        // hinge; check w against that reconstruction.
        let mut w = [0.0; 3];
        let mut bias = 0.0;
        for (i, row) in x.rows().into_iter().enumerate() {
            let slack = (1.0 - y[i] * m.decision(row)).max(0.0);
            let alpha = 2.0 * c * slack;
            for j in 0..3 {
                w[j] += alpha * y[i] * row[j];
            }
            bias += alpha * y[i];
        }
        for j in 0..3 {
            assert!(
                (w[j] - m.weights[j]).abs() < 0.05 * (1.0 + m.weights[j].abs()),
                "{w:?} vs {:?}",
                m.weights
            );
        }
        assert!((bias - m.bias).abs() < 0.05 * (1.0 + m.bias.abs()));
    }

    #[test]
    fn a_past_deadline_is_a_budget_error() {
        let x = Array2::from_shape_fn((300, 4), |(i, j)| ((i * 31 + j * 7) % 13) as f64);
        let labels: Vec<usize> = (0..300).map(|i| i % 3).collect();
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
        let err = fit(&LinearSvmParams::default(), &train, &ctx).unwrap_err();
        assert!(matches!(err, AutotabError::Budget(_)), "{err}");
    }
}
