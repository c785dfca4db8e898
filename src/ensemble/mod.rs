//! Ensembles: models built from the best trials after the search, beside (not among) the
//! algorithms.
//!
//! An ensemble is not searched and not trained from hyperparameters: it is chosen on the
//! trials' out-of-fold predictions and then refit from its members' configurations. Two
//! kinds, as Azure AutoML builds them: the voting ensemble, a weighted average whose weights
//! come from greedy selection ([`selection`], [`choose_voting`]), and the stack ensemble, a
//! meta-learner fitted on the members' out-of-fold predictions ([`stack`], [`choose_stack`]).
//! Both are scored per fold like a trial and compete with the best trial on that score.
//! [`Learner`] names either an [`Algorithm`] or an [`EnsembleKind`], so a leaderboard, a child
//! run or a bundle can say which one produced a model.

pub mod selection;
pub mod stack;

use std::fmt;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::{AutotabError, Result};
use crate::metrics::Metric;
use crate::models::{Algorithm, ParamValue, Params};
use crate::search::{SearchOutcome, TrialRecord};
use crate::target::Targets;
use crate::validation::Fold;

pub use selection::{greedy_selection, score_rows, Selection};
pub use stack::{choose_stack, MetaLearner, Stack};

/// The kinds of ensemble autotab builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EnsembleKind {
    /// A weighted average of members' predictions, weights from greedy ensemble selection
    /// (Caruana et al., 2004), as Azure AutoML's `VotingEnsemble`.
    Voting,
    /// A meta-learner (logistic regression or elastic net) over members' predictions, fitted
    /// on their out-of-fold predictions, as Azure AutoML's `StackEnsemble`.
    Stack,
}

impl EnsembleKind {
    /// The name used in reports and child runs (Azure's).
    pub fn name(self) -> &'static str {
        match self {
            EnsembleKind::Voting => "VotingEnsemble",
            EnsembleKind::Stack => "StackEnsemble",
        }
    }

    /// Every kind.
    pub const ALL: [EnsembleKind; 2] = [EnsembleKind::Voting, EnsembleKind::Stack];
}

/// What produced a model: one algorithm, or an ensemble of trials. Serialized as its name
/// (`LightGBM`, `VotingEnsemble`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum Learner {
    /// A single algorithm's trial.
    Algorithm(Algorithm),
    /// An ensemble of trials.
    Ensemble(EnsembleKind),
}

impl Learner {
    /// The name used in reports, child runs and bundles.
    pub fn name(self) -> &'static str {
        match self {
            Learner::Algorithm(a) => a.name(),
            Learner::Ensemble(e) => e.name(),
        }
    }

    /// Parses an algorithm or ensemble name (as [`Algorithm::parse`] does for algorithms).
    pub fn parse(name: &str) -> Result<Learner> {
        if let Some(kind) = EnsembleKind::ALL
            .into_iter()
            .find(|k| name.eq_ignore_ascii_case(k.name()))
        {
            return Ok(Learner::Ensemble(kind));
        }
        Algorithm::parse(name).map(Learner::Algorithm)
    }
}

impl From<Learner> for &'static str {
    fn from(learner: Learner) -> &'static str {
        learner.name()
    }
}

impl TryFrom<String> for Learner {
    type Error = AutotabError;

    fn try_from(name: String) -> Result<Learner> {
        Learner::parse(&name)
    }
}

impl fmt::Display for Learner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One member of an ensemble: a trial and its weight.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// The member trial's index.
    pub trial: usize,
    /// Its weight (the weights of an ensemble sum to 1). A stack's members have equal shares:
    /// its meta-learner weighs them; their order is the order of its features.
    pub weight: f64,
}

/// An ensemble chosen after the search, scored per fold like a trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnsembleRecord {
    /// Its number in the run (after every trial's).
    pub index: usize,
    /// Which kind of ensemble.
    pub kind: EnsembleKind,
    /// Members: a voting ensemble's heaviest first; a stack's in its meta-learner's order.
    pub members: Vec<Member>,
    /// Mean of the fold scores of the combined out-of-fold predictions.
    pub score: f64,
    /// Standard deviation of the fold scores.
    pub score_std: f64,
    /// The primary metric on each fold.
    pub fold_scores: Vec<f64>,
    /// Seconds spent choosing it.
    pub seconds: f64,
    /// A stack's meta-learner (`None` for a voting ensemble).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<MetaLearner>,
}

