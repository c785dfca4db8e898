//! Benchmark against the anchors: trains on `<bench>/<name>/train.csv` for every
//! classification and regression dataset of a bench folder (fixed splits, `bench.json` giving
//! task and label), scores `test.csv`, and writes `reports/benchmark.md` beside the FLAML and
//! LightGBM figures of an anchors `RESULTS.md`.
//!
//! ```sh
//! cargo run --release --example benchmark -- --bench BENCH_DIR --anchors RESULTS.md \
//!     [--budget 60] [--concurrent 2] [--only adult,wine]
//! ```
//! Each dataset runs in a child process of this program, so that its peak memory (VmHWM) is its own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use autotab::data::{load_table, ColumnKind, LoadOptions};
use autotab::engine::{run, Quiet};
use autotab::metrics::Metric;
use autotab::task::Task;
use autotab::JobSpec;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let budget: f64 = flag("--budget")
        .map(|b| b.parse())
        .transpose()?
        .unwrap_or(60.0);
    let concurrent: usize = flag("--concurrent")
        .map(|c| c.parse())
        .transpose()?
        .unwrap_or(2);
    let bench_root = PathBuf::from(
        flag("--bench").context("--bench DIR (the folder of benchmark splits) is required")?,
    );
    if let Some(name) = flag("--one") {
        return run_one(&bench_root.join(name), budget, concurrent);
    }
    let only: Option<Vec<String>> =
        flag("--only").map(|o| o.split(',').map(String::from).collect());
    let mut names: Vec<String> = std::fs::read_dir(&bench_root)
        .with_context(|| format!("cannot list {}", bench_root.display()))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().to_string()))
        .filter(|n| only.as_ref().is_none_or(|o| o.contains(n)))
        .collect();
    names.sort();
    let anchors = flag("--anchors")
        .map(|p| read_anchor_results(Path::new(&p)))
        .transpose()?
        .unwrap_or_default();
    let mut rows = Vec::new();
    for name in names {
        let spec = read_bench_json(&bench_root.join(&name))?;
        let task = spec["task"].as_str().unwrap_or_default().to_string();
        if !["binary", "multiclass", "regression"].contains(&task.as_str()) {
            continue;
        }
        eprintln!("== {name} ({task})");
        let exe = std::env::current_exe()?;
        let out = Command::new(exe)
            .args([
                "--one",
                &name,
                "--budget",
                &budget.to_string(),
                "--concurrent",
                &concurrent.to_string(),
            ])
            .args(["--bench", &bench_root.to_string_lossy()])
            .output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .unwrap_or_default()
            .to_string();
        let result: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|_| {
            serde_json::json!({"error": String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("failed")})
        });
        eprintln!("   {result}");
        rows.push((name, task, result));
    }
    let mut md = String::new();
    md.push_str("# autotab on the shared bench splits\n\n");
    md.push_str(&format!(
        "Command: `cargo run --release --example benchmark -- --bench <bench folder> --anchors <anchors RESULTS.md> --budget {budget} --concurrent {concurrent}`  \n"
    ));
    md.push_str(&format!(
        "Date: {}. Machine: {} cores. Each dataset in its own process; `peak MB` is that process's VmHWM.\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    ));
    md.push_str("Test metric: AUC for binary, AUC_weighted for multiclass, r2 for regression (FLAML and LightGBM from the anchors' `RESULTS.md` given with `--anchors`).\n\n");
    md.push_str("| dataset | task | autotab test | best algorithm | CV score | trials | wall s | peak MB | flaml | lgbm_default |\n");
    md.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    for (name, task, r) in &rows {
        let anchor = anchors.get(name.as_str()).cloned().unwrap_or_default();
        if let Some(err) = r.get("error") {
            md.push_str(&format!(
                "| {name} | {task} | error: {} | | | | | | {} | {} |\n",
                err.as_str().unwrap_or("?"),
                anchor.0,
                anchor.1
            ));
            continue;
        }
        md.push_str(&format!(
            "| {name} | {task} | {:.4} | {} | {:.4} | {} | {:.1} | {:.0} | {} | {} |\n",
            r["test_score"].as_f64().unwrap_or(f64::NAN),
            r["best_algorithm"].as_str().unwrap_or("?"),
            r["cv_score"].as_f64().unwrap_or(f64::NAN),
            r["trials"],
            r["wall_s"].as_f64().unwrap_or(f64::NAN),
            r["peak_mb"].as_f64().unwrap_or(f64::NAN),
            anchor.0,
            anchor.1
        ));
    }
    std::fs::create_dir_all("reports")?;
    std::fs::write("reports/benchmark.md", &md)?;
    println!("{md}");
    Ok(())
}

fn read_bench_json(dir: &Path) -> anyhow::Result<serde_json::Value> {
    let path = dir.join("bench.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

/// One dataset: train with the budget, score the test split, print one JSON line.
fn run_one(dir: &Path, budget: f64, concurrent: usize) -> anyhow::Result<()> {
    let bench = read_bench_json(dir)?;
    let task = bench["task"].as_str().unwrap_or_default();
    let label = bench["label"]
        .as_str()
        .context("bench.json has no label")?
        .to_string();
    let mut spec = JobSpec::new(dir.join("train.csv"), label.clone());
    spec.experiment = "benchmark".into();
    spec.limits.timeout = Duration::from_secs_f64(budget);
    spec.limits.max_concurrent_trials = concurrent;
    let (task_enum, metric) = match task {
        "binary" | "multiclass" => (Task::Classification, Metric::AucWeighted),
        "regression" => (Task::Regression, Metric::R2),
        other => bail!("unsupported task {other}"),
    };
    spec.task = Some(task_enum);
    spec.metric = Some(metric);
    for col in bench["ignore_columns"].as_array().into_iter().flatten() {
        if let Some(c) = col.as_str() {
            spec.featurization
                .column_kinds
                .insert(c.to_string(), ColumnKind::IdLike);
        }
    }
    let started = Instant::now();
    let outcome = run(&spec, &mut Quiet)?;
    let wall_s = started.elapsed().as_secs_f64();
    let test = load_table(&dir.join("test.csv"), &LoadOptions::default())?;
    let predictions = outcome.pipeline.predict(&test)?;
    let truth = test.require(&label)?;
    let test_score = match &predictions.proba {
        Some(proba) => {
            let classes = &predictions.classes;
            let labels: Vec<usize> = (0..test.n_rows())
                .map(|i| {
                    let t = truth.values.text_at(i).unwrap_or_default();
                    classes
                        .iter()
                        .position(|c| *c == t)
                        .context(format!("test label '{t}' unseen in training"))
                })
                .collect::<anyhow::Result<_>>()?;
            metric.classification(&labels, proba.view())?
        }
        None => {
            let y: Vec<f64> = (0..test.n_rows())
                .map(|i| {
                    truth
                        .values
                        .text_at(i)
                        .and_then(|t| t.parse().ok())
                        .unwrap_or(f64::NAN)
                })
                .collect();
            metric.regression(&y, &predictions.values)?
        }
    };
    let result = serde_json::json!({
        "test_score": test_score,
        "cv_score": outcome.winner.score,
        "best_algorithm": outcome.winner.learner.name(),
        "trials": outcome.trials.len(),
        "wall_s": wall_s,
        "peak_mb": peak_memory_mb(),
    });
    println!("{result}");
    Ok(())
}

/// VmHWM of this process, in MB.
fn peak_memory_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// dataset -> (flaml cell, lgbm_default cell) from the anchors' results table.
fn read_anchor_results(path: &Path) -> anyhow::Result<BTreeMap<String, (String, String)>> {
    let text = std::fs::read_to_string(path)?;
    let mut header: Vec<String> = Vec::new();
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<String> = line
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect();
        if header.is_empty() {
            header = cells;
            continue;
        }
        if cells.iter().all(|c| c.starts_with('-')) {
            continue;
        }
        let col = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .and_then(|i| cells.get(i))
                .cloned()
                .unwrap_or_default()
        };
        out.insert(col("dataset"), (col("flaml"), col("lgbm_default")));
    }
    Ok(out)
}
