//! What to run next: the [`Scheduler`] trait and the default, cost-frugal strategy.
//!
//! The search loop ([`super::run_search`]) asks a scheduler for proposals while it has free
//! slots and time, and tells it every finished trial. A new search strategy (a portfolio, a
//! successive-halving scheme, ...) is one new type implementing [`Scheduler`]; the executor,
//! the stop rules and the bookkeeping stay as they are.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

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
}

/// FLAML-style cost-frugal search: every algorithm first at its low-cost point (in the given
/// order), then mostly local steps around the best configuration of cheap, well-scoring
/// algorithms (see [`Sampler`]).
#[derive(Debug)]
pub struct CostFrugalScheduler {
    sampler: Sampler,
}

impl CostFrugalScheduler {
    /// A scheduler over `algorithms` (first-round order), seeded with `seed`.
    pub fn new(algorithms: Vec<Algorithm>, seed: u64) -> CostFrugalScheduler {
        CostFrugalScheduler {
            sampler: Sampler::new(algorithms, ChaCha8Rng::seed_from_u64(seed)),
        }
    }
}

impl Scheduler for CostFrugalScheduler {
    fn propose(&mut self, seconds_left: f64) -> Option<Proposal> {
        self.sampler
            .propose(seconds_left)
            .map(|(algorithm, params)| Proposal { algorithm, params })
    }

    fn observe(&mut self, record: &TrialRecord, loss: Option<f64>) {
        self.sampler
            .observe(record.algorithm, &record.params, loss, record.seconds);
    }
}
