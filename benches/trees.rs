//! Criterion benches of the native tree core (one thread, synthetic 100,000 x 20 rows):
//! binning, one root histogram plus split search (a 2-leaf tree), a 31-leaf tree, 20 boosting
//! rounds, a 20-tree random forest, and batch prediction of 20,000 rows.
//!
//! `cargo bench --bench trees`

// criterion_group! generates an undocumented function.
#![allow(missing_docs)]

use std::hint::black_box;

use autotab::models::trees::{
    train_forest, train_gbm, BinnedData, ForestParams, GbmParams, TreeTarget,
};
use criterion::{criterion_group, criterion_main, Criterion};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn table(n: usize, p: usize, seed: u64) -> (Array2<f64>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, p), |_| rng.gen::<f64>());
    let y = x
        .rows()
        .into_iter()
        .map(|r| {
            let s = r[0] + r[1] * r[2] - 0.5 * r[3] + 0.3 * rng.gen::<f64>();
            (s > 0.65) as usize
        })
        .collect();
    (x, y)
}

fn benches(c: &mut Criterion) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool");
    let (x, labels) = table(100_000, 20, 1);
    let (tx, _) = table(20_000, 20, 2);
    let y = TreeTarget::Classes {
        labels: &labels,
        n_classes: 2,
    };
    let one_thread = |f: &(dyn Fn() + Sync)| pool.install(f);
    let data = pool.install(|| BinnedData::build(x.view(), 255, 0));
    let mut g = c.benchmark_group("trees_100k_x_20_1_thread");
    g.sample_size(10);
    g.bench_function("binning", |b| {
        b.iter(|| one_thread(&|| drop(black_box(BinnedData::build(x.view(), 255, 0)))))
    });
    let gbm = |n_estimators: usize, num_leaves: usize| GbmParams {
        n_estimators,
        num_leaves,
        ..GbmParams::default()
    };
    for (name, params) in [
        ("root_histogram_and_split", gbm(1, 2)),
        ("one_tree_31_leaves", gbm(1, 31)),
        ("gbm_20_rounds", gbm(20, 31)),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                one_thread(&|| drop(black_box(train_gbm(&data, y, None, None, &params, None, 0))))
            })
        });
    }
    let rf = ForestParams {
        n_estimators: 20,
        ..ForestParams::default()
    };
    g.bench_function("random_forest_20_trees", |b| {
        b.iter(|| one_thread(&|| drop(black_box(train_forest(&data, y, None, &rf, None, 0)))))
    });
    let model = pool
        .install(|| train_gbm(&data, y, None, None, &gbm(200, 31), None, 0))
        .expect("training on synthetic data");
    g.bench_function("predict_20k_rows_200_trees", |b| {
        b.iter(|| one_thread(&|| drop(black_box(model.predict(tx.view())))))
    });
    g.finish();
}

criterion_group!(trees, benches);
criterion_main!(trees);
