//! Stack ensembles (Azure AutoML's `StackEnsemble`): a meta-learner fitted on the members'
//! out-of-fold predictions.
//!
//! The members are the voting ensemble's (or, without one, the best trial of each algorithm).
//! The meta-learner is Azure's default: logistic regression on the members' class
//! probabilities (one column per member for a binary label) for classification, an elastic
//! net (mostly ridge) on their predictions for regression, both the crate's own learners.
//!
//! **Honest score.** The stack is scored on the same folds as the trials: on each fold, a
//! meta-learner fitted on the out-of-fold rows of the *other* folds predicts this fold's rows,
//! and the fold's score is the metric on them. With a single validation fold (a holdout or a
//! given validation table) there are no other folds, so its rows are split into
//! [`INNER_PARTS`] parts and each part is predicted by a meta-learner fitted on the others.
//! Either way no row is predicted by a meta-learner that saw it, and the mean of the fold
//! scores compares with the trials' and the voting ensemble's. The model that is kept uses a
//! meta-learner fitted on every out-of-fold row.

use std::time::Instant;

use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::{score_rows, EnsembleKind, EnsembleRecord, Member};
use crate::error::{AutotabError, Result};
use crate::metrics::Metric;
use crate::models::{Algorithm, Estimator, FitContext, FittedModel, ParamValue, Params, TrainSet};
use crate::models::{StackInput, StackedModel};
use crate::search::SearchOutcome;
use crate::target::Targets;
use crate::validation::Fold;

/// How many of the best trials a stack draws from when there is no voting ensemble.
const STACK_CANDIDATES: usize = 5;
/// Parts of a single validation fold's rows, for cross-validating the meta-learner on it.
pub const INNER_PARTS: usize = 5;
/// The child-run param naming the meta-learner's algorithm.
pub const META_LEARNER_PARAM: &str = "meta_learner";
/// Prefix of the child-run params holding the meta-learner's hyperparameters.
pub const META_PARAM_PREFIX: &str = "meta.";

/// A stack's meta-learner: an algorithm and its hyperparameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaLearner {
    /// Logistic regression (classification) or elastic net (regression).
    pub algorithm: Algorithm,
    /// Its complete hyperparameters.
    pub params: Params,
}

impl MetaLearner {
    /// Azure's default meta-learner for `targets`: L2 logistic regression for classes; for
    /// values an elastic net that is mostly ridge (members' predictions are strongly
    /// correlated, which a lasso would resolve by dropping all but one).
    pub fn default_for(targets: &Targets) -> MetaLearner {
        let (algorithm, params) = match targets {
            Targets::Classes(..) => (
                Algorithm::LogisticRegression,
                [
                    ("alpha", ParamValue::Float(1.0)),
                    ("max_iterations", ParamValue::Int(200)),
                ],
            ),
            Targets::Values(_) => (
                Algorithm::ElasticNet,
                [
                    ("penalty", ParamValue::Float(1e-3)),
                    ("l1_ratio", ParamValue::Float(0.1)),
                ],
            ),
        };
        MetaLearner {
            algorithm,
            params: params
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        }
    }

    /// The meta-learner as child-run params: `meta_learner` and `meta.<name>` for each
    /// hyperparameter.
    pub fn write_params(&self, params: &mut Params) {
        params.insert(
            META_LEARNER_PARAM.into(),
            ParamValue::Choice(self.algorithm.name().to_string()),
        );
        for (k, v) in &self.params {
            params.insert(format!("{META_PARAM_PREFIX}{k}"), v.clone());
        }
    }

