//! What to run next: the [`Scheduler`] trait and the default, cost-frugal strategy.
//!
//! The search loop ([`super::run_search`]) asks a scheduler for proposals while it has free
//! slots and time, and tells it every finished trial. A new search strategy (a portfolio, a
//! successive-halving scheme, ...) is one new type implementing [`Scheduler`]; the executor,
//! the stop rules and the bookkeeping stay as they are.

use std::collections::VecDeque;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::portfolio::strong_start;
use super::sampler::Sampler;
use super::trial::TrialRecord;
use crate::models::{Algorithm, Params};

/// One trial to run: an algorithm with its hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Its hyperparameters (completed with defaults and checked when the trial starts).
    pub params: Params,
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
}

/// The default search: the strong start ([`super::portfolio`], cheapest first), then
/// FLAML-style cost-frugal search: mostly local steps around the best configuration of cheap,
/// well-scoring algorithms (see [`Sampler`]).
#[derive(Debug)]
pub struct CostFrugalScheduler {
    sampler: Sampler,
    /// Strong-start configurations not yet proposed, next first.
    start: VecDeque<(Algorithm, Params)>,
}

impl CostFrugalScheduler {
    /// A scheduler over `algorithms` (the order breaks ties of the start), seeded with `seed`,
    /// that runs the strong start first.
    pub fn new(algorithms: Vec<Algorithm>, seed: u64) -> CostFrugalScheduler {
        let start = strong_start(&algorithms).into();
        CostFrugalScheduler {
            sampler: Sampler::new(algorithms, ChaCha8Rng::seed_from_u64(seed)),
            start,
        }
    }

    /// FLAML's start instead of the strong start: every algorithm at its low-cost point, in
    /// the given order.
    pub fn low_cost_start(algorithms: Vec<Algorithm>, seed: u64) -> CostFrugalScheduler {
        CostFrugalScheduler {
            sampler: Sampler::new(algorithms, ChaCha8Rng::seed_from_u64(seed)),
            start: VecDeque::new(),
        }
    }
}

impl Scheduler for CostFrugalScheduler {
    fn propose(&mut self, seconds_left: f64) -> Option<Proposal> {
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
            return Some(Proposal { algorithm, params });
        }
        self.sampler
            .propose(seconds_left)
            .map(|(algorithm, params)| Proposal { algorithm, params })
    }

    fn strong_start_done(&self) -> bool {
        self.start.is_empty()
    }

    fn observe(&mut self, record: &TrialRecord, loss: Option<f64>) {
        self.sampler
            .observe(record.algorithm, &record.params, loss, record.seconds);
    }
}
