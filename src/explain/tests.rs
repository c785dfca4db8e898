//! Contributions add up to the models' own predictions.

use super::*;
use crate::models::trees::{
    train_forest, train_gbm, BinnedData, ForestParams, GbmParams, TreeTarget,
};
use crate::models::BoostingModel;
use crate::models::ForestFit;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn table(n: usize, seed: u64) -> (Array2<f64>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, 5), |(_, j)| {
        if j == 4 && rng.gen_range(0..10) == 0 {
            f64::NAN
        } else {
            rng.gen_range(-1.0..1.0)
        }
    });
    let y = x
        .rows()
        .into_iter()
        .map(|r| {
            let s = r[0] + 0.5 * r[1] * r[2] + rng.gen_range(-0.3..0.3);
            if s > 0.3 {
                2
            } else if s > -0.3 {
                1
            } else {
                0
            }
        })
        .collect();
    (x, y)
}

fn check(model: &FittedModel, x: &Array2<f64>, to_prob: impl Fn(&[f64], usize) -> f64) {
    let ensemble = TreeEnsemble::of(model).expect("a tree model");
    let groups: Vec<Option<usize>> = vec![Some(0), Some(1), Some(1), Some(2), None];
    // Feature 4 belongs to no column: check with every feature its own group too.
    let identity: Vec<Option<usize>> = (0..5).map(Some).collect();
    let (values, base, raw, explained) =
        feature_contributions(&ensemble, x.view(), &identity, 5, None).expect("explains");
    let proba = model.predict(x.view()).expect("predicts");
    for i in 0..x.nrows() {
        let total = base[i] + values.row(i).sum();
        assert!(
            (total - raw[i]).abs() < 1e-9,
            "row {i}: {total} vs {}",
            raw[i]
        );
        let p = proba.row(i).to_vec();
        assert!(
            (to_prob(&p, explained[i]) - raw[i]).abs() < 1e-9,
            "row {i}: raw score {} does not give the prediction {p:?}",
            raw[i]
        );
    }
    let (grouped, ..) =
        feature_contributions(&ensemble, x.view(), &groups, 3, None).expect("explains");
    for i in 0..x.nrows() {
        assert!((grouped[[i, 1]] - values[[i, 1]] - values[[i, 2]]).abs() < 1e-12);
    }
}

#[test]
fn log_label_boosting_contributions_add_up_to_the_log_of_the_prediction() {
    let (x, y) = table(400, 3);
    let values: Vec<f64> = y.iter().map(|&c| (c as f64 + 1.0) * 1000.0).collect();
    let logs: Vec<f64> = values.iter().map(|v| v.ln()).collect();
    let binned = BinnedData::build(x.view(), 255, 1);
    let params = GbmParams {
        n_estimators: 20,
        ..GbmParams::default()
    };
    let gbm = train_gbm(
        &binned,
        TreeTarget::Values(&logs),
        None,
        None,
        &params,
        None,
        1,
    )
    .expect("trains");
    let model = FittedModel::Boosting(BoostingModel {
        gbm,
        log_target: true,
    });
    assert_eq!(
        TreeEnsemble::of(&model).expect("a tree model").score,
        ScoreScale::LogValue
    );
    check(&model, &x, |p, c| {
        assert_eq!(c, 0);
        p[0].ln()
    });
}

#[test]
fn boosting_contributions_add_up_to_the_log_odds_and_logits() {
    let (x, y) = table(400, 1);
    let binned = BinnedData::build(x.view(), 255, 1);
    let params = GbmParams {
        n_estimators: 20,
        ..GbmParams::default()
    };
    let binary: Vec<usize> = y.iter().map(|&c| (c == 2) as usize).collect();
    let gbm = train_gbm(
        &binned,
        TreeTarget::Classes {
            labels: &binary,
            n_classes: 2,
        },
        None,
        None,
        &params,
        None,
        1,
    )
    .expect("trains");
    let model = FittedModel::Boosting(BoostingModel::new(gbm));
    check(&model, &x, |p, c| {
        // One raw score: output 0, the positive class's log-odds.
        assert_eq!(c, 0);
        (p[1] / p[0]).ln()
    });

    let gbm = train_gbm(
        &binned,
        TreeTarget::Classes {
            labels: &y,
            n_classes: 3,
        },
        None,
        None,
        &params,
        None,
        1,
    )
    .expect("trains");
    let model = FittedModel::Boosting(BoostingModel::new(gbm));
    let ensemble = TreeEnsemble::of(&model).expect("a tree model");
    assert_eq!(ensemble.score, ScoreScale::Logit);
    // Softmax logits are defined up to a constant: compare differences through the model's
    // probabilities instead (the explained class is the most probable one).
    let identity: Vec<Option<usize>> = (0..5).map(Some).collect();
    let (values, base, raw, explained) =
        feature_contributions(&ensemble, x.view(), &identity, 5, None).expect("explains");
    let proba = model.predict(x.view()).expect("predicts");
    for i in 0..x.nrows() {
        assert!((base[i] + values.row(i).sum() - raw[i]).abs() < 1e-9);
        let best = (0..3)
            .max_by(|&a, &b| proba[[i, a]].total_cmp(&proba[[i, b]]))
            .unwrap_or(0);
        assert_eq!(explained[i], best);
    }
}

#[test]
fn forest_contributions_add_up_to_the_probability_and_the_value() {
    let (x, y) = table(300, 2);
    let binned = BinnedData::build(x.view(), 255, 1);
    for params in [
        ForestParams::default(),
        ForestParams::extra_trees_defaults(),
    ] {
        let params = ForestParams {
            n_estimators: 10,
            ..params
        };
        let binary: Vec<usize> = y.iter().map(|&c| (c == 2) as usize).collect();
        let forest = train_forest(
            &binned,
            TreeTarget::Classes {
                labels: &binary,
                n_classes: 2,
            },
            None,
            &params,
            None,
            4,
        )
        .expect("trains");
        check(&FittedModel::Forest(ForestFit { forest }), &x, |p, c| p[c]);

        let values: Vec<f64> = x.rows().into_iter().map(|r| r[0] * 3.0 - r[3]).collect();
        let forest = train_forest(&binned, TreeTarget::Values(&values), None, &params, None, 4)
            .expect("trains");
        check(&FittedModel::Forest(ForestFit { forest }), &x, |p, _| p[0]);
    }
}
