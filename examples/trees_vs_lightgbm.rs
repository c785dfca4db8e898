//! Side-by-side measurement of the native boosting core against LightGBM (see
//! `reports/trees-vs-lightgbm.md`; the LightGBM side is `reports/scripts/lgbm_side.py`).
//!
//! ```text
//! cargo run --release --example trees_vs_lightgbm -- prepare <bench-dir/dataset|synthetic> <encoded-dir>
//! cargo run --release --example trees_vs_lightgbm -- run <dataset|synthetic> <encoded-dir> <threads>
//! ```
//! `prepare` loads `<bench-dir>/<dataset>/{train,test}.csv` (strings ordinal-encoded in
//! sorted order, unseen test strings as missing), or generates the synthetic 1,000,000 x 50
//! table (train seed 42, 100,000 test rows seed 43), and writes the encoded matrices to
//! `<encoded-dir>/<dataset>.{train,test}.f64` (row-major f64, label last). `run` reads them
//! (as the Python side does), trains 200 rounds of 31 leaves at learning rate 0.1 on a local
//! rayon pool of `<threads>` threads and prints one JSON line of timings and the test metric.

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::path::Path;
use std::time::Instant;

use autotab::models::trees::{train_gbm, BinnedData, GbmParams, TreeTarget};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

type Table = (Array2<f64>, Vec<f64>);

fn read_csv(path: &Path) -> Result<(Vec<String>, Vec<Vec<String>>), String> {
    let mut r = csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let header = r
        .headers()
        .map_err(|e| e.to_string())?
        .iter()
        .map(str::to_string)
        .collect();
    let mut rows = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| e.to_string())?;
        rows.push(rec.iter().map(str::to_string).collect());
    }
    Ok((header, rows))
}

fn is_missing(s: &str) -> bool {
    s.is_empty() || s == "NA" || s == "nan" || s == "NaN"
}

/// Loads a bench dataset: numeric columns as numbers, string columns as ordinal codes; binary
/// labels as 0/1 (the second class in sorted order is 1).
fn load_bench(dir: &Path) -> Result<(Table, Table, bool), String> {
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("bench.json")).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let label = meta["label"]
        .as_str()
        .ok_or("bench.json has no label")?
        .to_string();
    let binary = meta["task"].as_str() == Some("binary");
    let (header, train) = read_csv(&dir.join("train.csv"))?;
    let (_, test) = read_csv(&dir.join("test.csv"))?;
    let li = header
        .iter()
        .position(|h| *h == label)
        .ok_or("label column not found")?;
    let features: Vec<usize> = (0..header.len()).filter(|&j| j != li).collect();
    let mut encoders: Vec<Option<HashMap<String, f64>>> = Vec::new();
    for &j in &features {
        let numeric = train
            .iter()
            .chain(&test)
            .all(|r| is_missing(&r[j]) || r[j].parse::<f64>().is_ok());
        encoders.push(if numeric {
            None
        } else {
            let levels: BTreeSet<&String> = train.iter().map(|r| &r[j]).collect();
            Some(
                levels
                    .into_iter()
                    .enumerate()
                    .map(|(i, s)| (s.clone(), i as f64))
                    .collect(),
            )
        });
    }
    let classes: Vec<String> = {
        let set: BTreeSet<&String> = train.iter().map(|r| &r[li]).collect();
        set.into_iter().cloned().collect()
    };
    let encode = |rows: &[Vec<String>]| -> Result<Table, String> {
        let x = Array2::from_shape_fn((rows.len(), features.len()), |(i, k)| {
            let s = &rows[i][features[k]];
            match &encoders[k] {
                Some(map) => map.get(s).copied().unwrap_or(f64::NAN),
                None if is_missing(s) => f64::NAN,
                None => s.parse().unwrap_or(f64::NAN),
            }
        });
        let y = rows
            .iter()
            .map(|r| {
                if binary {
                    Ok(if r[li] == classes[1] { 1.0 } else { 0.0 })
                } else {
                    r[li]
                        .parse::<f64>()
                        .map_err(|e| format!("label {}: {e}", r[li]))
                }
            })
            .collect::<Result<Vec<f64>, String>>()?;
        Ok((x, y))
    };
    Ok((encode(&train)?, encode(&test)?, binary))
}

/// The synthetic binary table: 50 standard-normal features, a label from a noisy
/// non-linear score of the first 10.
fn synthetic(n: usize, seed: u64) -> Table {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let p = 50;
    let mut normal = move || {
        let u: f64 = rng.gen::<f64>().max(1e-300);
        let v: f64 = rng.gen();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    };
    let mut x = Array2::zeros((n, p));
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        for j in 0..p {
            x[[i, j]] = normal();
        }
        let r = x.row(i);
        let score = r[0] - 0.8 * r[1] + 0.6 * r[2] * r[3] + (2.0 * r[4]).sin() + 0.5 * r[5].abs()
            - 0.4 * r[6] * r[6]
            + 0.3 * (r[7] + r[8] + r[9])
            + normal();
        y.push(if score > 0.0 { 1.0 } else { 0.0 });
    }
    (x, y)
}

