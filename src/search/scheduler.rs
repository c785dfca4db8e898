//! What to run next: the [`Scheduler`] trait and the default, cost-frugal strategy.
//!
//! The search loop ([`super::run_search`]) asks a scheduler for proposals while it has free
//! slots and time, and tells it every finished trial. A new search strategy (a portfolio, a
//! successive-halving scheme, ...) is one new type implementing [`Scheduler`]; the executor,
//! the stop rules and the bookkeeping stay as they are.

use std::collections::{BTreeMap, VecDeque};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::portfolio::strong_start;
use super::sampler::Sampler;
use super::trial::TrialRecord;
use crate::models::{Algorithm, ParamValue, Params};

/// One trial to run: an algorithm with its hyperparameters, on all or a sample of the rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Its hyperparameters (completed with defaults and checked when the trial starts).
    pub params: Params,
    /// Train each fold on a sample of this many of its rows (`None`: all of them).
    pub rows: Option<usize>,
}

/// Decides which trial runs next.
pub trait Scheduler: Send {
    /// The next trial, or `None` when nothing affordable is left in `seconds_left` seconds.
    fn propose(&mut self, seconds_left: f64) -> Option<Proposal>;

    /// A trial finished; `loss` is its lower-is-better score, `None` when it did not complete.
    fn observe(&mut self, record: &TrialRecord, loss: Option<f64>);

    /// Whether every fixed starting configuration has been proposed (the convergence stop rule
    /// waits for it).
    fn strong_start_done(&self) -> bool {
        true
    }

    /// `proposal` was proposed by an earlier attempt at this search (a resumed distributed
    /// run): it is not to be proposed again.
    fn replay(&mut self, _proposal: &Proposal) {}
}

/// The default search: the strong start ([`super::portfolio`], cheapest first), then
/// FLAML-style cost-frugal search: mostly local steps around the best configuration of cheap,
/// well-scoring algorithms (see [`Sampler`]). On large tables it is also multi-fidelity (see
/// [`Fidelity`]).
#[derive(Debug)]
pub struct CostFrugalScheduler {
    sampler: Sampler,
    /// Strong-start configurations not yet proposed, next first.
    start: VecDeque<(Algorithm, Params)>,
    /// Sample sizes and each algorithm's rung; `None` on tables small enough to search whole.
    fidelity: Option<Fidelity>,
}

/// FLAML's sample-size growth: every algorithm starts on the smallest sample of the folds'
/// training rows and moves to the next size (twice as many rows, then all of them) once its
/// search on the current one stalls (no gain for [`Fidelity::PATIENCE`] trials) or has run
/// [`Fidelity::MAX_TRIALS_PER_RUNG`] trials; its best configuration is then re-run first on the
/// larger sample. Every trial is scored on the fold's full validation rows, so scores at every
/// size compare directly (a sample can only score worse than it would on all rows).
#[derive(Debug, Clone)]
pub struct Fidelity {
    /// Sample sizes, smallest first; the last is `None`, all rows.
    rungs: Vec<Option<usize>>,
    /// Each algorithm's rung and its progress there.
    state: BTreeMap<Algorithm, RungState>,
    /// Configurations promoted to a larger sample, to re-run first.
    promoted: VecDeque<(Algorithm, Params, Option<usize>)>,
}

/// One algorithm's progress on its current rung.
#[derive(Debug, Clone, Default)]
struct RungState {
    rung: usize,
    trials: usize,
    since_gain: usize,
    best: f64,
}

impl Fidelity {
    /// Rows of the smallest sample.
    pub const FIRST_ROWS: usize = 10_000;
    /// Trials without gain on a rung before the algorithm moves up.
    pub const PATIENCE: usize = 3;
    /// Most trials of an algorithm on one rung.
    pub const MAX_TRIALS_PER_RUNG: usize = 8;

