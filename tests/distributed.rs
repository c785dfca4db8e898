//! End-to-end tests of distributed runs on a real PostgreSQL server, through the real binary:
//! `autotab run --submit` queues a run, `autotab worker` processes claim its coordination and
//! its trials, one worker is killed with SIGKILL while it holds a trial, and the run still
//! completes with every finished trial recorded and the killed trial run again by another
//! worker; `autotab runs show` from another process sees the run while it runs.
//!
//! Like `tests/postgres.rs` they need `AUTOTAB_TEST_POSTGRES` (skipped without it unless
//! `AUTOTAB_REQUIRE_POSTGRES=1`). They never depend on which model the search picks.
#![cfg(all(feature = "postgres", unix))]

mod common;

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::postgres::{succeeded, PgWorkspace};

/// Sends `signal` to process `pid` with the shell's built-in kill (no procps needed).
fn signal(pid: u32, signal: &str) {
    let status = Command::new("sh")
        .args(["-c", &format!("kill {signal} {pid}")])
        .status()
        .expect("run sh -c kill");
    assert!(status.success(), "kill {signal} {pid} failed");
}

/// A worker process of `ws`, its output in `<files>/<name>.log`.
fn spawn_worker(ws: &PgWorkspace, name: &str, extra: &[&str]) -> Child {
    let log = std::fs::File::create(ws.files.path().join(format!("{name}.log"))).unwrap();
    ws.autotab()
        .args([
            "worker",
            "--name",
            name,
            "--lease",
            "2s",
            "--idle-exit",
            "4s",
        ])
        .args(extra)
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start a worker")
}

fn worker_log(ws: &PgWorkspace, name: &str) -> String {
    std::fs::read_to_string(ws.files.path().join(format!("{name}.log"))).unwrap_or_default()
}

/// Submits the heart-failure table with `budget` and 3 concurrent trials; returns the run id.
fn submit(ws: &PgWorkspace, budget: &str, data: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "run",
        "--data",
        data,
        "--label",
        "DEATH_EVENT",
        "--metric",
        "AUC_weighted",
        "--timeout",
        budget,
        "--max-concurrent-trials",
        "3",
        "--submit",
        "--json",
    ];
    args.extend_from_slice(extra);
    let submitted = ws.json(&args);
    assert_eq!(submitted["status"], "queued", "{submitted}");
    submitted["run_id"].as_str().unwrap().to_string()
}

/// The run's summary and children as `runs show --json` prints them.
fn show(ws: &PgWorkspace, run: &str) -> serde_json::Value {
    ws.json(&["runs", "show", run, "--json"])
}

fn status(shown: &serde_json::Value) -> &str {
    shown["summary"]["status"].as_str().unwrap_or("?")
}

/// A client on the test schema, to look at the queue's rows.
fn client(ws: &PgWorkspace) -> postgres::Client {
    postgres::Client::connect(&ws.url(), postgres::NoTls).expect("connect to the test schema")
}

