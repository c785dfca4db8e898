//! Proposes the next trial: which algorithm, with which hyperparameters.
//!
//! FLAML's idea, kept small: every algorithm first runs at its low-cost starting point, cheapest
//! first; then the sampler favours the algorithms whose best score is high and whose trials are
//! cheap, and proposes either a local step around that algorithm's best configuration (with a
//! step that shrinks as the algorithm gathers trials) or, less often, a fresh random point.

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
}

/// The proposal generator of a search.
#[derive(Debug)]
pub struct Sampler {
    algorithms: Vec<Algorithm>,
    stats: BTreeMap<Algorithm, AlgorithmStats>,
    seen: HashSet<String>,
    rng: ChaCha8Rng,
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
        }
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
            if s.best_loss.is_none_or(|b| loss < b) {
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
            let params = self.sample_params(algorithm);
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
    pub fn issue(&mut self, algorithm: Algorithm, params: Params) -> (Algorithm, Params) {
        self.seen.insert(key(algorithm, &params));
        if let Some(s) = self.stats.get_mut(&algorithm) {
            s.trials += 1;
        }
        (algorithm, params)
    }

    /// Ranks algorithms by best loss; picks the leader most of the time, others by rank, and
    /// skips any whose mean trial would not fit in `seconds_left`.
    fn choose_algorithm(&mut self, seconds_left: f64) -> Option<Algorithm> {
        let mut ranked: Vec<(Algorithm, f64, f64)> = self
            .algorithms
            .iter()
            .filter_map(|a| {
                let s = &self.stats[a];
                let cost = self.mean_seconds(*a).unwrap_or(0.0);
                if cost > seconds_left {
                    return None;
                }
                // Failed-only algorithms get a bad loss but are not banned outright.
                let loss = s.best_loss.unwrap_or(f64::INFINITY);
                Some((*a, loss, cost))
            })
            .collect();
        if ranked.is_empty() {
            return None;
        }
        ranked.sort_by(|x, y| x.1.total_cmp(&y.1));
        // Weight: 1/(rank+1)^2, divided by a soft cost penalty relative to the cheapest.
        let cheapest = ranked
            .iter()
            .map(|r| r.2)
            .fold(f64::INFINITY, f64::min)
            .max(1e-3);
        let weights: Vec<f64> = ranked
            .iter()
            .enumerate()
            .map(|(rank, r)| {
                let failed_only = r.1.is_infinite();
                let base = 1.0 / ((rank + 1) as f64).powi(2);
                let cost_penalty = (r.2.max(1e-3) / cheapest).sqrt().max(1.0);
                if failed_only {
                    0.02
                } else {
                    base / cost_penalty.min(10.0)
                }
            })
            .collect();
        let total: f64 = weights.iter().sum();
        let mut pick = self.rng.gen::<f64>() * total;
        for (r, w) in ranked.iter().zip(&weights) {
            if pick < *w {
                return Some(r.0);
            }
            pick -= w;
        }
        ranked.first().map(|r| r.0)
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