    /// Reads what [`MetaLearner::write_params`] wrote; `None` when `params` name no
    /// meta-learner.
    pub fn read_params(params: &Params) -> Option<Result<MetaLearner>> {
        let name = params.get(META_LEARNER_PARAM)?;
        let ParamValue::Choice(name) = name else {
            return Some(Err(AutotabError::config(format!(
                "{META_LEARNER_PARAM} must name an algorithm, got {name}"
            ))));
        };
        let meta = Algorithm::parse(name).map(|algorithm| MetaLearner {
            algorithm,
            params: params
                .iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix(META_PARAM_PREFIX)
                        .map(|k| (k.to_string(), v.clone()))
                })
                .collect(),
        });
        Some(meta)
    }

    /// Fits the meta-learner on rows `rows` of the meta-features `z` (rows of the training
    /// table) against `targets` (all rows).
    pub fn fit(
        &self,
        z: ArrayView2<f64>,
        targets: &Targets,
        rows: &[usize],
        deadline: Option<Instant>,
        seed: u64,
    ) -> Result<FittedModel> {
        let estimator = Estimator::new(self.algorithm, &self.params)?;
        let x = z.select(Axis(0), rows);
        let y = targets.select(rows);
        let train = TrainSet {
            x: x.view(),
            y: y.as_ref(),
            weights: None,
            binned: None,
        };
        let ctx = FitContext {
            deadline,
            seed,
            valid: None,
        };
        estimator.fit(&train, &ctx)
    }
}

/// What feeds a stack's meta-learner for `targets`.
pub fn stack_input(targets: &Targets) -> StackInput {
    StackInput::for_outputs(match targets {
        Targets::Classes(_, k) => *k,
        Targets::Values(_) => 1,
    })
}

/// The sorted, distinct rows of the folds' validation parts: the rows with out-of-fold
/// predictions.
pub fn out_of_fold_rows(folds: &[Fold]) -> Vec<usize> {
    let mut rows: Vec<usize> = folds.iter().flat_map(|f| f.valid.iter().copied()).collect();
    rows.sort_unstable();
    rows.dedup();
    rows
}

/// Splits `rows` into at most `parts` parts, round-robin in row order (within each class for
/// classification, so that every part holds each class in proportion).
fn inner_parts(rows: &[usize], targets: &Targets, parts: usize) -> Vec<Vec<usize>> {
    let mut ordered = rows.to_vec();
    ordered.sort_unstable();
    if let Targets::Classes(labels, _) = targets {
        ordered.sort_by_key(|&r| labels[r]);
    }
    let parts = parts.min(ordered.len()).max(1);
    let mut out = vec![Vec::new(); parts];
    for (i, r) in ordered.into_iter().enumerate() {
        out[i % parts].push(r);
    }
    for part in &mut out {
        part.sort_unstable();
    }
    out
}

/// Cross-predicts the validation rows of every fold: `fit_predict(train_rows, rows)` must fit
/// on `train_rows` only and predict `rows`. A fold is predicted from the other folds' rows, or,
/// when it is the only fold, part by part from its other parts. Returns the predictions (rows
/// of the training table; rows in no fold stay zero) and each fold's score.
pub fn cross_predict(
    folds: &[Fold],
    targets: &Targets,
    metric: Metric,
    mut fit_predict: impl FnMut(&[usize], &[usize]) -> Result<Array2<f64>>,
) -> Result<(Array2<f64>, Vec<f64>)> {
    let n_rows = targets.len();
    let n_outputs = match targets {
        Targets::Classes(_, k) => *k,
        Targets::Values(_) => 1,
    };
    let all = out_of_fold_rows(folds);
    let mut pred = Array2::zeros((n_rows, n_outputs));
    let mut scores = Vec::with_capacity(folds.len());
    for fold in folds {
        let mut held = fold.valid.clone();
        held.sort_unstable();
        let others: Vec<usize> = all
            .iter()
            .copied()
            .filter(|r| held.binary_search(r).is_err())
            .collect();
        let jobs: Vec<(Vec<usize>, Vec<usize>)> = if others.is_empty() {
            let parts = inner_parts(&held, targets, INNER_PARTS);
            if parts.len() < 2 {
                return Err(AutotabError::config(
                    "too few validation rows to cross-validate a stack",
                ));
            }
            parts
                .iter()
                .map(|part| {
                    let train: Vec<usize> = held
                        .iter()
                        .copied()
                        .filter(|r| part.binary_search(r).is_err())
                        .collect();
                    (train, part.clone())
                })
                .collect()
        } else {
            vec![(others, held.clone())]
        };
        for (train, rows) in jobs {
            let p = fit_predict(&train, &rows)?;
            if p.dim() != (rows.len(), n_outputs) {
                return Err(AutotabError::Predict(format!(
                    "the meta-learner predicted {:?}, expected {:?}",
                    p.dim(),
                    (rows.len(), n_outputs)
                )));
            }
            for (i, &r) in rows.iter().enumerate() {
                pred.row_mut(r).assign(&p.row(i));
            }
        }
        let score = score_rows(metric, targets, &pred, &fold.valid)?;
        if !score.is_finite() {
            return Err(AutotabError::config(format!(
                "the stack's {metric} is not finite on a fold"
            )));
        }
        scores.push(score);
    }
    Ok((pred, scores))
}

