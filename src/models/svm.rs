//! Linear support vector machine (linfa-svm, SMO solver) with Platt-scaled probabilities;
//! one model per class (one-vs-rest) beyond two classes.

use linfa::dataset::Pr;
use linfa::traits::{Fit, Predict};
use linfa_svm::Svm;
use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

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
    for class in targets {
        if ctx.deadline.is_some_and(|d| std::time::Instant::now() > d) {
            return Err(AutotabError::Budget(
                "linear SVM stopped by the trial deadline".into(),
            ));
        }
        let y = Array1::from_iter(labels.iter().map(|&l| l == class));
        let dataset = linfa::Dataset::new(z.clone(), y);
        let machine = Svm::<f64, Pr>::params()
            .linear_kernel()
            .pos_neg_weights(c, c)
            .fit(&dataset)
            .map_err(|e| AutotabError::fit(Algorithm::LinearSvm, e))?;
        machines.push((class, machine));
    }
    Ok(SvmModel {
        scaler,
        machines,
        n_classes,
    })
}
