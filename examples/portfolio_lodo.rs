//! Tunes the strong start's portfolio by leave-one-dataset-out (LODO) on the bench splits.
//!
//! ```text
//! cargo run --release --example portfolio_lodo -- --bench BENCH_DIR \
//!     [--scores reports/portfolio-scores.json] [--size 12] [--only adult,wine] [--reuse]
//! ```
//!
//! 1. Every configuration of the pool (`search::portfolio::PORTFOLIO` and `CANDIDATES`) that
//!    fits a split's task runs as one trial of an ordinary run on that split's **training**
//!    rows (its own validation folds; the test rows are never read), one trial at a time, with
//!    a generous budget and no row sampling, so the cross-validated scores do not depend on the
//!    machine's speed.
//!    The scores are written to `--scores` (and read back with `--reuse`).
//! 2. Scores are normalized per split: 1 for the best configuration of the pool, 0 for the
//!    worst (AutoGluon's and auto-sklearn 2.0's portfolio construction work the same way).
//! 3. A portfolio of `--size` is built greedily: each step adds the configuration that most
//!    raises the mean over splits of the best normalized score the portfolio reaches (ties to
//!    the cheaper one).
//! 4. LODO: for each split, the portfolio is built from the *other* splits only and judged on
//!    the held-out one by its regret, 1 − the best normalized score it reaches there, for the
//!    whole portfolio and for its cheapest 4 entries (what a short budget runs). The hand-written
//!    portfolio is judged the same way. The greedy portfolio over all splits is the proposal;
//!    it replaces the hand-written one only where LODO says it generalizes better.
//!
//! Prints a markdown report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};

use autotab::data::ColumnKind;
use autotab::engine::{run, Quiet};
use autotab::job::FinalModel;
use autotab::metrics::Metric;
use autotab::models::Algorithm;
use autotab::search::portfolio::{PortfolioEntry, CANDIDATES, PORTFOLIO};
use autotab::task::Task;
use autotab::JobSpec;

/// One configuration of the pool, named `P<i>` (portfolio) or `C<i>` (candidate).
struct Config {
    id: String,
    entry: PortfolioEntry,
}

fn pool() -> Vec<Config> {
    let named = |prefix: &str, entries: &[PortfolioEntry]| -> Vec<Config> {
        entries
            .iter()
            .enumerate()
            .map(|(i, e)| Config {
                id: format!("{prefix}{i}"),
                entry: *e,
            })
            .collect()
    };
    let mut all = named("P", PORTFOLIO);
    all.extend(named("C", CANDIDATES));
    all
}

/// A configuration's cross-validated score and seconds on one split (`None`: failed).
type SplitScores = BTreeMap<String, (Option<f64>, f64)>;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let bench = PathBuf::from(flag("--bench").context("--bench DIR is required")?);
    let scores_path =
        PathBuf::from(flag("--scores").unwrap_or_else(|| "reports/portfolio-scores.json".into()));
    let size: usize = flag("--size").map(|s| s.parse()).transpose()?.unwrap_or(12);
    let only: Option<Vec<String>> =
        flag("--only").map(|s| s.split(',').map(String::from).collect());
    let reuse = args.iter().any(|a| a == "--reuse");
    let pool = pool();

    let mut scores: BTreeMap<String, SplitScores> = if reuse {
        serde_json::from_str(&std::fs::read_to_string(&scores_path)?)?
    } else {
        BTreeMap::new()
    };
    if !reuse {
        for dir in tabular_splits(&bench, only.as_deref())? {
            let name = dir.file_name().unwrap().to_string_lossy().to_string();
            eprintln!("{name}: running the pool");
            scores.insert(name, score_split(&dir, &pool)?);
            std::fs::write(&scores_path, serde_json::to_string_pretty(&scores)?)?;
        }
    }
    print!("{}", report(&pool, &scores, size));
    Ok(())
}