/// A stack chosen after the search: its record (scored like a trial) and the meta-learner
/// fitted on every out-of-fold row, which the final model applies to the refit members.
#[derive(Debug)]
pub struct Stack {
    /// Members, meta-learner and cross-validated score.
    pub record: EnsembleRecord,
    /// The meta-learner fitted on all out-of-fold rows.
    pub meta: FittedModel,
    /// Which member outputs feed it.
    pub input: StackInput,
}

impl Stack {
    /// The final model: `members` (refit, in the record's member order) under the meta-learner.
    pub fn model(meta: FittedModel, input: StackInput, members: Vec<FittedModel>) -> FittedModel {
        FittedModel::Stacked(StackedModel {
            members,
            input,
            meta: Box::new(meta),
        })
    }
}

/// The trials a stack is built from: the voting ensemble's members (heaviest first) when it
/// has at least two, else the best trial of each algorithm among the kept out-of-fold
/// predictions (best first), then the next best trials, up to [`STACK_CANDIDATES`] in all.
pub fn stack_members(outcome: &SearchOutcome, voting: Option<&EnsembleRecord>) -> Vec<usize> {
    if let Some(v) = voting.filter(|v| v.members.len() >= 2) {
        return v.members.iter().map(|m| m.trial).collect();
    }
    let algorithm = |trial: usize| {
        outcome
            .trials
            .iter()
            .find(|t| t.index == trial)
            .map(|t| t.algorithm)
    };
    let mut picked: Vec<usize> = Vec::new();
    let mut seen = Vec::new();
    for (trial, _) in &outcome.oof {
        let a = algorithm(*trial);
        if picked.len() < STACK_CANDIDATES && !seen.contains(&a) {
            seen.push(a);
            picked.push(*trial);
        }
    }
    for (trial, _) in &outcome.oof {
        if picked.len() < STACK_CANDIDATES && !picked.contains(trial) {
            picked.push(*trial);
        }
    }
    picked
}

