//! Behaviour tests of the tree core (fit quality, missing values, persistence, budgets).

use std::time::{Duration, Instant};

use ndarray::{Array2, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

/// `n` rows of `p` uniform features in [0, 1).
fn uniform(n: usize, p: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_fn((n, p), |_| rng.gen::<f64>())
}

fn accuracy(proba: &Array2<f64>, labels: &[usize]) -> f64 {
    let hits = proba
        .rows()
        .into_iter()
        .zip(labels)
        .filter(|(row, &l)| {
            let best = (0..row.len())
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap_or(0);
            best == l
        })
        .count();
    hits as f64 / labels.len() as f64
}

fn binned(x: &Array2<f64>) -> BinnedData {
    BinnedData::build(x.view(), 255, 7)
}

#[test]
fn one_forest_tree_fits_a_step_function_exactly() {
    let x = Array2::from_shape_fn((200, 1), |(i, _)| i as f64);
    let y: Vec<f64> = (0..200)
        .map(|i| {
            if i < 70 {
                1.0
            } else if i < 150 {
                5.0
            } else {
                -2.0
            }
        })
        .collect();
    let params = ForestParams {
        n_estimators: 1,
        max_features: 1.0,
        bootstrap: false,
        ..ForestParams::default()
    };
    let m = train_forest(&binned(&x), TreeTarget::Values(&y), None, &params, None, 0).unwrap();
    let p = m.predict(x.view());
    for (i, &t) in y.iter().enumerate() {
        assert_eq!(p[[i, 0]], t, "row {i}");
    }
}

#[test]
fn one_boosting_round_with_unit_rate_fits_a_step_function_exactly() {
    let x = Array2::from_shape_fn((100, 1), |(i, _)| i as f64);
    let y: Vec<f64> = (0..100).map(|i| if i < 40 { 3.0 } else { 10.0 }).collect();
    let params = GbmParams {
        n_estimators: 1,
        learning_rate: 1.0,
        min_child_samples: 1,
        ..GbmParams::default()
    };
    let m = train_gbm(
        &binned(&x),
        TreeTarget::Values(&y),
        None,
        None,
        &params,
        None,
        0,
    )
    .unwrap();
    let p = m.predict(x.view());
    // Histograms hold gradients as f32 (like LightGBM): the fit is exact to f32 precision.
    for (i, &t) in y.iter().enumerate() {
        assert!(
            (p[[i, 0]] - t).abs() < 1e-5,
            "row {i}: {} vs {t}",
            p[[i, 0]]
        );
    }
}

#[test]
fn boosting_separates_a_separable_binary_problem() {
    let x = uniform(2000, 5, 1);
    let labels: Vec<usize> = x
        .rows()
        .into_iter()
        .map(|r| (r[2] + r[3] > 1.0) as usize)
        .collect();
    let y = TreeTarget::Classes {
        labels: &labels,
        n_classes: 2,
    };
    let m = train_gbm(&binned(&x), y, None, None, &GbmParams::default(), None, 0).unwrap();
    let p = m.predict(x.view());
    assert_eq!(p.ncols(), 2);
    assert!(accuracy(&p, &labels) > 0.97);
    assert!(p
        .rows()
        .into_iter()
        .all(|r| (r[0] + r[1] - 1.0).abs() < 1e-12));
    let gain = m.feature_importance_gain();
    assert!(gain[2] > gain[0] && gain[3] > gain[1] && gain[3] > gain[4]);
    assert_eq!(m.n_trees(), 100);
    assert_eq!(m.best_iteration(), 100);
}

#[test]
fn softmax_learns_three_classes() {
    let x = uniform(3000, 4, 2);
    let labels: Vec<usize> = x
        .rows()
        .into_iter()
        .map(|r| ((r[1] * 3.0) as usize).min(2))
        .collect();
    let y = TreeTarget::Classes {
        labels: &labels,
        n_classes: 3,
    };
    let params = GbmParams {
        n_estimators: 30,
        ..GbmParams::default()
    };
    let m = train_gbm(&binned(&x), y, None, None, &params, None, 0).unwrap();
    assert_eq!(m.loss(), GbmLoss::Softmax);
    assert_eq!(m.n_trees(), 90);
    let test = uniform(1000, 4, 3);
    let test_labels: Vec<usize> = test
        .rows()
        .into_iter()
        .map(|r| ((r[1] * 3.0) as usize).min(2))
        .collect();
    let p = m.predict(test.view());
    assert_eq!(p.dim(), (1000, 3));
    assert!(accuracy(&p, &test_labels) > 0.97);
    assert!(p.rows().into_iter().all(|r| (r.sum() - 1.0).abs() < 1e-9));
}

#[test]
fn missing_values_follow_the_learned_direction() {
    // Feature 0 is NaN exactly for the positive class; the values themselves say nothing.
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let n = 1000;
    let labels: Vec<usize> = (0..n).map(|i| i % 2).collect();
    let x = Array2::from_shape_fn((n, 2), |(i, j)| {
        if j == 0 && labels[i] == 1 {
            f64::NAN
        } else {
            rng.gen::<f64>()
        }
    });
    let y = TreeTarget::Classes {
        labels: &labels,
        n_classes: 2,
    };
    let data = binned(&x);
    let m = train_gbm(&data, y, None, None, &GbmParams::default(), None, 0).unwrap();
    let probe = Array2::from_shape_vec((2, 2), vec![f64::NAN, 0.5, 0.3, 0.5]).unwrap();
    let p = m.predict(probe.view());
    assert!(p[[0, 1]] > 0.95, "NaN row: {}", p[[0, 1]]);
    assert!(p[[1, 1]] < 0.05, "value row: {}", p[[1, 1]]);
    // The same trees on binned rows agree with raw prediction.
    let f = ForestParams {
        n_estimators: 5,
        max_features: 1.0,
        ..ForestParams::default()
    };
    let rf = train_forest(&data, y, None, &f, None, 0).unwrap();
    let p = rf.predict(probe.view());
    assert!(p[[0, 1]] > 0.95 && p[[1, 1]] < 0.05);
}

#[test]
fn forests_classify_and_give_frequencies() {
    let x = uniform(1500, 6, 5);
    let labels: Vec<usize> = x
        .rows()
        .into_iter()
        .map(|r| (r[0] > 0.5) as usize + (r[1] > 0.5) as usize)
        .collect();
    let y = TreeTarget::Classes {
        labels: &labels,
        n_classes: 3,
    };
    let test = uniform(500, 6, 6);
    let test_labels: Vec<usize> = test
        .rows()
        .into_iter()
        .map(|r| (r[0] > 0.5) as usize + (r[1] > 0.5) as usize)
        .collect();
    for params in [
        ForestParams::default(),
        ForestParams::extra_trees_defaults(),
    ] {
        let params = ForestParams {
            n_estimators: 50,
            ..params
        };
        let m = train_forest(&binned(&x), y, None, &params, None, 1).unwrap();
        let p = m.predict(test.view());
        assert_eq!(p.dim(), (500, 3));
        assert!(p.rows().into_iter().all(|r| (r.sum() - 1.0).abs() < 1e-9));
        let acc = accuracy(&p, &test_labels);
        assert!(acc > 0.9, "{params:?}: accuracy {acc}");
        let gain = m.feature_importance_gain();
        assert!(gain[0] > gain[2] && gain[1] > gain[5]);
    }
}

#[test]
fn regression_losses_fit_a_smooth_target() {
    let x = uniform(3000, 3, 8);
    let y: Vec<f64> = x
        .rows()
        .into_iter()
        .map(|r| 10.0 * r[0] + (6.0 * r[1]).sin())
        .collect();
    let test = uniform(500, 3, 9);
    let ty: Vec<f64> = test
        .rows()
        .into_iter()
        .map(|r| 10.0 * r[0] + (6.0 * r[1]).sin())
        .collect();
    let mean = ty.iter().sum::<f64>() / ty.len() as f64;
    let sst: f64 = ty.iter().map(|v| (v - mean).powi(2)).sum();
    for loss in [GbmLoss::L2, GbmLoss::Huber, GbmLoss::L1] {
        let params = GbmParams {
            loss: Some(loss),
            n_estimators: 200,
            ..GbmParams::default()
        };
        let m = train_gbm(
            &binned(&x),
            TreeTarget::Values(&y),
            None,
            None,
            &params,
            None,
            0,
        )
        .unwrap();
        let p = m.predict(test.view());
        let sse: f64 = ty
            .iter()
            .enumerate()
            .map(|(i, v)| (v - p[[i, 0]]).powi(2))
            .sum();
        let r2 = 1.0 - sse / sst;
        assert!(r2 > 0.97, "{loss:?}: r2 {r2}");
    }
    let rf = train_forest(
        &binned(&x),
        TreeTarget::Values(&y),
        None,
        &ForestParams::default(),
        None,
        0,
    )
    .unwrap();
    let p = rf.predict(test.view());
    let sse: f64 = ty
        .iter()
        .enumerate()
        .map(|(i, v)| (v - p[[i, 0]]).powi(2))
        .sum();
    assert!(1.0 - sse / sst > 0.95);
}

fn assert_same(a: &Array2<f64>, b: &Array2<f64>) {
    assert_eq!(a.dim(), b.dim());
    for (x, y) in a.iter().zip(b.iter()) {
        assert_eq!(x.to_bits(), y.to_bits());
    }
}

fn round_trips<M>(m: &M, x: ArrayView2<f64>, predict: impl Fn(&M, ArrayView2<f64>) -> Array2<f64>)
where
    M: serde::Serialize + serde::de::DeserializeOwned,
{
    let before = predict(m, x);
    let json = serde_json::to_string(m).unwrap();
    let from_json: M = serde_json::from_str(&json).unwrap();
    assert_same(&before, &predict(&from_json, x));
    let bytes = bincode::serialize(m).unwrap();
    let from_bin: M = bincode::deserialize(&bytes).unwrap();
    assert_same(&before, &predict(&from_bin, x));
}

#[test]
fn models_survive_json_and_bincode_round_trips() {
    let mut x = uniform(800, 4, 10);
    for i in (0..800).step_by(7) {
        x[[i, 1]] = f64::NAN;
    }
    let data = binned(&x);
    let bin: Vec<usize> = x
        .rows()
        .into_iter()
        .map(|r| (r[0] > 0.4) as usize)
        .collect();
    let multi: Vec<usize> = x
        .rows()
        .into_iter()
        .map(|r| ((r[0] * 4.0) as usize).min(3))
        .collect();
    let values: Vec<f64> = x.rows().into_iter().map(|r| r[0] * 3.0 - r[2]).collect();
    let params = GbmParams {
        n_estimators: 15,
        ..GbmParams::default()
    };
    let targets = [
        TreeTarget::Classes {
            labels: &bin,
            n_classes: 2,
        },
        TreeTarget::Classes {
            labels: &multi,
            n_classes: 4,
        },
        TreeTarget::Values(&values),
    ];
    for y in targets {
        let m = train_gbm(&data, y, None, None, &params, None, 0).unwrap();
        round_trips(&m, x.view(), GbmModel::predict);
        for params in [
            ForestParams::default(),
            ForestParams::extra_trees_defaults(),
        ] {
            let params = ForestParams {
                n_estimators: 10,
                ..params
            };
            let f = train_forest(&data, y, None, &params, None, 0).unwrap();
            round_trips(&f, x.view(), ForestModel::predict);
        }
    }
}

#[test]
fn a_passed_deadline_keeps_what_was_built() {
    let x = uniform(500, 3, 11);
    let y: Vec<f64> = x.column(0).to_vec();
    let data = binned(&x);
    let past = Some(Instant::now() - Duration::from_millis(1));
    let m = train_gbm(
        &data,
        TreeTarget::Values(&y),
        None,
        None,
        &GbmParams::default(),
        past,
        0,
    )
    .unwrap();
    assert_eq!(m.n_trees(), 1);
    assert_eq!(m.best_iteration(), 1);
    let f = train_forest(
        &data,
        TreeTarget::Values(&y),
        None,
        &ForestParams::default(),
        past,
        0,
    )
    .unwrap();
    assert_eq!(f.n_trees(), 1);
    let far = Some(Instant::now() + Duration::from_secs(3600));
    let m = train_gbm(
        &data,
        TreeTarget::Values(&y),
        None,
        None,
        &GbmParams::default(),
        far,
        0,
    )
    .unwrap();
    assert_eq!(m.n_trees(), 100);
}

#[test]
fn early_stopping_keeps_the_best_rounds() {
    // Pure noise: validation loss stops improving almost at once.
    let x = uniform(1000, 5, 12);
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let labels: Vec<usize> = (0..1000).map(|_| rng.gen_range(0..2)).collect();
    let vx = uniform(500, 5, 14);
    let vlabels: Vec<usize> = (0..500).map(|_| rng.gen_range(0..2)).collect();
    let data = binned(&x);
    let vdata = data.bin_like(vx.view());
    let params = GbmParams {
        n_estimators: 500,
        early_stopping_rounds: Some(10),
        ..GbmParams::default()
    };
    let y = TreeTarget::Classes {
        labels: &labels,
        n_classes: 2,
    };
    let vy = TreeTarget::Classes {
        labels: &vlabels,
        n_classes: 2,
    };
    let m = train_gbm(&data, y, None, Some((&vdata, vy)), &params, None, 0).unwrap();
    assert!(m.best_iteration() < 100, "best {}", m.best_iteration());
    assert_eq!(m.n_trees(), m.best_iteration());
}

#[test]
fn warm_start_equals_training_longer() {
    let x = uniform(1000, 4, 15);
    let y: Vec<f64> = x.rows().into_iter().map(|r| r[0] * r[1] + r[2]).collect();
    let data = binned(&x);
    let p = |n| GbmParams {
        n_estimators: n,
        ..GbmParams::default()
    };
    let full = train_gbm(&data, TreeTarget::Values(&y), None, None, &p(20), None, 0).unwrap();
    let mut warm = train_gbm(&data, TreeTarget::Values(&y), None, None, &p(8), None, 0).unwrap();
    warm.continue_training(&data, TreeTarget::Values(&y), None, None, 12, None, 0)
        .unwrap();
    assert_eq!(warm.n_trees(), 20);
    assert_eq!(warm.best_iteration(), 20);
    assert_same(&full.predict(x.view()), &warm.predict(x.view()));
    let other = BinnedData::build(x.view(), 16, 0);
    assert!(warm
        .continue_training(&other, TreeTarget::Values(&y), None, None, 1, None, 0)
        .is_err());
}

#[test]
fn weights_act_like_repeated_rows() {
    let x = Array2::from_shape_fn((60, 2), |(i, j)| ((i * (j + 3)) % 17) as f64);
    let y: Vec<f64> = (0..60).map(|i| (i % 5) as f64).collect();
    let w: Vec<f64> = (0..60)
        .map(|i| if i % 3 == 0 { 2.0 } else { 1.0 })
        .collect();
    let mut rows = Vec::new();
    for i in 0..60 {
        rows.push(i);
        if i % 3 == 0 {
            rows.push(i);
        }
    }
    let xd = Array2::from_shape_fn((rows.len(), 2), |(r, j)| x[[rows[r], j]]);
    let yd: Vec<f64> = rows.iter().map(|&r| y[r]).collect();
    let params = GbmParams {
        n_estimators: 10,
        min_child_samples: 1,
        min_child_weight: 0.0,
        ..GbmParams::default()
    };
    let a = train_gbm(
        &binned(&x),
        TreeTarget::Values(&y),
        Some(&w),
        None,
        &params,
        None,
        0,
    )
    .unwrap();
    let b = train_gbm(
        &binned(&xd),
        TreeTarget::Values(&yd),
        None,
        None,
        &params,
        None,
        0,
    )
    .unwrap();
    let (pa, pb) = (a.predict(x.view()), b.predict(x.view()));
    for (u, v) in pa.iter().zip(pb.iter()) {
        assert!((u - v).abs() < 1e-9, "{u} vs {v}");
    }
}

#[test]
fn sampling_is_seeded_and_limits_are_respected() {
    let x = uniform(2000, 10, 16);
    let y: Vec<f64> = x.rows().into_iter().map(|r| r.sum()).collect();
    let data = binned(&x);
    let params = GbmParams {
        n_estimators: 20,
        subsample: 0.7,
        colsample_bytree: 0.5,
        colsample_bynode: 0.5,
        max_depth: Some(3),
        num_leaves: 63,
        ..GbmParams::default()
    };
    let a = train_gbm(&data, TreeTarget::Values(&y), None, None, &params, None, 5).unwrap();
    let b = train_gbm(&data, TreeTarget::Values(&y), None, None, &params, None, 5).unwrap();
    let c = train_gbm(&data, TreeTarget::Values(&y), None, None, &params, None, 6).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.trees.iter().all(|t| t.n_leaves() <= 8));
    let leafy = GbmParams {
        n_estimators: 3,
        num_leaves: 5,
        ..GbmParams::default()
    };
    let m = train_gbm(&data, TreeTarget::Values(&y), None, None, &leafy, None, 0).unwrap();
    assert!(m.trees.iter().all(|t| t.n_leaves() == 5));
}