/// The tabular (non-forecasting) splits of the bench folder.
fn tabular_splits(bench: &Path, only: Option<&[String]>) -> anyhow::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(bench)? {
        let dir = entry?.path();
        let Ok(text) = std::fs::read_to_string(dir.join("bench.json")) else {
            continue;
        };
        let bench: serde_json::Value = serde_json::from_str(&text)?;
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let wanted = only.is_none_or(|o| o.contains(&name));
        if wanted && bench["task"] != "forecasting" {
            dirs.push(dir);
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Runs every configuration of `pool` that fits the split's task as one trial each.
fn score_split(dir: &Path, pool: &[Config]) -> anyhow::Result<SplitScores> {
    let bench: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("bench.json"))?)?;
    let label = bench["label"].as_str().context("bench.json has no label")?;
    let (task, metric) = match bench["task"].as_str().unwrap_or_default() {
        "binary" | "multiclass" => (Task::Classification, Metric::AucWeighted),
        "regression" => (Task::Regression, Metric::R2),
        other => bail!("unsupported task {other}"),
    };
    let mut spec = JobSpec::new(dir.join("train.csv"), label);
    spec.task = Some(task);
    spec.metric = Some(metric);
    for col in bench["ignore_columns"].as_array().into_iter().flatten() {
        if let Some(c) = col.as_str() {
            spec.featurization
                .column_kinds
                .insert(c.to_string(), ColumnKind::IdLike);
        }
    }
    let algorithms: Vec<Algorithm> = spec.algorithms_for(task)?;
    let fitting: Vec<&Config> = pool
        .iter()
        .filter(|c| algorithms.contains(&c.entry.algorithm))
        .collect();
    spec.experiment = "portfolio-lodo".into();
    spec.seed = 0;
    spec.limits.timeout = Duration::from_secs(3600);
    spec.limits.trial_timeout = Some(Duration::from_secs(600));
    spec.limits.max_concurrent_trials = 1;
    spec.limits.max_trials = Some(fitting.len());
    spec.limits.early_stopping = None;
    spec.training.enable_vote_ensemble = false;
    spec.training.enable_stack_ensemble = false;
    spec.training.final_model = FinalModel::Bagged;
    // Every configuration on all rows: row samples would add promoted re-runs between them.
    spec.training.sample = false;
    spec.training.starting_points = Some(
        fitting
            .iter()
            .map(|c| (c.entry.algorithm, c.entry.params()))
            .collect(),
    );
    let outcome = run(&spec, &mut Quiet)?;
    let mut out = SplitScores::new();
    // One trial at a time: trial i is the i-th starting point.
    for (config, trial) in fitting.iter().zip(&outcome.trials) {
        if trial.algorithm != config.entry.algorithm {
            bail!(
                "trial {} ran {} where {} was expected",
                trial.index,
                trial.algorithm,
                config.id
            );
        }
        out.insert(config.id.clone(), (trial.score, trial.seconds));
    }
    Ok(out)
}

/// Per split, each configuration's score normalized to [0, 1] over the pool (1 = best).
fn normalized(scores: &BTreeMap<String, SplitScores>) -> BTreeMap<String, BTreeMap<String, f64>> {
    scores
        .iter()
        .map(|(split, s)| {
            let values: Vec<f64> = s.values().filter_map(|(v, _)| *v).collect();
            let low = values.iter().copied().fold(f64::INFINITY, f64::min);
            let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let norm = s
                .iter()
                .filter_map(|(id, (v, _))| {
                    let v = (*v)?;
                    let n = if high > low {
                        (v - low) / (high - low)
                    } else {
                        1.0
                    };
                    Some((id.clone(), n))
                })
                .collect();
            (split.clone(), norm)
        })
        .collect()
}

/// The best normalized score `ids` reach on `split` (0 when none of them ran there).
fn reach(norm: &BTreeMap<String, f64>, ids: &[String]) -> f64 {
    ids.iter()
        .filter_map(|id| norm.get(id))
        .copied()
        .fold(0.0, f64::max)
}

/// Greedy portfolio of `size` over `splits`; ties (as when the portfolio already reaches the
/// best of the pool everywhere) go to the configuration with the higher mean normalized score
/// of its own, then to the cheaper one.
fn greedy(
    pool: &[Config],
    norm: &BTreeMap<String, BTreeMap<String, f64>>,
    splits: &[&String],
    size: usize,
) -> Vec<String> {
    let mut picked: Vec<String> = Vec::new();
    while picked.len() < size.min(pool.len()) {
        let mut best: Option<(f64, f64, f64, &Config)> = None;
        for c in pool.iter().filter(|c| !picked.contains(&c.id)) {
            let mut with = picked.clone();
            with.push(c.id.clone());
            let gain: f64 = splits.iter().map(|s| reach(&norm[*s], &with)).sum();
            let own: f64 = splits
                .iter()
                .map(|s| reach(&norm[*s], std::slice::from_ref(&c.id)))
                .sum();
            let better = match best {
                None => true,
                Some((g, o, cost, _)) => {
                    gain > g + 1e-12
                        || (gain > g - 1e-12
                            && (own > o + 1e-12 || (own > o - 1e-12 && c.entry.cost < cost)))
                }
            };
            if better {
                best = Some((gain, own, c.entry.cost, c));
            }
        }
        picked.push(best.expect("a configuration is left").3.id.clone());
    }
    picked
}

