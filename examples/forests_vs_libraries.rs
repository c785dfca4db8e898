//! Our random forest and extra trees against smartcore's random forest, on the matrices written
//! by `trees_vs_lightgbm prepare` (see `reports/trees-vs-lightgbm.md`; scikit-learn's side is
//! `reports/scripts/sklearn_forests.py`).
//!
//! ```text
//! cargo run --release --example forests_vs_libraries -- <dataset> <encoded-dir>
//! ```
//! 100 trees each, one thread, library defaults otherwise (features per node: sqrt for
//! classification, all for regression). Prints one JSON line per system.

use std::path::Path;
use std::time::Instant;

use autotab::models::trees::{train_forest, BinnedData, ForestParams, TreeTarget};
use ndarray::Array2;
use smartcore::ensemble::random_forest_classifier::{
    RandomForestClassifier, RandomForestClassifierParameters,
};
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;

fn load(dir: &Path, name: &str, part: &str, p: usize) -> Result<(Array2<f64>, Vec<f64>), String> {
    let path = dir.join(format!("{name}.{part}.f64"));
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: Vec<f64> = bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect();
    let n = v.len() / (p + 1);
    let x = Array2::from_shape_fn((n, p), |(i, j)| v[i * (p + 1) + j]);
    let y = (0..n).map(|i| v[i * (p + 1) + p]).collect();
    Ok((x, y))
}

fn auc(score: &[f64], y: &[f64]) -> f64 {
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let mut rank = vec![0.0; score.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && score[idx[j + 1]] == score[idx[i]] {
            j += 1;
        }
        for k in i..=j {
            rank[idx[k]] = (i + j) as f64 / 2.0 + 1.0;
        }
        i = j + 1;
    }
    let pos = y.iter().filter(|&&v| v == 1.0).count() as f64;
    let neg = y.len() as f64 - pos;
    let sum: f64 = rank
        .iter()
        .zip(y)
        .filter(|(_, &v)| v == 1.0)
        .map(|(r, _)| r)
        .sum();
    (sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

fn r2(pred: &[f64], y: &[f64]) -> f64 {
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let sst: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    let sse: f64 = pred.iter().zip(y).map(|(p, v)| (p - v).powi(2)).sum();
    1.0 - sse / sst
}

fn accuracy(pred: &[f64], y: &[f64]) -> f64 {
    pred.iter()
        .zip(y)
        .filter(|(p, y)| (**p >= 0.5) == (**y == 1.0))
        .count() as f64
        / y.len() as f64
}

fn report(
    system: &str,
    name: &str,
    train_s: f64,
    predict_s: f64,
    pred: &[f64],
    ty: &[f64],
    binary: bool,
) {
    let metrics = if binary {
        format!(
            "\"auc\":{:.5},\"accuracy\":{:.5}",
            auc(pred, ty),
            accuracy(pred, ty)
        )
    } else {
        format!("\"r2\":{:.5}", r2(pred, ty))
    };
    println!("{{\"system\":\"{system}\",\"dataset\":\"{name}\",\"train_s\":{train_s:.3},\"predict_s\":{predict_s:.3},{metrics}}}");
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let (name, dir) = match args.as_slice() {
        [_, n, d] => (n.as_str(), Path::new(d)),
        _ => return Err("usage: forests_vs_libraries <dataset> <encoded-dir>".into()),
    };
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("{name}.json"))).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let p = meta["n_features"].as_u64().ok_or("n_features")? as usize;
    let binary = meta["binary"].as_bool().ok_or("binary")?;
    let (x, y) = load(dir, name, "train", p)?;
    let (tx, ty) = load(dir, name, "test", p)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| e.to_string())?;
    let labels: Vec<usize> = y.iter().map(|&v| v as usize).collect();
    for (system, params) in [
        ("autotab_rf", ForestParams::default()),
        ("autotab_et", ForestParams::extra_trees_defaults()),
    ] {
        let (train_s, pred, predict_s) = pool.install(|| {
            let t0 = Instant::now();
            let data = BinnedData::build(x.view(), 255, 0);
            let target = if binary {
                TreeTarget::Classes {
                    labels: &labels,
                    n_classes: 2,
                }
            } else {
                TreeTarget::Values(&y)
            };
            let model = train_forest(&data, target, None, &params, None, 0);
            let train_s = t0.elapsed().as_secs_f64();
            let t1 = Instant::now();
            let pred = model.map(|m| m.predict(tx.view()));
            (train_s, pred, t1.elapsed().as_secs_f64())
        });
        let pred = pred.map_err(|e| e.to_string())?;
        let col = pred.column(if binary { 1 } else { 0 }).to_vec();
        report(system, name, train_s, predict_s, &col, &ty, binary);
    }
    let dense = |a: &Array2<f64>| {
        DenseMatrix::new(a.nrows(), a.ncols(), a.iter().copied().collect(), false)
            .map_err(|e| e.to_string())
    };
    let (sx, stx) = (dense(&x)?, dense(&tx)?);
    let t0 = Instant::now();
    if binary {
        let sy: Vec<u32> = y.iter().map(|&v| v as u32).collect();
        let params = RandomForestClassifierParameters::default()
            .with_n_trees(100)
            .with_seed(0);
        let m = RandomForestClassifier::fit(&sx, &sy, params).map_err(|e| e.to_string())?;
        let train_s = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let pred: Vec<u32> = m.predict(&stx).map_err(|e| e.to_string())?;
        let pred: Vec<f64> = pred.iter().map(|&v| v as f64).collect();
        report(
            "smartcore_rf",
            name,
            train_s,
            t1.elapsed().as_secs_f64(),
            &pred,
            &ty,
            binary,
        );
    } else {
        let params = RandomForestRegressorParameters {
            n_trees: 100,
            m: Some(p),
            ..RandomForestRegressorParameters::default()
        };
        let m = RandomForestRegressor::fit(&sx, &y, params).map_err(|e| e.to_string())?;
        let train_s = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let pred: Vec<f64> = m.predict(&stx).map_err(|e| e.to_string())?;
        report(
            "smartcore_rf",
            name,
            train_s,
            t1.elapsed().as_secs_f64(),
            &pred,
            &ty,
            binary,
        );
    }
    Ok(())
}