#[test]
fn bad_parameters_and_targets_are_refused() {
    let x = uniform(50, 2, 17);
    let data = binned(&x);
    let labels = vec![3usize; 50];
    let y = TreeTarget::Classes {
        labels: &labels,
        n_classes: 2,
    };
    assert!(train_gbm(&data, y, None, None, &GbmParams::default(), None, 0).is_err());
    let v = vec![1.0; 49];
    assert!(train_gbm(
        &data,
        TreeTarget::Values(&v),
        None,
        None,
        &GbmParams::default(),
        None,
        0
    )
    .is_err());
    for p in [
        GbmParams {
            learning_rate: 0.0,
            ..GbmParams::default()
        },
        GbmParams {
            num_leaves: 1,
            ..GbmParams::default()
        },
        GbmParams {
            subsample: 1.5,
            ..GbmParams::default()
        },
    ] {
        assert!(p.check().is_err());
    }
    let v = vec![1.0; 50];
    let logloss = GbmParams {
        loss: Some(GbmLoss::LogLoss),
        ..GbmParams::default()
    };
    assert!(train_gbm(&data, TreeTarget::Values(&v), None, None, &logloss, None, 0).is_err());
    let w = vec![-1.0; 50];
    assert!(train_gbm(
        &data,
        TreeTarget::Values(&v),
        Some(&w),
        None,
        &GbmParams::default(),
        None,
        0
    )
    .is_err());
    let bad_forest = ForestParams {
        max_features: 2.0,
        ..ForestParams::default()
    };
    assert!(bad_forest.check().is_err());
    assert!(GbmParams::default().check().is_ok());
    assert!(ForestParams::default().check().is_ok());
}