/// Builds and cross-validates a stack over `members`' out-of-fold predictions (`oof`, by
/// trial index). `Ok(None)` when fewer than two members have predictions; an error when the
/// meta-learner cannot be fitted or scored.
#[allow(clippy::too_many_arguments)]
pub fn build_stack(
    oof: &[(usize, Array2<f64>)],
    members: &[usize],
    folds: &[Fold],
    targets: &Targets,
    metric: Metric,
    index: usize,
    deadline: Option<Instant>,
    seed: u64,
) -> Result<Option<Stack>> {
    let started = Instant::now();
    let outputs: Vec<(usize, ArrayView2<f64>)> = members
        .iter()
        .filter_map(|m| {
            oof.iter()
                .find(|(t, _)| t == m)
                .map(|(t, p)| (*t, p.view()))
        })
        .collect();
    if outputs.len() < 2 {
        return Ok(None);
    }
    let input = stack_input(targets);
    let views: Vec<ArrayView2<f64>> = outputs.iter().map(|(_, p)| *p).collect();
    let z = input.features(&views)?;
    let meta = MetaLearner::default_for(targets);
    let (_, fold_scores) = cross_predict(folds, targets, metric, |train, rows| {
        let model = meta.fit(z.view(), targets, train, deadline, seed)?;
        model.predict(z.select(Axis(0), rows).view())
    })?;
    let fitted = meta.fit(z.view(), targets, &out_of_fold_rows(folds), deadline, seed)?;
    let (score, score_std) = crate::stats::mean_std(&fold_scores);
    let share = 1.0 / outputs.len() as f64;
    let record = EnsembleRecord {
        index,
        kind: EnsembleKind::Stack,
        members: outputs
            .iter()
            .map(|&(trial, _)| Member {
                trial,
                weight: share,
            })
            .collect(),
        score,
        score_std,
        fold_scores,
        seconds: started.elapsed().as_secs_f64(),
        meta: Some(meta),
    };
    Ok(Some(Stack {
        record,
        meta: fitted,
        input,
    }))
}