    /// The rungs for folds of `train_rows` training rows (the smallest fold's), or `None` when
    /// the folds are less than twice [`Self::FIRST_ROWS`].
    pub fn for_rows(train_rows: usize) -> Option<Fidelity> {
        if train_rows < 2 * Self::FIRST_ROWS {
            return None;
        }
        let mut rungs = Vec::new();
        let mut rows = Self::FIRST_ROWS;
        while rows * 3 / 2 < train_rows {
            rungs.push(Some(rows));
            rows *= 2;
        }
        rungs.push(None);
        Some(Fidelity {
            rungs,
            state: BTreeMap::new(),
            promoted: VecDeque::new(),
        })
    }

    /// The sample size `algorithm` runs on now.
    fn rows(&self, algorithm: Algorithm) -> Option<usize> {
        let rung = self.state.get(&algorithm).map_or(0, |s| s.rung);
        self.rungs[rung]
    }

    /// Takes a finished trial; moves its algorithm up a rung when its search there stalled.
    fn observe(&mut self, record: &TrialRecord, loss: Option<f64>, best_params: Option<&Params>) {
        let rungs = self.rungs.len();
        let state = self.state.entry(record.algorithm).or_insert(RungState {
            best: f64::INFINITY,
            ..RungState::default()
        });
        // Only trials on the algorithm's current rung count towards moving up.
        if record.train_rows != self.rungs[state.rung] || state.rung + 1 >= rungs {
            return;
        }
        state.trials += 1;
        match loss {
            Some(l) if l < state.best - 1e-4 => {
                state.best = l;
                state.since_gain = 0;
            }
            _ => state.since_gain += 1,
        }
        if state.since_gain >= Self::PATIENCE || state.trials >= Self::MAX_TRIALS_PER_RUNG {
            *state = RungState {
                rung: state.rung + 1,
                best: f64::INFINITY,
                ..RungState::default()
            };
            if let Some(params) = best_params {
                let mut params = params.clone();
                // More rows support more boosting rounds: the cap grows with the sample.
                if let Some(ParamValue::Int(n)) = params.get_mut("n_estimators") {
                    if record.algorithm == Algorithm::GradientBoosting {
                        *n = (*n * 2 + 50).min(2000);
                    }
                }
                let rows = self.rungs[state.rung];
                self.promoted.push_back((record.algorithm, params, rows));
            }
        }
    }
}

impl CostFrugalScheduler {
    /// A scheduler over `algorithms` (the order breaks ties of the start), seeded with `seed`,
    /// that runs the strong start first.
    pub fn new(algorithms: Vec<Algorithm>, seed: u64) -> CostFrugalScheduler {
        let start = strong_start(&algorithms).into();
        CostFrugalScheduler {
            sampler: Sampler::new(algorithms, ChaCha8Rng::seed_from_u64(seed)),
            start,
            fidelity: None,
        }
    }

    /// FLAML's start instead of the strong start: every algorithm at its low-cost point, in
    /// the given order.
    pub fn low_cost_start(algorithms: Vec<Algorithm>, seed: u64) -> CostFrugalScheduler {
        CostFrugalScheduler {
            sampler: Sampler::new(algorithms, ChaCha8Rng::seed_from_u64(seed)),
            start: VecDeque::new(),
            fidelity: None,
        }
    }

    /// Runs `points` first, in the given order, instead of the strong start (those of
    /// algorithms this search does not run are dropped).
    pub fn with_start(mut self, points: Vec<(Algorithm, Params)>) -> CostFrugalScheduler {
        self.start = points
            .into_iter()
            .filter(|(a, _)| self.sampler.searches(*a))
            .collect();
        self
    }

    /// Searches on growing samples of the folds' training rows (see [`Fidelity`]); `None`
    /// searches on all rows.
    pub fn with_fidelity(mut self, fidelity: Option<Fidelity>) -> CostFrugalScheduler {
        self.fidelity = fidelity;
        self
    }

