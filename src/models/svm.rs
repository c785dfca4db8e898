//! Linear support vector machine (linfa-svm, SMO solver) with Platt-scaled probabilities;
//! one model per class (one-vs-rest) beyond two classes.
//!
//! The SMO solver cannot be interrupted and its cost grows faster than the rows (between
//! their square and cube), so under a deadline the first machine is first timed on samples
//! of the rows growing four times at each step up to a quarter, the growth measured between the
//! last two is
//! extrapolated to all rows, and the machines are fitted on all rows only when that projection
//! fits before the deadline; later machines are checked against the measured cost of the
//! earlier ones. The model never depends on the probes: they only decide whether to go on
//! (their cost is a few percent of the full fit's).

use std::time::Instant;

use linfa::dataset::Pr;
use linfa::traits::{Fit, Predict};
use linfa_svm::Svm;
use ndarray::{Array1, Array2, ArrayView2};
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

/// A fitted linear SVM: one binary machine per class it separates.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SvmModel {
    scaler: Standardizer,
    /// `(class, machine)`: the machine gives the probability of `class` against the rest.
    machines: Vec<(usize, Svm<f64, Pr>)>,
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
            let p: Array1<Pr> = machine.predict(&z);
            for (i, p) in p.iter().enumerate() {
                out[[i, *class]] = **p as f64;
                out[[i, other]] = 1.0 - **p as f64;
            }
            return out;
        }
        for (class, machine) in &self.machines {
            let p: Array1<Pr> = machine.predict(&z);
            for (i, p) in p.iter().enumerate() {
                out[[i, *class]] = (**p as f64).max(1e-9);
            }
        }
        for mut row in out.rows_mut() {
            let sum = row.sum();
            row.mapv_inplace(|v| v / sum);
        }
        out
    }
}

/// Fewest rows of the smaller probe sample; smaller tables are fitted without probing.
const PROBE_MIN_ROWS: usize = 100;

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
    let c = params.c;
    let scaler = Standardizer::fit(train.x);
    let z = scaler.transform(train.x);
    let present = present_classes(labels);
    let targets: Vec<usize> = if present.len() == 2 {
        vec![present[1]]
    } else {
        present
    };
    let mut machines = Vec::with_capacity(targets.len());
    // Seconds of the costliest machine so far (measured or, before the first, projected).
    let mut seconds_per_machine: Option<f64> = None;
    for (m, &class) in targets.iter().enumerate() {
        let left = (targets.len() - m) as f64;
        let y = Array1::from_iter(labels.iter().map(|&l| l == class));
        let per_machine = match seconds_per_machine {
            Some(s) => Some(s),
            None if deadline.is_bounded() => projected_seconds(&z, &y, c, ctx.seed, &deadline)?,
            None => None,
        };
        if let Some(s) = per_machine {
            deadline.afford(
                s * left,
                &format!("{} one-vs-rest machine(s) on {} rows", left, z.nrows()),
            )?;
        }
        let started = Instant::now();
        machines.push((class, fit_machine(&z, &y, c)?));
        let spent = started.elapsed().as_secs_f64();
        seconds_per_machine = Some(seconds_per_machine.map_or(spent, |s| s.max(spent)));
    }
    Ok(SvmModel {
        scaler,
        machines,
        n_classes,
    })
}

/// One binary machine: `y` against the rest.
fn fit_machine(z: &Array2<f64>, y: &Array1<bool>, c: f64) -> Result<Svm<f64, Pr>> {
    let dataset = linfa::Dataset::new(z.clone(), y.clone());
    Svm::<f64, Pr>::params()
        .linear_kernel()
        .pos_neg_weights(c, c)
        .fit(&dataset)
        .map_err(|e| AutotabError::fit(Algorithm::LinearSvm, e))
}

/// The projected seconds of one machine on all rows of `z`, from machines timed on samples
/// growing from a sixty-fourth to a quarter of them (growth clamped to between the square and
/// the cube of the rows). `None` when the table is too small to need probing or a sample holds
/// one class.
fn projected_seconds(
    z: &Array2<f64>,
    y: &Array1<bool>,
    c: f64,
    seed: u64,
    deadline: &Deadline,
) -> Result<Option<f64>> {
    let n = z.nrows();
    deadline.project_from_samples(n, (64, 4), PROBE_MIN_ROWS, (2.0, 3.0), |rows| {
        let sample = crate::validation::subsample_rows(n, rows, seed);
        let ys: Array1<bool> = sample.iter().map(|&i| y[i]).collect();
        if ys.iter().all(|&v| v) || !ys.iter().any(|&v| v) {
            return Ok(None);
        }
        let zs = z.select(ndarray::Axis(0), &sample);
        let started = Instant::now();
        fit_machine(&zs, &ys, c)?;
        Ok(Some(started.elapsed().as_secs_f64()))
    })
}