/// Chooses the stack of a finished search: [`stack_members`] cross-validated by
/// [`build_stack`]. Unlike the voting ensemble it is returned whether or not it beats the
/// best trial, so that it is recorded; the engine keeps it only when it does.
#[allow(clippy::too_many_arguments)]
pub fn choose_stack(
    outcome: &SearchOutcome,
    voting: Option<&EnsembleRecord>,
    folds: &[Fold],
    targets: &Targets,
    metric: Metric,
    index: usize,
    deadline: Option<Instant>,
    seed: u64,
) -> Result<Option<Stack>> {
    let members = stack_members(outcome, voting);
    build_stack(
        &outcome.oof,
        &members,
        folds,
        targets,
        metric,
        index,
        deadline,
        seed,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic stream in [0, 1).
    fn noise(seed: u64) -> impl FnMut() -> f64 {
        let mut state = seed | 1;
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// `k` interleaved folds over `n` rows.
    fn folds(n: usize, k: usize) -> Vec<Fold> {
        (0..k)
            .map(|f| Fold {
                train: (0..n).filter(|r| r % k != f).collect(),
                valid: (0..n).filter(|r| r % k == f).collect(),
            })
            .collect()
    }

    fn binary_case(n: usize) -> (Targets, Array2<f64>, Array2<f64>) {
        let mut u = noise(7);
        let labels: Vec<usize> = (0..n).map(|_| usize::from(u() < 0.4)).collect();
        // A perfect member (confident and right) and an uninformative one.
        let perfect = Array2::from_shape_fn((n, 2), |(r, c)| {
            let p1 = if labels[r] == 1 { 0.8 } else { 0.3 };
            if c == 1 {
                p1
            } else {
                1.0 - p1
            }
        });
        let mut v = noise(11);
        let random: Vec<f64> = (0..n).map(|_| v()).collect();
        let useless =
            Array2::from_shape_fn(
                (n, 2),
                |(r, c)| {
                    if c == 1 {
                        random[r]
                    } else {
                        1.0 - random[r]
                    }
                },
            );
        (Targets::Classes(labels, 2), perfect, useless)
    }

    #[test]
    fn a_stack_with_a_perfect_member_scores_at_least_as_well_as_it() {
        let (targets, perfect, useless) = binary_case(200);
        // Five folds, and one holdout fold of every row (cross-validated in inner parts).
        for (folds, what) in [(folds(200, 5), "5 folds"), (folds(200, 1), "holdout")] {
            for metric in [Metric::AucWeighted, Metric::Accuracy] {
                let member: Vec<f64> = folds
                    .iter()
                    .map(|f| score_rows(metric, &targets, &perfect, &f.valid).unwrap())
                    .collect();
                let member = crate::stats::mean_std(&member).0;
                let oof = vec![(3, perfect.clone()), (8, useless.clone())];
                let stack = build_stack(&oof, &[8, 3], &folds, &targets, metric, 20, None, 0)
                    .unwrap()
                    .expect("two members");
                assert!(
                    stack.record.score >= member - 1e-12,
                    "{what} {metric}: stack {} < member {member}",
                    stack.record.score
                );
                assert_eq!(stack.record.kind, EnsembleKind::Stack);
                assert_eq!(stack.record.fold_scores.len(), folds.len());
                assert_eq!(
                    stack
                        .record
                        .members
                        .iter()
                        .map(|m| m.trial)
                        .collect::<Vec<_>>(),
                    vec![8, 3]
                );
                assert_eq!(stack.input, StackInput::Column(1));
                assert_eq!(stack.meta.n_features(), 2, "one column per binary member");
            }
        }
    }

    #[test]
    fn a_stack_of_two_complementary_regressors_beats_both() {
        let n = 120;
        let mut u = noise(3);
        let y: Vec<f64> = (0..n).map(|i| i as f64 * 0.5 + 10.0 * u()).collect();
        let mut e = noise(5);
        let err: Vec<f64> = (0..n).map(|_| 6.0 * (e() - 0.5)).collect();
        let a = Array2::from_shape_fn((n, 1), |(r, _)| y[r] + err[r]);
        let b = Array2::from_shape_fn((n, 1), |(r, _)| y[r] - err[r]);
        let targets = Targets::Values(y);
        let folds = folds(n, 4);
        let mean_score = |p: &Array2<f64>| {
            let s: Vec<f64> = folds
                .iter()
                .map(|f| score_rows(Metric::Rmse, &targets, p, &f.valid).unwrap())
                .collect();
            crate::stats::mean_std(&s).0
        };
        let best_member = mean_score(&a).min(mean_score(&b));
        let oof = vec![(0, a), (1, b)];
        let stack = build_stack(&oof, &[0, 1], &folds, &targets, Metric::Rmse, 2, None, 0)
            .unwrap()
            .unwrap();
        assert!(
            stack.record.score < best_member / 2.0,
            "stack {} vs best member {best_member}",
            stack.record.score
        );
        assert_eq!(
            stack.record.meta.as_ref().map(|m| m.algorithm),
            Some(Algorithm::ElasticNet)
        );
    }

    #[test]
    fn no_fold_is_predicted_by_a_meta_learner_that_saw_its_rows() {
        let (targets, _, _) = binary_case(60);
        let holdout = vec![Fold {
            train: (0..40).collect(),
            valid: (40..60).collect(),
        }];
        for folds in [folds(60, 3), holdout] {
            let mut seen: Vec<(Vec<usize>, Vec<usize>)> = Vec::new();
            let (pred, scores) =
                cross_predict(&folds, &targets, Metric::Accuracy, |train, rows| {
                    seen.push((train.to_vec(), rows.to_vec()));
                    Ok(Array2::from_elem((rows.len(), 2), 0.5))
                })
                .unwrap();
            assert_eq!(scores.len(), folds.len());
            let oof_rows = out_of_fold_rows(&folds);
            for (train, rows) in &seen {
                assert!(!train.is_empty());
                assert!(
                    rows.iter().all(|r| !train.contains(r)),
                    "{train:?} {rows:?}"
                );
                // Only out-of-fold rows are ever trained on.
                assert!(train.iter().all(|r| oof_rows.contains(r)));
                if folds.len() > 1 {
                    // A whole fold is predicted by a meta-learner fitted on the other folds.
                    assert!(folds.iter().any(|f| &f.valid == rows), "{rows:?}");
                }
            }
            // Every out-of-fold row was predicted exactly once.
            let mut predicted: Vec<usize> = seen.iter().flat_map(|(_, r)| r.clone()).collect();
            predicted.sort_unstable();
            assert_eq!(predicted, oof_rows);
            assert!(oof_rows.iter().all(|&r| pred[[r, 0]] == 0.5));
        }
    }

    #[test]
    fn a_single_fold_is_cross_validated_in_stratified_parts() {
        let targets = Targets::Classes((0..50).map(|r| usize::from(r % 5 == 0)).collect(), 2);
        let parts = inner_parts(&(0..50).collect::<Vec<_>>(), &targets, INNER_PARTS);
        assert_eq!(parts.len(), INNER_PARTS);
        for part in &parts {
            assert_eq!(part.len(), 10);
            assert_eq!(part.iter().filter(|&&r| r % 5 == 0).count(), 2, "{part:?}");
        }
    }

    #[test]
    fn members_come_from_voting_or_the_best_of_each_algorithm() {
        use crate::search::{StopReason, TrialRecord, TrialStatus};
        let trial = |index: usize, algorithm: Algorithm| TrialRecord {
            index,
            algorithm,
            params: Params::new(),
            status: TrialStatus::Completed,
            score: Some(0.5),
            score_std: Some(0.0),
            fold_scores: vec![0.5],
            seconds: 0.0,
            fit_seconds_per_fold: 0.0,
            started_at: 0.0,
            train_rows: None,
        };
        let outcome = SearchOutcome {
            trials: vec![
                trial(0, Algorithm::LogisticRegression),
                trial(1, Algorithm::GradientBoosting),
                trial(2, Algorithm::GradientBoosting),
                trial(3, Algorithm::RandomForest),
            ],
            oof: [2, 1, 3, 0]
                .into_iter()
                .map(|i| (i, Array2::zeros((1, 1))))
                .collect(),
            fold_models: Vec::new(),
            stop_reason: StopReason::MaxTrials,
        };
        assert_eq!(stack_members(&outcome, None), vec![2, 3, 0, 1]);
        let voting = EnsembleRecord {
            index: 4,
            kind: EnsembleKind::Voting,
            members: vec![
                Member {
                    trial: 1,
                    weight: 0.75,
                },
                Member {
                    trial: 3,
                    weight: 0.25,
                },
            ],
            score: 0.6,
            score_std: 0.0,
            fold_scores: vec![0.6],
            seconds: 0.0,
            meta: None,
        };
        assert_eq!(stack_members(&outcome, Some(&voting)), vec![1, 3]);
        // One algorithm only: the best trials of it.
        let one = SearchOutcome {
            trials: vec![
                trial(0, Algorithm::RandomForest),
                trial(1, Algorithm::RandomForest),
            ],
            oof: vec![(1, Array2::zeros((1, 1))), (0, Array2::zeros((1, 1)))],
            fold_models: Vec::new(),
            stop_reason: StopReason::MaxTrials,
        };
        assert_eq!(stack_members(&one, None), vec![1, 0]);
    }

    #[test]
    fn stack_ensemble_is_an_ensemble_name() {
        use crate::ensemble::Learner;
        for name in ["StackEnsemble", "stackensemble"] {
            assert_eq!(
                Learner::parse(name).unwrap(),
                Learner::Ensemble(EnsembleKind::Stack)
            );
        }
        let json = serde_json::to_string(&Learner::Ensemble(EnsembleKind::Stack)).unwrap();
        assert_eq!(json, "\"StackEnsemble\"");
        assert!(Algorithm::parse("StackEnsemble").is_err());
    }

    #[test]
    fn the_meta_learner_round_trips_through_params() {
        for targets in [Targets::Classes(vec![0, 1], 2), Targets::Values(vec![1.0])] {
            let meta = MetaLearner::default_for(&targets);
            let mut params = Params::new();
            params.insert("members".into(), ParamValue::Choice("#1 x".into()));
            meta.write_params(&mut params);
            assert_eq!(MetaLearner::read_params(&params).unwrap().unwrap(), meta);
            Estimator::new(meta.algorithm, &meta.params).unwrap();
        }
        assert!(MetaLearner::read_params(&Params::new()).is_none());
    }
}