fn write_f64(path: &Path, t: &Table) -> Result<(), String> {
    let (x, y) = t;
    let f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut w = std::io::BufWriter::new(f);
    for (row, yi) in x.rows().into_iter().zip(y) {
        for v in row.iter().chain(std::iter::once(yi)) {
            w.write_all(&v.to_le_bytes()).map_err(|e| e.to_string())?;
        }
    }
    w.flush().map_err(|e| e.to_string())
}

/// Reads a matrix written by `write_f64` (`p` features, label last), streaming it into place.
fn read_f64(dir: &Path, name: &str, part: &str, p: usize) -> Result<Table, String> {
    let path = dir.join(format!("{name}.{part}.f64"));
    let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let len = file.metadata().map_err(|e| e.to_string())?.len() as usize;
    let n = len / 8 / (p + 1);
    let mut r = std::io::BufReader::new(file);
    let mut next = || -> Result<f64, String> {
        let mut b = [0u8; 8];
        r.read_exact(&mut b)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(f64::from_le_bytes(b))
    };
    let mut x = Array2::zeros((n, p));
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        for j in 0..p {
            x[[i, j]] = next()?;
        }
        y.push(next()?);
    }
    Ok((x, y))
}

/// Area under the ROC curve (ties get average ranks).
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
        let r = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            rank[idx[k]] = r;
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

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: trees_vs_lightgbm prepare <dataset> <dir> | run <dataset> <dir> <threads>";
    if args.len() < 4 {
        return Err(usage.into());
    }
    let source = Path::new(&args[2]);
    let name = &source
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| args[2].clone());
    let out = Path::new(&args[3]);
    if args[1] == "prepare" {
        let (train, test, binary) = if name == "synthetic" {
            (synthetic(1_000_000, 42), synthetic(100_000, 43), true)
        } else {
            load_bench(source)?
        };
        std::fs::create_dir_all(out).map_err(|e| e.to_string())?;
        write_f64(&out.join(format!("{name}.train.f64")), &train)?;
        write_f64(&out.join(format!("{name}.test.f64")), &test)?;
        let meta = format!("{{\"n_features\":{},\"binary\":{binary}}}", train.0.ncols());
        std::fs::write(out.join(format!("{name}.json")), meta).map_err(|e| e.to_string())?;
        println!(
            "{name}: {} x {} train, {} test",
            train.0.nrows(),
            train.0.ncols(),
            test.0.nrows()
        );
        return Ok(());
    }
    let threads: usize = args
        .get(4)
        .ok_or(usage)?
        .parse()
        .map_err(|e| format!("threads: {e}"))?;
    // Both sides read the same encoded matrices, so peak memory compares like with like.
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join(format!("{name}.json"))).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let p = meta["n_features"].as_u64().ok_or("n_features")? as usize;
    let binary = meta["binary"].as_bool().ok_or("binary")?;
    let (x, y) = read_f64(out, name, "train", p)?;
    let (tx, ty) = read_f64(out, name, "test", p)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| e.to_string())?;
    // An optional fifth argument changes the number of rounds (for profiling only).
    let rounds: usize = args.get(5).and_then(|r| r.parse().ok()).unwrap_or(200);
    let params = GbmParams {
        n_estimators: rounds,
        num_leaves: 31,
        learning_rate: 0.1,
        ..GbmParams::default()
    };
    let labels: Vec<usize> = y.iter().map(|&v| v as usize).collect();
    let (model, train_s, pred, predict_s) = pool.install(|| {
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
        let model = train_gbm(&data, target, None, None, &params, None, 0);
        let train_s = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let pred = model.as_ref().map(|m| m.predict(tx.view())).ok();
        (model, train_s, pred, t1.elapsed().as_secs_f64())
    });
    let model = model.map_err(|e| e.to_string())?;
    let pred = pred.ok_or("prediction failed")?;
    let (metric, value) = if binary {
        ("auc", auc(&pred.column(1).to_vec(), &ty))
    } else {
        ("r2", r2(&pred.column(0).to_vec(), &ty))
    };
    println!(
        "{{\"system\":\"autotab\",\"dataset\":\"{name}\",\"threads\":{threads},\"train_s\":{train_s:.4},\"predict_s\":{predict_s:.4},\"metric\":\"{metric}\",\"value\":{value:.5},\"trees\":{},\"n_train\":{},\"n_test\":{}}}",
        model.n_trees(),
        x.nrows(),
        tx.nrows()
    );
    Ok(())
}