#[test]
fn raw_and_binned_routing_agree() {
    // Trees predict from raw thresholds; training and early stopping route binned rows. Both
    // must send every row (NaN, ties on thresholds, values outside the training range) to the
    // same leaf.
    let mut rng = ChaCha8Rng::seed_from_u64(20);
    let mut x = Array2::from_shape_fn((3000, 4), |(_, j)| {
        let v: f64 = rng.gen();
        if j == 3 {
            (v * 7.0).floor()
        } else {
            v
        }
    });
    for i in (0..3000).step_by(5) {
        x[[i, i % 4]] = f64::NAN;
    }
    let labels: Vec<usize> = x
        .rows()
        .into_iter()
        .map(|r| (r[0].is_nan() || r[0] + r[3] / 7.0 > 0.8) as usize)
        .collect();
    let data = binned(&x);
    let y = TreeTarget::Classes {
        labels: &labels,
        n_classes: 2,
    };
    let params = GbmParams {
        n_estimators: 10,
        ..GbmParams::default()
    };
    let m = train_gbm(&data, y, None, None, &params, None, 0).unwrap();
    let probe = Array2::from_shape_fn((500, 4), |(i, j)| match i % 4 {
        0 => x[[i, j]],
        1 => -5.0,
        2 => 9.0,
        _ => f64::NAN,
    });
    for (rows, bins) in [(&x, data.clone()), (&probe, data.bin_like(probe.view()))] {
        for t in &m.trees {
            for (i, row) in rows.rows().into_iter().enumerate() {
                let row = row.to_vec();
                assert_eq!(t.leaf_of_row(&row), t.leaf_of_binned(&bins, i), "row {i}");
            }
        }
    }
}