/// `ids` sorted as the strong start runs them: cheapest first.
fn run_order(pool: &[Config], ids: &[String]) -> Vec<String> {
    let mut sorted: Vec<&Config> = pool.iter().filter(|c| ids.contains(&c.id)).collect();
    sorted.sort_by(|a, b| a.entry.cost.total_cmp(&b.entry.cost));
    sorted.into_iter().map(|c| c.id.clone()).collect()
}

fn report(pool: &[Config], scores: &BTreeMap<String, SplitScores>, size: usize) -> String {
    let norm = normalized(scores);
    let splits: Vec<&String> = norm.keys().collect();
    let hand: Vec<String> = run_order(
        pool,
        &pool
            .iter()
            .filter(|c| c.id.starts_with('P'))
            .map(|c| c.id.clone())
            .collect::<Vec<_>>(),
    );
    let mut md = String::from("## Leave-one-dataset-out\n\n");
    md.push_str(&format!(
        "Regret on the held-out split: 1 − the best normalized CV score the portfolio reaches there \
         (0 = as good as the best configuration of the pool of {}). `LODO` is the greedy portfolio \
         of {size} built on the other splits; `hand` is the hand-written one ({} entries). `@4`: \
         the cheapest four entries only.\n\n",
        pool.len(),
        hand.len()
    ));
    md.push_str("| held-out split | hand | hand @4 | LODO | LODO @4 | LODO portfolio (run order) |\n|---|---|---|---|---|---|\n");
    let (mut sums, mut n) = ([0.0f64; 4], 0.0);
    for held in &splits {
        let others: Vec<&String> = splits.iter().copied().filter(|s| s != held).collect();
        let lodo = run_order(pool, &greedy(pool, &norm, &others, size));
        let regrets = [
            1.0 - reach(&norm[*held], &hand),
            1.0 - reach(&norm[*held], &hand[..hand.len().min(4)]),
            1.0 - reach(&norm[*held], &lodo),
            1.0 - reach(&norm[*held], &lodo[..lodo.len().min(4)]),
        ];
        for (s, r) in sums.iter_mut().zip(regrets) {
            *s += r;
        }
        n += 1.0;
        md.push_str(&format!(
            "| {held} | {:.3} | {:.3} | {:.3} | {:.3} | {} |\n",
            regrets[0],
            regrets[1],
            regrets[2],
            regrets[3],
            lodo.join(" ")
        ));
    }
    md.push_str(&format!(
        "| **mean** | **{:.3}** | **{:.3}** | **{:.3}** | **{:.3}** | |\n\n",
        sums[0] / n,
        sums[1] / n,
        sums[2] / n,
        sums[3] / n
    ));
    let all = greedy(pool, &norm, &splits, size);
    md.push_str(&format!(
        "## Greedy portfolio on every split (size {size}, in greedy order)\n\n| step | id | algorithm | origin | mean normalized reach |\n|---|---|---|---|---|\n"
    ));
    for k in 1..=all.len() {
        let c = pool.iter().find(|c| c.id == all[k - 1]).unwrap();
        let mean = splits
            .iter()
            .map(|s| reach(&norm[*s], &all[..k]))
            .sum::<f64>()
            / splits.len() as f64;
        md.push_str(&format!(
            "| {k} | {} | {} | {} | {mean:.3} |\n",
            c.id, c.entry.algorithm, c.entry.origin
        ));
    }
    md.push_str("\n## Cross-validated scores (training rows only)\n\n| id | algorithm |");
    for s in &splits {
        md.push_str(&format!(" {s} |"));
    }
    md.push_str("\n|---|---|");
    md.push_str(&"---|".repeat(splits.len()));
    md.push('\n');
    for c in pool {
        md.push_str(&format!("| {} | {} |", c.id, c.entry.algorithm));
        for s in &splits {
            match scores[*s].get(&c.id) {
                Some((Some(v), secs)) => md.push_str(&format!(" {v:.4} ({secs:.1}s) |")),
                Some((None, _)) => md.push_str(" failed |"),
                None => md.push_str(" – |"),
            }
        }
        md.push('\n');
    }
    md
}
