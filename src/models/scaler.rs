//! Standardisation (zero mean, unit variance) for the learners that need scaled inputs.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

/// Per-column mean and standard deviation learned on training rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    mean: Array1<f64>,
    scale: Array1<f64>,
}

impl Standardizer {
    /// Learns means and standard deviations; constant columns keep a scale of 1.
    pub fn fit(x: ArrayView2<f64>) -> Standardizer {
        let n = x.nrows().max(1) as f64;
        let mean = x.sum_axis(Axis(0)) / n;
        let mut scale = Array1::zeros(x.ncols());
        for (j, col) in x.axis_iter(Axis(1)).enumerate() {
            let var = col.iter().map(|v| (v - mean[j]).powi(2)).sum::<f64>() / n;
            scale[j] = if var > 1e-24 { var.sqrt() } else { 1.0 };
        }
        Standardizer { mean, scale }
    }

    /// Applies the learned scaling.
    pub fn transform(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let mut out = x.to_owned();
        for (j, mut col) in out.axis_iter_mut(Axis(1)).enumerate() {
            let (m, s) = (self.mean[j], self.scale[j]);
            col.mapv_inplace(|v| (v - m) / s);
        }
        out
    }

    /// Number of columns.
    pub fn n_features(&self) -> usize {
        self.mean.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn scaled_columns_have_zero_mean_and_unit_variance() {
        let x = array![[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]];
        let s = Standardizer::fit(x.view());
        let z = s.transform(x.view());
        assert!((z.column(0).sum()).abs() < 1e-12);
        assert!((z.column(0).mapv(|v| v * v).sum() / 3.0 - 1.0).abs() < 1e-12);
        assert!(z.column(1).iter().all(|v| *v == 0.0));
    }
}