/// Two categoricals one-hot encoded (8 and 5 levels), two numbers and a binary column with
/// missing values; a target of all of them.
fn one_hot_table(n: usize, seed: u64) -> (Array2<f64>, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut x = Array2::zeros((n, 16));
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let a = rng.gen_range(0..8);
        let b = rng.gen_range(0..5);
        x[[i, a]] = 1.0;
        x[[i, 8 + b]] = 1.0;
        let (u, v): (f64, f64) = (rng.gen(), rng.gen());
        x[[i, 13]] = u;
        x[[i, 14]] = v;
        x[[i, 15]] = if rng.gen::<f64>() < 0.2 {
            f64::NAN
        } else {
            (rng.gen::<f64>() < 0.5) as u8 as f64
        };
        let effect_a = [0.0, 1.0, -1.0, 2.0, 0.5, -0.5, 1.5, -2.0][a];
        let effect_b = [0.3, -0.3, 0.8, -0.8, 0.0][b];
        y.push(effect_a + effect_b + 2.0 * u - v + 0.3 * rng.gen::<f64>());
    }
    (x, y)
}

#[test]
fn exclusive_one_hot_columns_share_a_histogram_slot() {
    let (x, _) = one_hot_table(3000, 11);
    let bundled = binned(&x);
    // The 8 and the 5 one-hot columns make two slots; the numbers and the column with
    // missing values stay on their own.
    assert_eq!(bundled.n_slots(), 2 + 3);
    let (c, b) = bundled.feature_slot(3);
    assert_eq!(bundled.slot_features(c), &[0, 1, 2, 3, 4, 5, 6, 7]);
    let column = bundled.slot_column(c);
    for (r, row) in x.rows().into_iter().enumerate() {
        assert_eq!(column[r] == b, row[3] == 1.0, "row {r}");
    }
    assert_eq!(bundled.feature_slot(15).1, 0);
    // A row sample keeps the bundles; other rows binned alike are not bundled.
    let rows: Vec<usize> = (0..3000).step_by(3).collect();
    let sample = bundled.select_rows(&rows);
    assert_eq!(sample.n_slots(), 5);
    assert_eq!(sample.slot_column(c)[1], column[3]);
    assert_eq!(bundled.bin_like(x.view()).n_slots(), 16);
}