#[test]
fn three_workers_finish_a_submitted_run_when_one_is_killed_mid_trial() {
    let Some(ws) = PgWorkspace::new("three_workers_finish_a_submitted_run") else {
        return;
    };
    // The whole budget is used (no early stopping), so the run is still going while the test
    // looks at it.
    let run = submit(
        &ws,
        "16s",
        "datasets/heart_failure.csv",
        &["--early-stopping", "off", "--register", "hf-distributed"],
    );
    assert_eq!(status(&show(&ws, &run)), "queued");

    let mut workers: Vec<(String, Child)> = ["w1", "w2", "w3"]
        .iter()
        .map(|name| (name.to_string(), spawn_worker(&ws, name, &[])))
        .collect();
    let mut db = client(&ws);

    // Kill a worker that does not coordinate the run while it holds a trial: freeze it, look
    // at its claims, and kill it if it holds a running trial (otherwise let it go on and look
    // again).
    let coordinator = loop {
        let row = db
            .query_opt(
                "SELECT worker FROM submissions WHERE run_id = $1 AND trials_open",
                &[&run],
            )
            .unwrap();
        if let Some(row) = row {
            break row.get::<_, String>(0);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let victim = workers.iter().position(|(n, _)| *n != coordinator).unwrap();
    let victim_name = workers[victim].0.clone();
    let pid = workers[victim].1.id();
    let give_up = Instant::now() + Duration::from_secs(6);
    let killed_trial: i64 = loop {
        assert!(
            Instant::now() < give_up,
            "{victim_name} never held a running trial:\n{}",
            worker_log(&ws, &victim_name)
        );
        signal(pid, "-STOP");
        let held = db
            .query_opt(
                "SELECT idx FROM trial_queue WHERE run_id = $1 AND worker = $2 \
                 AND state = 'running'",
                &[&run, &victim_name],
            )
            .unwrap();
        if let Some(row) = held {
            signal(pid, "-KILL");
            let _ = workers[victim].1.wait();
            break row.get(0);
        }
        signal(pid, "-CONT");
        std::thread::sleep(Duration::from_millis(20));
    };
    workers.remove(victim);

    // The leaderboard is visible from another process while the run goes on.
    let live = show(&ws, &run);
    assert_eq!(status(&live), "running", "{live}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while show(&ws, &run)["children"].as_array().map_or(0, Vec::len) == 0 {
        assert!(Instant::now() < deadline, "no trial recorded while running");
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = ws.text(&["runs", "show", &run]);
    assert!(text.contains("status:     running"), "{text}");

    for (name, mut child) in workers {
        let exit = child.wait().unwrap();
        assert!(exit.success(), "{name} failed:\n{}", worker_log(&ws, &name));
    }
    let shown = show(&ws, &run);
    assert_eq!(status(&shown), "completed", "{shown}");

    // The killed trial ran again elsewhere and finished.
    let row = db
        .query_one(
            "SELECT state, worker, attempts FROM trial_queue WHERE run_id = $1 AND idx = $2",
            &[&run, &killed_trial],
        )
        .unwrap();
    let (state, worker, attempts): (String, Option<String>, i64) =
        (row.get(0), row.get(1), row.get(2));
    assert_eq!(state, "done", "trial {killed_trial} was not run again");
    assert_ne!(worker.as_deref(), Some(victim_name.as_str()));
    assert!(
        attempts >= 2,
        "trial {killed_trial} claimed {attempts} time(s)"
    );
    let logs: String = ["w1", "w2", "w3"]
        .iter()
        .filter(|n| **n != victim_name)
        .map(|n| worker_log(&ws, n))
        .collect();
    assert!(
        logs.contains(&format!("trial {killed_trial}: ")) && logs.contains("(claim 2"),
        "no worker says it re-claimed trial {killed_trial}:\n{logs}"
    );

    // No finished trial is lost: every trial done in the queue is a child run.
    let done: BTreeSet<i64> = db
        .query(
            "SELECT idx FROM trial_queue WHERE run_id = $1 AND state = 'done'",
            &[&run],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let children: BTreeSet<i64> = shown["children"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["algorithm"] != "VotingEnsemble" && c["algorithm"] != "StackEnsemble")
        .filter_map(|c| c["index"].as_i64())
        .collect();
    assert!(done.len() >= 3, "only {} trials finished", done.len());
    assert!(
        done.is_subset(&children),
        "finished trials missing from the run: {:?}",
        done.difference(&children).collect::<Vec<_>>()
    );
    assert!(children.contains(&killed_trial));

    // The coordinator registered the model; another process scores with it.
    let models = ws.json(&["models", "list", "--json"]);
    assert!(models.to_string().contains("hf-distributed"), "{models}");
    let out = ws
        .autotab()
        .args([
            "predict",
            "--model",
            "hf-distributed",
            "--data",
            "datasets/heart_failure.csv",
        ])
        .output()
        .unwrap();
    let predictions = succeeded(&["predict"], &out);
    assert!(predictions.lines().count() > 299, "{predictions}");
}

#[test]
fn a_run_whose_data_changed_after_submission_fails_with_the_reason() {
    let Some(ws) = PgWorkspace::new("a_run_whose_data_changed_after_submission") else {
        return;
    };
    let data = ws.files.path().join("heart.csv");
    std::fs::copy("datasets/heart_failure.csv", &data).unwrap();
    let run = submit(&ws, "5s", data.to_str().unwrap(), &[]);
    // Another copy of the table, with its last row left out, now has the submitted name.
    let text = std::fs::read_to_string(&data).unwrap();
    let shorter: Vec<&str> = text.lines().collect();
    std::fs::write(&data, shorter[..shorter.len() - 1].join("\n")).unwrap();
    let mut worker = spawn_worker(&ws, "w1", &[]);
    assert!(
        worker.wait().unwrap().success(),
        "{}",
        worker_log(&ws, "w1")
    );
    let shown = show(&ws, &run);
    assert_eq!(status(&shown), "failed", "{shown}");
    let error = shown["outcome"]["error"].to_string();
    assert!(error.contains("not what was submitted"), "{error}");
    assert!(error.contains("heart.csv"), "{error}");
    assert!(worker_log(&ws, "w1").contains("failed"));
}

#[test]
fn submit_and_worker_refuse_what_they_cannot_do() {
    let Some(ws) = PgWorkspace::new("submit_and_worker_refuse") else {
        return;
    };
    // A missing label column fails at submission, naming it.
    let out = ws
        .autotab()
        .args([
            "run",
            "--data",
            "datasets/heart_failure.csv",
            "--label",
            "NO_SUCH_COLUMN",
            "--submit",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("NO_SUCH_COLUMN"), "{stderr}");

    // A folder workspace has no queue: --submit and worker say what they need.
    let folder = ws.files.path().join("folder-ws");
    for args in [
        vec![
            "run",
            "--data",
            "datasets/heart_failure.csv",
            "--label",
            "DEATH_EVENT",
            "--submit",
        ],
        vec!["worker", "--idle-exit", "1s"],
    ] {
        let out = common::autotab_in(&folder)
            .env_remove("AUTOTAB_ARTIFACTS")
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("PostgreSQL workspace"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn a_run_whose_coordinator_is_killed_is_taken_over_by_another_worker() {
    let Some(ws) = PgWorkspace::new("a_run_whose_coordinator_is_killed") else {
        return;
    };
    let run = submit(
        &ws,
        "14s",
        "datasets/heart_failure.csv",
        &["--early-stopping", "off", "--register", "hf-takeover"],
    );
    let mut db = client(&ws);
    // w1 alone first, so that it coordinates; then two more workers.
    let mut first = spawn_worker(&ws, "w1", &[]);
    let give_up = Instant::now() + Duration::from_secs(20);
    while db
        .query_opt(
            "SELECT 1 FROM submissions WHERE run_id = $1 AND worker = 'w1' AND trials_open",
            &[&run],
        )
        .unwrap()
        .is_none()
    {
        assert!(Instant::now() < give_up, "w1 never coordinated the run");
        std::thread::sleep(Duration::from_millis(20));
    }
    let others: Vec<Child> = ["w2", "w3"]
        .iter()
        .map(|name| spawn_worker(&ws, name, &[]))
        .collect();
    // Kill the coordinator once trials are recorded.
    let recorded = |db: &mut postgres::Client| -> i64 {
        db.query_one("SELECT COUNT(*) FROM runs WHERE parent_id = $1", &[&run])
            .unwrap()
            .get(0)
    };
    while recorded(&mut db) < 5 {
        assert!(Instant::now() < give_up, "no trials recorded");
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(first.id(), "-KILL");
    let _ = first.wait();
    let before = recorded(&mut db);

    for (name, mut child) in ["w2", "w3"].iter().zip(others) {
        let exit = child.wait().unwrap();
        assert!(exit.success(), "{name} failed:\n{}", worker_log(&ws, name));
    }
    let shown = show(&ws, &run);
    assert_eq!(status(&shown), "completed", "{shown}");
    let children = shown["children"].as_array().unwrap().len() as i64;
    assert!(
        children > before,
        "{children} child runs after the takeover, {before} before"
    );
    let row = db
        .query_one(
            "SELECT worker, attempts FROM submissions WHERE run_id = $1",
            &[&run],
        )
        .unwrap();
    let (worker, attempts): (String, i64) = (row.get(0), row.get(1));
    assert_ne!(worker, "w1");
    assert_eq!(attempts, 2);
    let log: Vec<String> = db
        .query(
            "SELECT line FROM run_logs WHERE run_id = $1 ORDER BY id",
            &[&run],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        log.iter().any(|l| l.starts_with("taken over by worker")),
        "{log:#?}"
    );
    assert!(
        log.iter().any(|l| l.starts_with("resumed the search")),
        "{log:#?}"
    );
    let models = ws.json(&["models", "list", "--json"]);
    assert!(models.to_string().contains("hf-takeover"), "{models}");
}
