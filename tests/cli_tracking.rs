//! End-to-end tests of run history and the registry through the real binary.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{autotab, json_summary, succeed, TempWorkspace};

fn run_registered(ws: &TempWorkspace, name: &str) -> serde_json::Value {
    let stdout = succeed(
        autotab(ws)
            .args([
                "run",
                "--data",
                "datasets/heart_failure.csv",
                "--label",
                "DEATH_EVENT",
            ])
            .args([
                "--timeout",
                "30",
                "--max-trials",
                "6",
                "--experiment",
                "heart-failure",
            ])
            .args([
                "--register",
                name,
                "--tag",
                "owner=cardio",
                "--description",
                "test model",
                "--json",
                "--quiet",
            ]),
    );
    json_summary(&stdout)
}

fn cli_json(ws: &TempWorkspace, args: &[&str]) -> serde_json::Value {
    let stdout = cli_text(ws, args);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?} did not print JSON: {e}"))
}

fn cli_text(ws: &TempWorkspace, args: &[&str]) -> String {
    succeed(autotab(ws).args(args))
}

/// Whether a child run is an ensemble's rather than a trial's.
fn is_ensemble(child: &serde_json::Value) -> bool {
    ["VotingEnsemble", "StackEnsemble"].contains(&child["algorithm"].as_str().unwrap_or_default())
}

#[test]
fn the_stack_ensemble_is_listed_recorded_and_registered_by_refitting() {
    let ws = TempWorkspace::new();
    let stdout = succeed(autotab(&ws).args([
        "run",
        "--data",
        "datasets/heart_failure.csv",
        "--label",
        "DEATH_EVENT",
        "--max-trials",
        "4",
        "--max-concurrent-trials",
        "1",
        "--seed",
        "3",
        "--timeout",
        "60",
        "--experiment",
        "stacked",
        "--json",
    ]));
    let summary = json_summary(&stdout);
    let run_id = summary["run_id"].as_str().unwrap();
    let detail = cli_json(&ws, &["runs", "show", run_id, "--json"]);
    let children = detail["children"].as_array().unwrap();
    let completed_trials = children
        .iter()
        .filter(|c| c["status"] == "completed" && !is_ensemble(c))
        .count();
    let stack = children.iter().find(|c| c["algorithm"] == "StackEnsemble");
    if completed_trials < 2 {
        // Nothing to stack: this machine completed fewer than two trials in the budget.
        assert!(stack.is_none(), "{detail}");
        return;
    }
    // Recorded as a child run with its cross-validated score and meta-learner, whether or not
    // it won.
    let stack = stack.unwrap_or_else(|| panic!("no StackEnsemble child run: {detail}"));
    let score = stack["metrics"]["AUC_weighted"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&score), "{stack}");
    assert_eq!(
        stack["fold_metrics"]["AUC_weighted"]
            .as_array()
            .unwrap()
            .len(),
        10,
        "one score per fold of the run's 10-fold cross-validation: {stack}"
    );
    assert_eq!(stack["params"]["meta_learner"], "LogisticRegression");
    assert!(stack["params"]["member_weights"].as_array().unwrap().len() >= 2);
    // Listed on the leaderboard as an ensemble, under its own name.
    let board: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("leaderboard"))
        .take_while(|l| !l.starts_with("best:"))
        .collect();
    assert!(
        board[0].contains("and 1 ensemble") || board[0].contains("and 2 ensembles"),
        "{stdout}"
    );
    assert!(
        board
            .iter()
            .any(|l| l.contains("StackEnsemble") && l.contains("members=#")),
        "{stdout}"
    );

    // Registering the child run refits it (members and meta-learner) into a bundle that predicts.
    let id = stack["id"].as_str().unwrap();
    let text = cli_text(
        &ws,
        &["models", "register", "--run", id, "--name", "hf-stack"],
    );
    assert!(text.contains("registered model hf-stack:1"), "{text}");
    let shown = cli_json(&ws, &["models", "show", "hf-stack", "--json"]);
    assert_eq!(shown["bundle"]["algorithm"], "StackEnsemble", "{shown}");
    let predictions = succeed(autotab(&ws).args([
        "predict",
        "--model",
        "hf-stack",
        "--data",
        "datasets/heart_failure.csv",
    ]));
    assert_eq!(predictions.lines().count(), 300);
}