    /// Fixes hyperparameter `name` of `algorithm` at `value` in every proposal (see
    /// [`Sampler::pin`]); strong-start entries that set it otherwise are dropped.
    pub fn with_pin(
        mut self,
        algorithm: Algorithm,
        name: &'static str,
        value: ParamValue,
    ) -> CostFrugalScheduler {
        self.sampler.pin(algorithm, name, value);
        let sampler = &self.sampler;
        self.start
            .retain(|(a, params)| !sampler.conflicts_with_pins(*a, params));
        self
    }

    fn rows(&self, algorithm: Algorithm) -> Option<usize> {
        self.fidelity.as_ref().and_then(|f| f.rows(algorithm))
    }
}

impl Scheduler for CostFrugalScheduler {
    fn propose(&mut self, seconds_left: f64) -> Option<Proposal> {
        if let Some((algorithm, params, rows)) =
            self.fidelity.as_mut().and_then(|f| f.promoted.pop_front())
        {
            return Some(Proposal {
                algorithm,
                params,
                rows,
            });
        }
        // Strong-start entries of an algorithm already known to cost more than the time left
        // are dropped.
        while let Some((algorithm, params)) = self.start.pop_front() {
            if self
                .sampler
                .mean_seconds(algorithm)
                .is_some_and(|s| s > seconds_left)
            {
                continue;
            }
            let (algorithm, params) = self.sampler.issue(algorithm, params);
            let rows = self.rows(algorithm);
            return Some(Proposal {
                algorithm,
                params,
                rows,
            });
        }
        let (algorithm, params) = self.sampler.propose(seconds_left)?;
        let rows = self.rows(algorithm);
        Some(Proposal {
            algorithm,
            params,
            rows,
        })
    }

    fn observe(&mut self, record: &TrialRecord, loss: Option<f64>) {
        self.sampler
            .observe(record.algorithm, &record.params, loss, record.seconds);
        if let Some(fidelity) = self.fidelity.as_mut() {
            fidelity.observe(record, loss, self.sampler.best_params(record.algorithm));
        }
    }

    fn strong_start_done(&self) -> bool {
        self.start.is_empty()
    }

