//! Proposes the next trial: which algorithm, with which hyperparameters.
//!
//! FLAML's idea, kept small: every algorithm first runs at its low-cost starting point, cheapest
//! first; then the sampler picks an algorithm with a probability inversely proportional to its
//! *estimated cost for improvement* (FLAML's ECI, below), and proposes either a local step
//! around that algorithm's best configuration (with a step that shrinks as the algorithm
//! gathers trials) or, less often, a fresh random point.
//!
//! The ECI of an algorithm, in seconds of its own trials, is the larger of the time its last
//! improvement took and the time it has spent since without improving; for an algorithm behind
//! the leader it is at least the time it would need to close the gap at the speed of its last
//! improvement (twice the gap over that speed). So a stalled leader yields to others, and an
//! algorithm far behind is tried again only when it is cheap or was improving fast. This is
//! FLAML's rule (`AutoML._search_sequential`, `SearchState.update`) with one change: an
//! algorithm that has improved only once has no speed of its own, and FLAML's assumption (that
//! its first trial gained its whole loss) sends half the budget of a large table to a linear SVM
//! 0.02 AUC behind boosting. Here it is assumed to improve as fast as the leader's search did
//! on this table (the leader's gain from its first to its best trial, over its time).

use std::collections::{BTreeMap, HashSet};

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::models::{Algorithm, Domain, ParamSpec, ParamValue, Params};

/// What the sampler knows of one algorithm so far.
#[derive(Debug, Clone, Default)]
struct AlgorithmStats {
    /// Trials proposed.
    trials: usize,
    /// Trials observed (finished), failed ones included.
    finished: usize,
    /// Trials that completed with a score.
    completed: usize,
    best_loss: Option<f64>,
    best_params: Option<Params>,
    total_seconds: f64,
    /// The best loss before the current best (FLAML's `best_loss_old`).
    previous_best_loss: Option<f64>,
    /// `total_seconds` when the current best was found.
    best_found_at: f64,
    /// `total_seconds` when the previous best was found.
    previous_best_found_at: f64,
    /// The loss of the first completed trial.
    first_loss: Option<f64>,
}

impl AlgorithmStats {
    /// Estimated seconds of this algorithm's trials before it improves on the search's best
    /// loss `leader` (FLAML's ECI). `typical_gain` is what a local search gained on this table
    /// (the leader's improvement from its first to its best trial): the speed assumed for an
    /// algorithm that has improved only once. `None` before it has finished a trial.
    fn estimated_cost_for_improvement(&self, leader: f64, typical_gain: f64) -> Option<f64> {
        if self.finished == 0 {
            return None;
        }
        let mean = self.total_seconds / self.finished as f64;
        let Some(best) = self.best_loss else {
            // Failed only: tried again rarely.
            return Some(10.0 * self.total_seconds.max(1e-3));
        };
        let mut eci = (self.best_found_at - self.previous_best_found_at)
            .max(self.total_seconds - self.best_found_at)
            .max(mean)
            .max(1e-6);
        let gap = best - leader;
        if gap > 0.0 {
            let gain = self
                .previous_best_loss
                .map(|p| p - best)
                .filter(|d| *d > 0.0)
                .unwrap_or(typical_gain);
            let spent = (self.total_seconds - self.previous_best_found_at).max(1e-6);
            eci = eci.max(2.0 * gap * spent / gain.max(1e-9));
        }
        Some(eci)
    }

    /// How much this algorithm's search improved on its first completed trial.
    fn gain_since_first(&self) -> f64 {
        match (self.first_loss, self.best_loss) {
            (Some(first), Some(best)) => first - best,
            _ => 0.0,
        }
    }
}

/// The proposal generator of a search.
#[derive(Debug)]
pub struct Sampler {
    algorithms: Vec<Algorithm>,
    stats: BTreeMap<Algorithm, AlgorithmStats>,
    seen: HashSet<String>,
    rng: ChaCha8Rng,
    /// Values every proposal of an algorithm keeps (see [`Sampler::pin`]).
    pins: BTreeMap<Algorithm, Vec<(&'static str, ParamValue)>>,
}

impl Sampler {
    /// A sampler over `algorithms`, in the order given for the first round.
    pub fn new(algorithms: Vec<Algorithm>, rng: ChaCha8Rng) -> Sampler {
        let stats = algorithms
            .iter()
            .map(|a| (*a, AlgorithmStats::default()))
            .collect();
        Sampler {
            algorithms,
            stats,
            seen: HashSet::new(),
            rng,
            pins: BTreeMap::new(),
        }
    }