#[test]
fn runs_are_recorded_and_registering_again_adds_a_version() {
    let ws = TempWorkspace::new();
    let first = run_registered(&ws, "heart-failure");
    assert_eq!(first["registered_model"], "heart-failure:1");
    let second = run_registered(&ws, "heart-failure");
    assert_eq!(second["registered_model"], "heart-failure:2");

    let runs = cli_json(
        &ws,
        &["runs", "list", "--experiment", "heart-failure", "--json"],
    );
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    // Six search trials, plus a VotingEnsemble child run when a mixture beat the best trial
    // and a StackEnsemble child run when one was built.
    assert!(
        runs.iter().all(|r| r["status"] == "completed"
            && r["trials"].as_u64().is_some_and(|n| (6..=8).contains(&n))),
        "{runs:?}"
    );

    let run_id = first["run_id"].as_str().unwrap();
    let detail = cli_json(&ws, &["runs", "show", run_id, "--json"]);
    let children = detail["children"].as_array().unwrap();
    assert_eq!(children.iter().filter(|c| !is_ensemble(c)).count(), 6);
    assert!(detail["fingerprint"]["sha256"].as_str().unwrap().len() == 64);
    let text = cli_text(&ws, &["runs", "show", run_id]);
    assert!(text.contains("best first by AUC_weighted"), "{text}");

    let models = cli_json(&ws, &["models", "list", "--json"]);
    assert_eq!(models[0]["name"], "heart-failure");
    assert_eq!(models[0]["version"], 2);
    let card = cli_text(&ws, &["models", "show", "heart-failure:1"]);
    assert!(
        card.contains("owner=cardio")
            && card.contains("algorithm:")
            && card.contains("ejection_fraction"),
        "{card}"
    );

    // A child run's trial, refit on all rows and registered under its own name.
    let child = detail["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"] == "completed" && !is_ensemble(c))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let text = cli_text(
        &ws,
        &[
            "models", "register", "--run", &child, "--name", "hf-child", "--tag", "k=v",
        ],
    );
    assert!(text.contains("registered model hf-child:1"), "{text}");
    let shown = cli_json(&ws, &["models", "show", "hf-child", "--json"]);
    let model_dir = shown["model"]["path"].as_str().unwrap().to_string();
    for file in [
        "model.bin",
        "score.py",
        "MODEL.md",
        "schema.json",
        "sample_input.json",
    ] {
        assert!(
            std::path::Path::new(&model_dir).join(file).exists(),
            "{file}"
        );
    }
    let stdout = succeed(autotab(&ws).args([
        "predict",
        "--model",
        "hf-child",
        "--data",
        "datasets/heart_failure.csv",
    ]));
    assert_eq!(stdout.lines().count(), 300);

    let text = cli_text(&ws, &["models", "delete", "hf-child:1"]);
    assert!(text.contains("deleted 1 version"), "{text}");
    let out = autotab(&ws)
        .args(["models", "show", "hf-child"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// A long run started in the background: the child, its stdout lines, and its run id.
fn start_long_run(
    ws: &TempWorkspace,
    experiment: &str,
) -> (
    std::process::Child,
    std::io::Lines<BufReader<std::process::ChildStdout>>,
    String,
) {
    let mut child = autotab(ws)
        .args([
            "run",
            "--data",
            "datasets/heart_failure.csv",
            "--label",
            "DEATH_EVENT",
        ])
        .args([
            "--timeout",
            "120",
            "--no-early-stopping",
            "--experiment",
            experiment,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let run_id = loop {
        let line = lines.next().expect("run id line").unwrap();
        if let Some(id) = line.strip_prefix("run: ") {
            break id.trim().to_string();
        }
    };
    (child, lines, run_id)
}

/// Waits until the run has recorded at least `n` child runs.
fn wait_for_children(ws: &TempWorkspace, run_id: &str, n: usize) {
    let started = Instant::now();
    loop {
        let detail = cli_json(ws, &["runs", "show", run_id, "--json"]);
        if detail["children"].as_array().map(|c| c.len()).unwrap_or(0) >= n {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no trials recorded"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_run_killed_mid_way_keeps_its_finished_child_runs() {
    let ws = TempWorkspace::new();
    let (mut child, lines, run_id) = start_long_run(&ws, "killed");
    wait_for_children(&ws, &run_id, 5);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    drop(lines);

    let runs = cli_json(&ws, &["runs", "list", "--experiment", "killed", "--json"]);
    assert_eq!(runs[0]["id"], run_id.as_str());
    assert_eq!(runs[0]["status"], "interrupted", "{runs}");
    let detail = cli_json(&ws, &["runs", "show", &run_id, "--json"]);
    let children = detail["children"].as_array().unwrap();
    assert!(children.len() >= 5);
    assert!(children
        .iter()
        .all(|c| c["status"] == "completed" || c["status"] == "failed"));
}

#[test]
fn ctrl_c_marks_the_run_canceled_and_keeps_its_trials() {
    let ws = TempWorkspace::new();
    let (mut child, lines, run_id) = start_long_run(&ws, "interrupted");
    wait_for_children(&ws, &run_id, 3);
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // Keep draining stdout so the child never blocks on a full pipe while it exits.
    lines.for_each(drop);
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(130));
    let detail = cli_json(&ws, &["runs", "show", &run_id, "--json"]);
    assert_eq!(
        detail["summary"]["status"], "canceled",
        "{}",
        detail["summary"]
    );
    assert!(detail["children"].as_array().unwrap().len() >= 3);
}

#[test]
fn read_only_commands_never_create_a_workspace() {
    let ws = TempWorkspace::new();
    let missing = ws.path().join("missing");
    let empty = ws.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let commands: [&[&str]; 6] = [
        &["runs", "list"],
        &["runs", "show", "run-x"],
        &["models", "list"],
        &["models", "show", "hf"],
        &["models", "delete", "hf"],
        &[
            "predict",
            "--model",
            "hf",
            "--data",
            "datasets/heart_failure.csv",
        ],
    ];
    for folder in [&missing, &empty] {
        for args in commands {
            let out = autotab(&ws)
                .arg("--workspace")
                .arg(folder)
                .args(args)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{args:?} succeeded");
            assert!(
                stderr.contains("no workspace at") && stderr.contains(&*folder.to_string_lossy()),
                "{args:?}: {stderr}"
            );
        }
    }
    assert!(
        !missing.exists(),
        "a read-only command created the workspace"
    );
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
}

#[test]
fn models_show_verifies_the_registered_bundle() {
    let ws = TempWorkspace::new();
    run_registered(&ws, "checked");
    let shown = cli_json(&ws, &["models", "show", "checked", "--json"]);
    let path = std::path::PathBuf::from(shown["model"]["path"].as_str().unwrap());
    let model = path.join("model.bin");
    let mut bytes = std::fs::read(&model).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&model, bytes).unwrap();
    let out = autotab(&ws)
        .args(["models", "show", "checked"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a damaged bundle was shown as fine");
    assert!(stderr.contains("model.bin"), "{stderr}");
}