#[test]
fn bundled_and_unbundled_histograms_grow_the_same_trees() {
    let (x, y) = one_hot_table(3000, 12);
    let bundled = binned(&x);
    let plain = bundled.bin_like(x.view());
    assert!(bundled.n_slots() < plain.n_slots());
    let labels: Vec<usize> = y.iter().map(|&v| (v > 0.8) as usize).collect();
    let classes = TreeTarget::Classes {
        labels: &labels,
        n_classes: 2,
    };
    let gbm = GbmParams {
        n_estimators: 40,
        colsample_bytree: 0.7,
        subsample: 0.8,
        ..GbmParams::default()
    };
    for target in [TreeTarget::Values(&y), classes] {
        let fit = |data: &BinnedData| {
            train_gbm(data, target, None, None, &gbm, None, 3)
                .unwrap()
                .predict(x.view())
        };
        let (a, b) = (fit(&bundled), fit(&plain));
        let diff = (&a - &b).mapv(f64::abs).fold(0.0_f64, |m, &d| m.max(d));
        assert!(diff < 1e-9, "boosting predictions differ by {diff}");
    }
    // Forests grow deep trees whose small leaves take the per-leaf route, chosen by a cost that
    // counts slots; rounding then breaks ties between equal splits differently. Their quality
    // must agree.
    let (test, test_y) = one_hot_table(2000, 13);
    let test_labels: Vec<usize> = test_y.iter().map(|&v| (v > 0.8) as usize).collect();
    for params in [
        ForestParams::default(),
        ForestParams::extra_trees_defaults(),
    ] {
        let params = ForestParams {
            n_estimators: 30,
            ..params
        };
        let fit = |data: &BinnedData| {
            let m = train_forest(data, classes, None, &params, None, 4).unwrap();
            accuracy(&m.predict(test.view()), &test_labels)
        };
        let (a, b) = (fit(&bundled), fit(&plain));
        assert!(
            a > 0.8 && (a - b).abs() < 0.02,
            "{params:?}: accuracy {a} bundled, {b} not"
        );
    }
}