    /// Fixes hyperparameter `name` of `algorithm` at `value` in every proposal: for a choice
    /// this run's data rules out (boosting's `target=log` when a label is 0 or below, or the
    /// task is classification).
    pub fn pin(&mut self, algorithm: Algorithm, name: &'static str, value: ParamValue) {
        let pins = self.pins.entry(algorithm).or_default();
        pins.retain(|(n, _)| *n != name);
        pins.push((name, value));
    }

    /// Whether `params` set a pinned hyperparameter of `algorithm` to another value.
    pub fn conflicts_with_pins(&self, algorithm: Algorithm, params: &Params) -> bool {
        self.pins.get(&algorithm).is_some_and(|pins| {
            pins.iter()
                .any(|(name, value)| params.get(*name).is_some_and(|v| v != value))
        })
    }

    fn with_pins(&self, algorithm: Algorithm, mut params: Params) -> Params {
        for (name, value) in self.pins.get(&algorithm).into_iter().flatten() {
            params.insert((*name).to_string(), value.clone());
        }
        params
    }

    /// Records a finished trial: `loss` is lower-is-better, `None` for a failed trial.
    pub fn observe(
        &mut self,
        algorithm: Algorithm,
        params: &Params,
        loss: Option<f64>,
        seconds: f64,
    ) {
        let s = self.stats.entry(algorithm).or_default();
        s.total_seconds += seconds;
        s.finished += 1;
        if let Some(loss) = loss {
            s.completed += 1;
            s.first_loss.get_or_insert(loss);
            if s.best_loss.is_none_or(|b| loss < b) {
                s.previous_best_loss = s.best_loss;
                s.previous_best_found_at = s.best_found_at;
                s.best_found_at = s.total_seconds;
                s.best_loss = Some(loss);
                s.best_params = Some(params.clone());
            }
        }
    }

    /// The best configuration of `algorithm` so far, if one completed.
    pub fn best_params(&self, algorithm: Algorithm) -> Option<&Params> {
        self.stats
            .get(&algorithm)
            .and_then(|s| s.best_params.as_ref())
    }

    /// Mean seconds of one trial of `algorithm` so far, if any finished.
    pub fn mean_seconds(&self, algorithm: Algorithm) -> Option<f64> {
        self.stats
            .get(&algorithm)
            .filter(|s| s.finished > 0)
            .map(|s| s.total_seconds / s.finished as f64)
    }

    /// The next trial, or `None` when every algorithm would cost more than `seconds_left`.
    pub fn propose(&mut self, seconds_left: f64) -> Option<(Algorithm, Params)> {
        // First round: each algorithm at its low-cost point, in the given order.
        if let Some(&algorithm) = self.algorithms.iter().find(|a| self.stats[a].trials == 0) {
            let params = low_cost_params(algorithm.space());
            return Some(self.issue(algorithm, params));
        }
        let algorithm = self.choose_algorithm(seconds_left)?;
        for _ in 0..20 {
            let sampled = self.sample_params(algorithm);
            let params = self.with_pins(algorithm, sampled);
            if !self.seen.contains(&key(algorithm, &params)) {
                return Some(self.issue(algorithm, params));
            }
        }
        // The space looks exhausted around this algorithm's best point: take a random one.
        let params = random_params(algorithm.space(), &mut self.rng);
        Some(self.issue(algorithm, params))
    }

    /// Whether `algorithm` is one of the searched algorithms.
    pub fn searches(&self, algorithm: Algorithm) -> bool {
        self.algorithms.contains(&algorithm)
    }