impl EnsembleRecord {
    /// The members as recorded parameters: `members = "#3 LightGBM 0.50, #7 ..."`, and a
    /// stack's meta-learner (`meta_learner = "LogisticRegression"`, `meta.alpha = 1`, ...).
    pub fn params(&self, trials: &[TrialRecord]) -> Params {
        let description: Vec<String> = self
            .members
            .iter()
            .map(|m| {
                let name = trials
                    .iter()
                    .find(|t| t.index == m.trial)
                    .map(|t| t.algorithm.name())
                    .unwrap_or("?");
                format!("#{} {} {:.2}", m.trial, name, m.weight)
            })
            .collect();
        let mut params = Params::new();
        params.insert("members".into(), ParamValue::Choice(description.join(", ")));
        if let Some(meta) = &self.meta {
            meta.write_params(&mut params);
        }
        params
    }

    /// The member trials' records with their weights, in member order.
    pub fn member_trials<'a>(
        &self,
        trials: &'a [TrialRecord],
    ) -> Result<Vec<(f64, &'a TrialRecord)>> {
        self.members
            .iter()
            .map(|m| {
                trials
                    .iter()
                    .find(|t| t.index == m.trial)
                    .map(|t| (m.weight, t))
                    .ok_or_else(|| {
                        AutotabError::config(format!("ensemble member trial {} not found", m.trial))
                    })
            })
            .collect()
    }
}

/// How many of the best trials the voting ensemble may draw from: those whose fold models the
/// search keeps, so that a voting ensemble can always be shipped as its folds' models.
const VOTING_CANDIDATES: usize = crate::search::KEEP_FOLD_MODELS;
/// Greedy additions (with replacement) when building a voting ensemble.
const VOTING_STEPS: usize = 20;

/// Chooses a voting ensemble over the search's kept out-of-fold predictions. Returns `None`
/// when no mixture beats the best single trial on the same mean-of-folds score the trials
/// are ranked by.
pub fn choose_voting(
    outcome: &SearchOutcome,
    folds: &[Fold],
    targets: &Targets,
    metric: Metric,
    index: usize,
) -> Option<EnsembleRecord> {
    let started = std::time::Instant::now();
    let mut rows: Vec<usize> = folds.iter().flat_map(|f| f.valid.iter().copied()).collect();
    rows.sort_unstable();
    rows.dedup();
    let candidates: Vec<(usize, Array2<f64>)> = outcome
        .oof
        .iter()
        .take(VOTING_CANDIDATES)
        .cloned()
        .collect();
    let selection = greedy_selection(&candidates, &rows, targets, metric, VOTING_STEPS).ok()??;
    let mut sum: Option<Array2<f64>> = None;
    for (trial, weight) in &selection.members {
        let part = &candidates.iter().find(|c| c.0 == *trial)?.1 * *weight;
        sum = Some(match sum {
            Some(s) => s + part,
            None => part,
        });
    }
    let sum = sum?;
    let fold_scores: Vec<f64> = folds
        .iter()
        .filter_map(|f| score_rows(metric, targets, &sum, &f.valid).ok())
        .collect();
    let (score, score_std) = crate::stats::mean_std(&fold_scores);
    let best_single = outcome.best(metric)?.score?;
    let beats_best = metric
        .to_loss(score)
        .partial_cmp(&metric.to_loss(best_single))
        == Some(std::cmp::Ordering::Less);
    if !beats_best {
        return None;
    }
    Some(EnsembleRecord {
        index,
        kind: EnsembleKind::Voting,
        members: selection
            .members
            .iter()
            .map(|&(trial, weight)| Member { trial, weight })
            .collect(),
        score,
        score_std,
        fold_scores,
        seconds: started.elapsed().as_secs_f64(),
        meta: None,
    })
}