    fn replay(&mut self, proposal: &Proposal) {
        if let Some(at) = self
            .start
            .iter()
            .position(|(a, p)| *a == proposal.algorithm && *p == proposal.params)
        {
            self.start.remove(at);
        }
        self.sampler
            .issue(proposal.algorithm, proposal.params.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::TrialStatus;

    fn record(
        index: usize,
        algorithm: Algorithm,
        params: Params,
        rows: Option<usize>,
    ) -> TrialRecord {
        TrialRecord {
            index,
            algorithm,
            params,
            status: TrialStatus::Completed,
            score: Some(0.5),
            score_std: Some(0.0),
            fold_scores: vec![0.5],
            seconds: 0.1,
            fit_seconds_per_fold: 0.1,
            started_at: 0.0,
            train_rows: rows,
        }
    }

    #[test]
    fn starting_points_run_first_in_their_order_and_skip_unsearched_algorithms() {
        let algorithms = vec![Algorithm::GradientBoosting, Algorithm::RandomForest];
        let forest = crate::search::portfolio::PORTFOLIO
            .iter()
            .find(|e| e.algorithm == Algorithm::RandomForest)
            .unwrap()
            .params();
        let boosting = crate::search::portfolio::PORTFOLIO
            .iter()
            .find(|e| e.algorithm == Algorithm::GradientBoosting)
            .unwrap()
            .params();
        let mut s = CostFrugalScheduler::new(algorithms, 3).with_start(vec![
            (Algorithm::RandomForest, forest.clone()),
            (Algorithm::LogisticRegression, Params::new()),
            (Algorithm::GradientBoosting, boosting.clone()),
        ]);
        let first = s.propose(1e6).unwrap();
        assert_eq!(
            (first.algorithm, first.params),
            (Algorithm::RandomForest, forest)
        );
        let second = s.propose(1e6).unwrap();
        assert_eq!(
            (second.algorithm, second.params),
            (Algorithm::GradientBoosting, boosting)
        );
        assert!(s.strong_start_done());
    }

    #[test]
    fn a_replayed_start_configuration_is_not_proposed_again() {
        let algorithms = vec![Algorithm::GradientBoosting, Algorithm::RandomForest];
        let start: Vec<(Algorithm, Params)> = crate::search::portfolio::PORTFOLIO
            .iter()
            .filter(|e| algorithms.contains(&e.algorithm))
            .take(3)
            .map(|e| (e.algorithm, e.params()))
            .collect();
        assert_eq!(start.len(), 3);
        let mut s = CostFrugalScheduler::new(algorithms, 3).with_start(start.clone());
        s.replay(&Proposal {
            algorithm: start[1].0,
            params: start[1].1.clone(),
            rows: None,
        });
        let proposed: Vec<(Algorithm, Params)> = (0..2)
            .map(|_| s.propose(1e6).unwrap())
            .map(|p| (p.algorithm, p.params))
            .collect();
        assert_eq!(proposed, vec![start[0].clone(), start[2].clone()]);
        assert!(s.strong_start_done());
    }

    #[test]
    fn a_pin_drops_the_strong_start_entries_that_set_it_otherwise() {
        let gbm = vec![Algorithm::GradientBoosting];
        let target = |p: &Proposal| p.params["target"].to_string();
        let start_targets = |mut s: CostFrugalScheduler| -> Vec<String> {
            let n = s.start.len();
            (0..n).map(|_| target(&s.propose(100.0).unwrap())).collect()
        };
        let free = start_targets(CostFrugalScheduler::new(gbm.clone(), 1));
        assert!(free.contains(&"log".to_string()), "{free:?}");
        let pinned = CostFrugalScheduler::new(gbm, 1).with_pin(
            Algorithm::GradientBoosting,
            "target",
            ParamValue::Choice("raw".into()),
        );
        let pinned = start_targets(pinned);
        assert_eq!(pinned.len(), free.len() - 1);
        assert!(pinned.iter().all(|t| t == "raw"), "{pinned:?}");
    }

    #[test]
    fn rungs_double_from_ten_thousand_rows_up_to_all() {
        assert!(Fidelity::for_rows(19_999).is_none());
        assert_eq!(
            Fidelity::for_rows(35_000).unwrap().rungs,
            vec![Some(10_000), Some(20_000), None]
        );
        assert_eq!(
            Fidelity::for_rows(25_000).unwrap().rungs,
            vec![Some(10_000), None]
        );
    }

    #[test]
    fn a_stalled_algorithm_moves_up_and_reruns_its_best_first() {
        let algorithms = vec![Algorithm::GradientBoosting];
        let mut s =
            CostFrugalScheduler::new(algorithms, 1).with_fidelity(Fidelity::for_rows(35_000));
        let mut index = 0;
        let mut first_best = None;
        // Every proposal runs on 10k rows until the search there stalls.
        loop {
            let p = s.propose(1e6).unwrap();
            if p.rows != Some(10_000) {
                // The promoted configuration: the best so far, on the next sample size.
                assert_eq!(p.rows, Some(20_000));
                let best: &Params = first_best.as_ref().unwrap();
                let rounds = |p: &Params| match p["n_estimators"] {
                    ParamValue::Int(n) => n,
                    _ => unreachable!(),
                };
                assert_eq!(rounds(&p.params), (rounds(best) * 2 + 50).min(2000));
                break;
            }
            // The first trial is the best; later ones are worse.
            let loss = if index == 0 { 0.1 } else { 0.2 + index as f64 };
            if index == 0 {
                first_best = Some(p.params.clone());
            }
            s.observe(&record(index, p.algorithm, p.params, p.rows), Some(loss));
            index += 1;
            assert!(
                index <= 1 + Fidelity::PATIENCE,
                "no promotion after {index} trials"
            );
        }
        // Afterwards the algorithm's sampled trials run on the larger sample.
        let p = s.propose(1e6).unwrap();
        assert_eq!(p.rows, Some(20_000));
    }
}