    /// Records a proposal made outside the sampler (the strong start): the algorithm counts as
    /// tried, so the low-cost first round skips it, and the configuration is not proposed again.
    /// Pinned values (see [`Sampler::pin`]) replace the proposal's.
    pub fn issue(&mut self, algorithm: Algorithm, params: Params) -> (Algorithm, Params) {
        let params = self.with_pins(algorithm, params);
        self.seen.insert(key(algorithm, &params));
        if let Some(s) = self.stats.get_mut(&algorithm) {
            s.trials += 1;
        }
        (algorithm, params)
    }

    /// Picks an algorithm with probability proportional to the inverse of its estimated cost
    /// for improvement (see the module header), skipping any whose mean trial would not fit in
    /// `seconds_left`. Algorithms whose first trial is still running are picked only when no
    /// other is left.
    fn choose_algorithm(&mut self, seconds_left: f64) -> Option<Algorithm> {
        let affordable: Vec<Algorithm> = self
            .algorithms
            .iter()
            .copied()
            .filter(|a| self.mean_seconds(*a).is_none_or(|c| c <= seconds_left))
            .collect();
        let Some(leading) = self
            .stats
            .values()
            .filter(|s| s.best_loss.is_some())
            .min_by(|a, b| {
                a.best_loss
                    .unwrap_or(0.0)
                    .total_cmp(&b.best_loss.unwrap_or(0.0))
            })
        else {
            return affordable.first().copied();
        };
        let leader = leading.best_loss.unwrap_or(0.0);
        // Before the leader has improved on its first trial, a gap is assumed to take as long
        // to close as the time spent so far (gain = gap).
        let typical_gain = leading.gain_since_first();
        let weighted: Vec<(Algorithm, f64)> = affordable
            .iter()
            .filter_map(|a| {
                let s = &self.stats[a];
                let gain = if typical_gain > 0.0 {
                    typical_gain
                } else {
                    s.best_loss.map_or(1.0_f64, |b| b - leader)
                };
                s.estimated_cost_for_improvement(leader, gain)
                    .map(|eci| (*a, 1.0 / eci))
            })
            .collect();
        if weighted.is_empty() {
            return affordable.first().copied();
        }
        let total: f64 = weighted.iter().map(|w| w.1).sum();
        let mut pick = self.rng.gen::<f64>() * total;
        for (a, w) in &weighted {
            if pick < *w {
                return Some(*a);
            }
            pick -= w;
        }
        weighted.last().map(|w| w.0)
    }

