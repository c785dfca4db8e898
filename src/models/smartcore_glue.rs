//! Conversions between ndarray and smartcore's matrix type.

use ndarray::{Array2, ArrayView2};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;

use crate::error::{AutotabError, Result};

/// Copies `x` into a row-major smartcore matrix.
pub(crate) fn to_dense(x: ArrayView2<f64>) -> Result<DenseMatrix<f64>> {
    let values: Vec<f64> = x.iter().copied().collect();
    DenseMatrix::new(x.nrows(), x.ncols(), values, false)
        .map_err(|e| AutotabError::Predict(e.to_string()))
}

/// Copies a smartcore matrix into an ndarray matrix.
pub(crate) fn from_dense(m: &DenseMatrix<f64>) -> Array2<f64> {
    let (rows, cols) = m.shape();
    Array2::from_shape_fn((rows, cols), |(i, j)| *m.get((i, j)))
}

/// Class indices as the `u32` labels smartcore classifiers take.
pub(crate) fn labels_u32(labels: &[usize]) -> Vec<u32> {
    labels.iter().map(|&l| l as u32).collect()
}