    fn sample_params(&mut self, algorithm: Algorithm) -> Params {
        let stats = &self.stats[&algorithm];
        let space = algorithm.space();
        match &stats.best_params {
            Some(best) if self.rng.gen::<f64>() < 0.7 => {
                // Step size shrinks from 0.3 to 0.05 of the (normalised) range.
                let step = (0.3 / (1.0 + stats.completed as f64 / 4.0)).max(0.05);
                perturb(space, best, step, &mut self.rng)
            }
            _ => random_params(space, &mut self.rng),
        }
    }
}

fn key(algorithm: Algorithm, params: &Params) -> String {
    format!(
        "{algorithm}:{}",
        serde_json::to_string(params).unwrap_or_default()
    )
}

/// Every parameter at its low-cost starting value.
pub fn low_cost_params(space: &[ParamSpec]) -> Params {
    space
        .iter()
        .map(|s| (s.name.to_string(), s.low_cost.value()))
        .collect()
}

/// A uniform (log-uniform where declared) sample of the whole space.
pub fn random_params(space: &[ParamSpec], rng: &mut ChaCha8Rng) -> Params {
    space
        .iter()
        .map(|s| (s.name.to_string(), from_unit(&s.domain, rng.gen::<f64>())))
        .collect()
}

/// Moves each numeric parameter by a Gaussian-ish step in normalised space; flips a choice
/// with probability `step`.
fn perturb(space: &[ParamSpec], center: &Params, step: f64, rng: &mut ChaCha8Rng) -> Params {
    space
        .iter()
        .map(|s| {
            let current = center
                .get(s.name)
                .cloned()
                .unwrap_or_else(|| s.default.value());
            let value = match &s.domain {
                Domain::Choice(options) => {
                    if rng.gen::<f64>() < step.max(0.2) {
                        ParamValue::Choice(options[rng.gen_range(0..options.len())].to_string())
                    } else {
                        current
                    }
                }
                domain => {
                    let u = to_unit(domain, &current);
                    // Sum of two uniforms: a cheap bell-shaped step.
                    let delta = (rng.gen::<f64>() + rng.gen::<f64>() - 1.0) * step * 2.0;
                    from_unit(domain, (u + delta).clamp(0.0, 1.0))
                }
            };
            (s.name.to_string(), value)
        })
        .collect()
}

fn to_unit(domain: &Domain, value: &ParamValue) -> f64 {
    let v = match value {
        ParamValue::Int(v) => *v as f64,
        ParamValue::Float(v) => *v,
        ParamValue::Choice(_) => return 0.5,
    };
    let (low, high, log) = match domain {
        Domain::Int { low, high, log } => (*low as f64, *high as f64, *log),
        Domain::Float { low, high, log } => (*low, *high, *log),
        Domain::Choice(_) => return 0.5,
    };
    if high <= low {
        return 0.0;
    }
    if log && low > 0.0 {
        (v.max(low).ln() - low.ln()) / (high.ln() - low.ln())
    } else {
        (v - low) / (high - low)
    }
}

fn from_unit(domain: &Domain, u: f64) -> ParamValue {
    let scale = |low: f64, high: f64, log: bool| {
        if log && low > 0.0 {
            (low.ln() + u * (high.ln() - low.ln())).exp()
        } else {
            low + u * (high - low)
        }
    };
    match domain {
        Domain::Int { low, high, log } => {
            let v = scale(*low as f64, *high as f64, *log).round() as i64;
            ParamValue::Int(v.clamp(*low, *high))
        }
        Domain::Float { low, high, log } => {
            ParamValue::Float(scale(*low, *high, *log).clamp(*low, *high))
        }
        Domain::Choice(options) => {
            let i = ((u * options.len() as f64) as usize).min(options.len() - 1);
            ParamValue::Choice(options[i].to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{AlgorithmParams, Estimator};
    use proptest::prelude::*;
    use rand::SeedableRng;

    #[test]
    fn first_round_tries_every_algorithm_at_low_cost() {
        let algs = vec![Algorithm::LogisticRegression, Algorithm::DecisionTree];
        let mut s = Sampler::new(algs.clone(), ChaCha8Rng::seed_from_u64(1));
        let (a, p) = s.propose(100.0).unwrap();
        assert_eq!(a, Algorithm::LogisticRegression);
        assert_eq!(p, low_cost_params(a.space()));
        let (b, _) = s.propose(100.0).unwrap();
        assert_eq!(b, Algorithm::DecisionTree);
    }

    #[test]
    fn proposals_are_valid_and_distinct() {
        let algs = Algorithm::ALL.to_vec();
        let mut s = Sampler::new(algs, ChaCha8Rng::seed_from_u64(3));
        let mut keys = HashSet::new();
        for i in 0..200 {
            let (a, p) = s.propose(100.0).unwrap();
            Estimator::new(a, &p).expect("every proposal lies in its space");
            assert!(keys.insert(key(a, &p)), "duplicate proposal {a} {p:?}");
            s.observe(a, &p, Some((i % 7) as f64), 0.01);
        }
    }

    #[test]
    fn a_pinned_value_is_kept_by_every_proposal() {
        let gbm = Algorithm::GradientBoosting;
        let mut s = Sampler::new(vec![gbm], ChaCha8Rng::seed_from_u64(11));
        let raw = ParamValue::Choice("raw".into());
        s.pin(gbm, "target", raw.clone());
        let mut log = low_cost_params(gbm.space());
        log.insert("target".into(), ParamValue::Choice("log".into()));
        assert!(s.conflicts_with_pins(gbm, &log));
        assert_eq!(s.issue(gbm, log).1["target"], raw);
        for i in 0..100 {
            let (a, p) = s.propose(100.0).unwrap();
            assert_eq!(p["target"], raw, "trial {i}: {p:?}");
            s.observe(a, &p, Some(1.0 / (i + 1) as f64), 0.01);
        }
        // Unpinned, the local search visits both scales.
        let mut free = Sampler::new(vec![gbm], ChaCha8Rng::seed_from_u64(11));
        let targets: HashSet<String> = (0..100)
            .map(|i| {
                let (a, p) = free.propose(100.0).unwrap();
                free.observe(a, &p, Some(1.0 / (i + 1) as f64), 0.01);
                p["target"].to_string()
            })
            .collect();
        assert_eq!(targets.len(), 2, "{targets:?}");
    }

    #[test]
    fn expensive_algorithms_are_skipped_when_time_is_short() {
        let algs = vec![Algorithm::LogisticRegression, Algorithm::KNearestNeighbors];
        let mut s = Sampler::new(algs, ChaCha8Rng::seed_from_u64(5));
        for _ in 0..2 {
            let (a, p) = s.propose(100.0).unwrap();
            let secs = if a == Algorithm::KNearestNeighbors {
                50.0
            } else {
                1.0
            };
            s.observe(a, &p, Some(0.1), secs);
        }
        for _ in 0..20 {
            let (a, _) = s.propose(10.0).unwrap();
            assert_eq!(a, Algorithm::LogisticRegression);
        }
        assert!(s.propose(0.5).is_none());
    }

    /// Share of `n` choices that pick `algorithm`.
    fn share(s: &mut Sampler, algorithm: Algorithm, n: usize) -> f64 {
        let picks = (0..n)
            .filter(|_| s.choose_algorithm(1e6) == Some(algorithm))
            .count();
        picks as f64 / n as f64
    }

    #[test]
    fn an_algorithm_far_behind_is_tried_rarely_and_a_stalled_leader_yields() {
        let (lead, behind) = (Algorithm::GradientBoosting, Algorithm::GaussianNaiveBayes);
        let mut s = Sampler::new(vec![lead, behind], ChaCha8Rng::seed_from_u64(7));
        let p = Params::new();
        // The leader improves steadily (AUC 0.90 -> 0.92, a second per trial); naive Bayes sits
        // at 0.80 after two cheap trials without improving.
        s.observe(behind, &p, Some(-0.80), 0.05);
        s.observe(behind, &p, Some(-0.79), 0.05);
        for auc in [0.90, 0.91, 0.92] {
            s.observe(lead, &p, Some(-auc), 1.0);
        }
        // Naive Bayes: gap 0.12 at its speed (0.2 per 0.1 s) needs 0.12 s; leader: 1 s.
        let far = share(&mut s, behind, 2000);
        // Now the leader stalls for 20 trials: its cost for improvement grows to 20 s.
        for _ in 0..20 {
            s.observe(lead, &p, Some(-0.915), 1.0);
        }
        let stalled = share(&mut s, behind, 2000);
        assert!(stalled > far, "far behind {far}, leader stalled {stalled}");
        // The same gap at a slow speed (0.01 AUC in 10 s) keeps it rare.
        let mut slow = Sampler::new(vec![lead, behind], ChaCha8Rng::seed_from_u64(7));
        slow.observe(behind, &p, Some(-0.79), 5.0);
        slow.observe(behind, &p, Some(-0.80), 5.0);
        for auc in [0.90, 0.91, 0.92] {
            slow.observe(lead, &p, Some(-auc), 1.0);
        }
        let rare = share(&mut slow, behind, 2000);
        assert!(rare < 0.05, "slow and far behind: {rare}");
    }

    proptest! {
        /// Random points, local steps and any point of the unit cube all check into the typed
        /// parameters, and map back to the same values.
        #[test]
        fn any_sample_of_any_space_checks(
            seed in any::<u64>(),
            which in 0..Algorithm::ALL.len(),
            step in 0.0f64..1.0,
            u in 0.0f64..=1.0,
        ) {
            let algorithm = Algorithm::ALL[which];
            let space = algorithm.space();
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let random = random_params(space, &mut rng);
            let moved = perturb(space, &random, step, &mut rng);
            let corner: Params = space
                .iter()
                .map(|s| (s.name.to_string(), from_unit(&s.domain, u)))
                .collect();
            for params in [low_cost_params(space), random, moved, corner] {
                let typed = AlgorithmParams::check(algorithm, &params);
                prop_assert!(typed.is_ok(), "{algorithm} {params:?}: {typed:?}");
                prop_assert_eq!(typed.unwrap().to_params(), params);
            }
        }
    }
}
