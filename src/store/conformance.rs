//! The behaviour every [`Store`] must have, written once against `&dyn Store`.
//!
//! Each public function is one behaviour and takes `open`, which connects to one fresh,
//! empty store (every call a new connection to the same store, as another process would
//! make). An implementation runs the whole suite with [`suite!`]:
//!
//! ```ignore
//! fn fresh(test: &str) -> Option<(Guard, impl Fn() -> Box<dyn Store> + Sync)> { ... }
//! crate::store::conformance::suite!(fresh);
//! ```
//!
//! `fresh` returns `None` (after printing why) when the store under test is not available
//! and not required: the SQLite store always is; the PostgreSQL store needs a server
//! (`AUTOTAB_TEST_POSTGRES`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;

use super::records::{
    ChildRunRecord, DataFingerprint, DatasetRegistration, NewDataset, NewModel, NewRun, RunId,
    RunStatus,
};
use super::{Liveness, ProcessOwner, Store};

/// Connects to the store under test.
pub(crate) type Open<'a> = &'a (dyn Fn() -> Box<dyn Store> + Sync);

/// Expands to one `#[test]` per behaviour of the suite, each calling `$fresh(test name)` for a
/// `(guard, open)` pair: a fresh store kept alive by `guard`, and how to connect to it (or
/// `None`: the test is skipped).
macro_rules! suite {
    ($fresh:path) => {
        $crate::store::conformance::suite!(@tests $fresh;
            run_lifecycle,
            unknown_runs_are_refused,
            records_survive_reopening,
            stale_runs_of_gone_owners_are_interrupted,
            child_runs_logged_from_many_threads,
            two_connections_see_each_others_runs,
            experiments_count_their_runs,
            model_versions_count_up,
            models_resolve_by_name_and_version,
            deleted_versions_are_never_reused,
            refused_registration_uses_no_version,
            concurrent_registrations_get_distinct_versions,
            dataset_versions_count_up,
            datasets_resolve_by_name_and_version,
            same_dataset_registered_again_keeps_its_version,
            concurrent_dataset_registrations_get_distinct_versions
        );
    };
    (@tests $fresh:path; $($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                let Some((_guard, open)) = $fresh(stringify!($name)) else {
                    return;
                };
                $crate::store::conformance::$name(&open);
            }
        )*
    };
}
pub(crate) use suite;

/// A data fingerprint for test runs.
pub(crate) fn fingerprint() -> DataFingerprint {
    DataFingerprint {
        sha256: "ab".repeat(32),
        rows: 299,
        columns: 13,
        schema_json: serde_json::json!({"columns": [{"name": "age", "kind": "numeric"}]}),
    }
}

/// A completed child run `index` scoring `auc`, for test runs.
pub(crate) fn trial(index: usize, auc: f64) -> ChildRunRecord {
    let started = Utc::now();
    ChildRunRecord {
        index,
        algorithm: "LogisticRegression".to_string(),
        params: BTreeMap::from([("c".to_string(), serde_json::json!(0.5 + index as f64))]),
        status: RunStatus::Completed,
        error: None,
        metrics: BTreeMap::from([("AUC_weighted".to_string(), auc)]),
        fold_metrics: BTreeMap::from([("AUC_weighted".to_string(), vec![auc - 0.01, auc + 0.01])]),
        started,
        ended: started + chrono::Duration::milliseconds(1500),
    }
}

/// Starts a run of `experiment` with an empty spec, owned by `owner`.
fn start(store: &dyn Store, experiment: &str, owner: &ProcessOwner) -> RunId {
    store
        .start_run(&NewRun {
            experiment,
            spec: &serde_json::json!({}),
            fingerprint: &fingerprint(),
            owner,
        })
        .unwrap()
}

fn err_text<T: std::fmt::Debug>(r: crate::Result<T>) -> String {
    r.unwrap_err().to_string()
}

/// Registers a version of `name` whose artifact key is `models/<name>/<version>`.
fn register(store: &dyn Store, name: &str) -> u32 {
    let tags = BTreeMap::new();
    let model = NewModel {
        name,
        run_id: None,
        description: None,
        tags: &tags,
        metrics: &serde_json::json!({}),
    };
    store
        .register_model(&model, &mut |v| Ok(format!("models/{name}/{v}")))
        .unwrap()
        .version
}

/// A parent run with params, logs, three trials (one failed), a metric and an outcome.
pub(crate) fn run_lifecycle(open: Open<'_>) {
    let store = open();
    let spec = serde_json::json!({"label": "DEATH_EVENT", "metric": "AUC_weighted"});
    let owner = ProcessOwner::current();
    let run = store
        .start_run(&NewRun {
            experiment: "heart-failure",
            spec: &spec,
            fingerprint: &fingerprint(),
            owner: &owner,
        })
        .unwrap();
    assert!(run.as_str().starts_with("run-"), "{run}");
    store
        .log_param(&run, "cv_folds", &serde_json::json!(5))
        .unwrap();
    store.append_log(&run, "featurized 13 columns").unwrap();
    store.append_log(&run, "trial 0 done").unwrap();

    let t0 = store.log_child_run(&run, &trial(0, 0.81)).unwrap();
    assert_eq!(t0.as_str(), format!("{run}-t0"));
    store.log_child_run(&run, &trial(1, 0.88)).unwrap();
    let mut failed = trial(2, f64::NAN);
    failed.status = RunStatus::Failed;
    failed.error = Some("singular matrix".to_string());
    store.log_child_run(&run, &failed).unwrap();

    let err = err_text(store.log_child_run(&run, &trial(1, 0.5)));
    assert!(err.contains("already recorded"), "{err}");
    let err = err_text(store.log_child_run(&t0, &trial(9, 0.5)));
    assert!(err.contains("is a child run"), "{err}");

    store.log_metric(&run, "best_AUC_weighted", 0.5).unwrap();
    store.log_metric(&run, "best_AUC_weighted", 0.88).unwrap();
    let outcome = serde_json::json!({"best_trial": 1});
    store
        .finish_run(&run, RunStatus::Completed, &outcome)
        .unwrap();
    let err = err_text(store.finish_run(&run, RunStatus::Failed, &outcome));
    assert!(err.contains("already completed"), "{err}");

    let runs = store.list_runs(Some("heart-failure")).unwrap();
    assert_eq!(runs.len(), 1);
    let s = &runs[0];
    assert_eq!(
        (s.status, s.trials, s.failed_trials),
        (RunStatus::Completed, 3, 1)
    );
    assert_eq!(s.metrics["best_AUC_weighted"], 0.88);
    assert!(s.ended.is_some() && s.duration_secs.is_some());

    let detail = store.get_run(run.as_str()).unwrap();
    assert_eq!(detail.spec.as_ref(), Some(&spec));
    assert_eq!(detail.fingerprint, Some(fingerprint()));
    assert_eq!(detail.outcome, Some(outcome));
    assert_eq!(detail.params["cv_folds"], serde_json::json!(5));
    assert_eq!(detail.process, Some((owner.host.clone(), owner.pid)));
    assert_eq!(detail.children.len(), 3);
    let c1 = &detail.children[1];
    assert_eq!(c1.params["c"], serde_json::json!(1.5));
    assert_eq!(c1.fold_metrics["AUC_weighted"], vec![0.87, 0.89]);
    assert_eq!(c1.duration_secs, Some(1.5));
    assert!(detail.children[2].metrics["AUC_weighted"].is_nan());
    assert_eq!(detail.children[2].error.as_deref(), Some("singular matrix"));
    assert_eq!(detail.children[2].status, RunStatus::Failed);
    let board = |higher| -> Vec<usize> {
        detail
            .leaderboard("AUC_weighted", higher)
            .iter()
            .map(|c| c.index)
            .collect()
    };
    assert_eq!(board(true), vec![1, 0, 2]);
    assert_eq!(board(false), vec![0, 1, 2]);

    let child = store.get_run(t0.as_str()).unwrap();
    assert_eq!(child.parent.as_deref(), Some(run.as_str()));
    assert_eq!(child.algorithm.as_deref(), Some("LogisticRegression"));
    assert!(child.children.is_empty() && child.spec.is_none());
    assert_eq!(child.summary.metrics["AUC_weighted"], 0.81);

    assert_eq!(
        store.run_log(run.as_str()).unwrap(),
        vec!["featurized 13 columns", "trial 0 done"]
    );
    let err = err_text(store.list_runs(Some("other")));
    assert!(
        err.contains("no experiment named 'other'") && err.contains("heart-failure"),
        "{err}"
    );
}

/// Every write and read naming a run the store does not hold says so.
pub(crate) fn unknown_runs_are_refused(open: Open<'_>) {
    let store = open();
    let missing = RunId::parse("run-nope");
    let errors = [
        err_text(store.get_run("run-nope")),
        err_text(store.run_log("run-nope")),
        err_text(store.log_metric(&missing, "m", 1.0)),
        err_text(store.log_param(&missing, "p", &serde_json::json!(1))),
        err_text(store.append_log(&missing, "line")),
        err_text(store.finish_run(&missing, RunStatus::Failed, &serde_json::json!({}))),
        err_text(store.log_child_run(&missing, &trial(0, 0.5))),
    ];
    for err in errors {
        assert!(err.contains("no run with id 'run-nope'"), "{err}");
    }
    let err = err_text(store.list_runs(Some("e")));
    assert!(err.contains("experiments: none yet"), "{err}");
    assert!(store.list_runs(None).unwrap().is_empty());
}

/// What one connection wrote is there for the next one.
pub(crate) fn records_survive_reopening(open: Open<'_>) {
    let run = {
        let store = open();
        let run = start(&*store, "e", &ProcessOwner::current());
        for i in 0..4 {
            store
                .log_child_run(&run, &trial(i, 0.7 + i as f64 / 100.0))
                .unwrap();
        }
        run
    };
    let store = open();
    let detail = store.get_run(run.as_str()).unwrap();
    assert_eq!(detail.children.len(), 4);
    assert_eq!(detail.summary.status, RunStatus::Running);
    assert_eq!(store.list_runs(None).unwrap().len(), 1);
}

/// Running runs whose owner is gone become `interrupted`, with their trials kept; runs of a
/// live owner or of another host stay `running`.
pub(crate) fn stale_runs_of_gone_owners_are_interrupted(open: Open<'_>) {
    let store = open();
    let alive_owner = ProcessOwner::current();
    let dead_owner = ProcessOwner {
        pid: u32::MAX - 1,
        ..alive_owner.clone()
    };
    let other_host = ProcessOwner {
        host: format!("{}-elsewhere", alive_owner.host),
        pid: u32::MAX - 1,
        ..alive_owner.clone()
    };
    let dead = start(&*store, "e", &dead_owner);
    store.log_child_run(&dead, &trial(0, 0.9)).unwrap();
    let alive = start(&*store, "e", &alive_owner);
    let elsewhere = start(&*store, "e", &other_host);
    let finished = start(&*store, "e", &dead_owner);
    store
        .finish_run(&finished, RunStatus::Completed, &serde_json::json!({}))
        .unwrap();

    let is_gone = |o: &ProcessOwner| o.liveness() == Liveness::Dead;
    let interrupted = store.interrupt_stale_runs(&is_gone).unwrap();
    assert_eq!(interrupted, vec![dead.clone()]);
    assert!(store.interrupt_stale_runs(&is_gone).unwrap().is_empty());

    let d = store.get_run(dead.as_str()).unwrap();
    assert_eq!(d.summary.status, RunStatus::Interrupted);
    assert!(d.summary.ended.is_some() && d.error.is_some());
    assert_eq!(d.children.len(), 1);
    assert_eq!(d.children[0].status, RunStatus::Completed);
    let status = |id: &RunId| store.get_run(id.as_str()).unwrap().summary.status;
    assert_eq!(status(&alive), RunStatus::Running);
    assert_eq!(status(&elsewhere), RunStatus::Running);
    assert_eq!(status(&finished), RunStatus::Completed);
    assert!(store
        .finish_run(&dead, RunStatus::Completed, &serde_json::json!({}))
        .is_err());
}

/// One connection shared by four threads logging 25 trials each loses none.
pub(crate) fn child_runs_logged_from_many_threads(open: Open<'_>) {
    let store = open();
    let run = start(&*store, "e", &ProcessOwner::current());
    std::thread::scope(|s| {
        for t in 0..4 {
            let store = &*store;
            let run = &run;
            s.spawn(move || {
                for i in 0..25 {
                    store.log_child_run(run, &trial(t * 25 + i, 0.5)).unwrap();
                }
            });
        }
    });
    let detail = store.get_run(run.as_str()).unwrap();
    let indices: Vec<usize> = detail.children.iter().map(|c| c.index).collect();
    assert_eq!(indices, (0..100).collect::<Vec<_>>());
}

/// Two connections (two processes) write to the same run and see each other's writes.
pub(crate) fn two_connections_see_each_others_runs(open: Open<'_>) {
    let (a, b) = (open(), open());
    let run = start(&*a, "shared", &ProcessOwner::current());
    b.log_child_run(&run, &trial(0, 0.6)).unwrap();
    a.log_child_run(&run, &trial(1, 0.7)).unwrap();
    b.append_log(&run, "from b").unwrap();
    a.finish_run(&run, RunStatus::Completed, &serde_json::json!({}))
        .unwrap();
    let seen = b.list_runs(Some("shared")).unwrap();
    assert_eq!((seen[0].status, seen[0].trials), (RunStatus::Completed, 2));
    assert_eq!(a.run_log(run.as_str()).unwrap(), vec!["from b"]);
}

/// Experiments are listed by name with their count of parent runs (not trials).
pub(crate) fn experiments_count_their_runs(open: Open<'_>) {
    let store = open();
    let owner = ProcessOwner::current();
    let run = start(&*store, "zeta", &owner);
    store.log_child_run(&run, &trial(0, 0.5)).unwrap();
    start(&*store, "alpha", &owner);
    start(&*store, "zeta", &owner);
    let exps: Vec<(String, usize, bool)> = store
        .list_experiments()
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.runs, e.last_run.is_some()))
        .collect();
    assert_eq!(
        exps,
        vec![("alpha".into(), 1, true), ("zeta".into(), 2, true)]
    );
    let runs = store.list_runs(None).unwrap();
    assert_eq!(runs.len(), 3);
    assert!(runs.windows(2).all(|w| w[0].started >= w[1].started));
}

/// Versions count from 1 per name; the record holds what was given and the published key.
pub(crate) fn model_versions_count_up(open: Open<'_>) {
    let store = open();
    let run = start(&*store, "e", &ProcessOwner::current());
    let tags = BTreeMap::from([("owner".to_string(), "cardio".to_string())]);
    let metrics = serde_json::json!({"AUC_weighted": 0.91});
    let mut published = Vec::new();
    let v1 = store
        .register_model(
            &NewModel {
                name: "heart-failure",
                run_id: Some(run.as_str()),
                description: Some("first"),
                tags: &tags,
                metrics: &metrics,
            },
            &mut |v| {
                published.push(v);
                Ok(format!("models/heart-failure/{v}"))
            },
        )
        .unwrap();
    assert_eq!(published, vec![1]);
    assert_eq!(v1.artifact, "models/heart-failure/1");
    let later: Vec<u32> = (0..2).map(|_| register(&*store, "heart-failure")).collect();
    assert_eq!(later, vec![2, 3]);
    assert_eq!(register(&*store, "churn"), 1);

    let versions = store.model_versions("heart-failure").unwrap();
    assert_eq!(versions.len(), 3);
    assert_eq!(versions[0], v1);
    assert_eq!(versions[0].tags["owner"], "cardio");
    assert_eq!(versions[0].run_id.as_deref(), Some(run.as_str()));
    assert_eq!(versions[0].description.as_deref(), Some("first"));
    assert_eq!(versions[0].metrics, metrics);
    assert_eq!(versions[2].artifact, "models/heart-failure/3");
    let latest: Vec<(String, u32)> = store
        .list_models()
        .unwrap()
        .into_iter()
        .map(|m| (m.name, m.version))
        .collect();
    assert_eq!(
        latest,
        vec![("churn".to_string(), 1), ("heart-failure".to_string(), 3)]
    );
}

/// `resolve_model` finds the latest or a given version, and names what exists otherwise.
pub(crate) fn models_resolve_by_name_and_version(open: Open<'_>) {
    let store = open();
    for _ in 0..3 {
        register(&*store, "hf");
    }
    assert_eq!(store.resolve_model("hf", None).unwrap().version, 3);
    assert_eq!(store.resolve_model("hf", Some(2)).unwrap().version, 2);
    let err = err_text(store.resolve_model("hf", Some(7)));
    assert!(
        err.contains("no version 7") && err.contains("1, 2, 3"),
        "{err}"
    );
    let err = err_text(store.resolve_model("heart", None));
    assert!(
        err.contains("no registered model named 'heart'") && err.contains("registered: hf"),
        "{err}"
    );
}

/// Deleting a version or a name removes the rows; numbers keep counting up.
pub(crate) fn deleted_versions_are_never_reused(open: Open<'_>) {
    let store = open();
    for _ in 0..3 {
        register(&*store, "hf");
    }
    let gone = store.delete_models("hf", Some(3)).unwrap();
    assert_eq!(gone.iter().map(|m| m.version).collect::<Vec<_>>(), vec![3]);
    assert_eq!(gone[0].artifact, "models/hf/3");
    assert_eq!(store.resolve_model("hf", None).unwrap().version, 2);
    let err = err_text(store.delete_models("hf", Some(3)));
    assert!(err.contains("no version 3"), "{err}");
    assert_eq!(register(&*store, "hf"), 4);
    let gone = store.delete_models("hf", None).unwrap();
    assert_eq!(
        gone.iter().map(|m| m.version).collect::<Vec<_>>(),
        vec![1, 2, 4]
    );
    assert!(store.list_models().unwrap().is_empty());
    let err = err_text(store.delete_models("hf", None));
    assert!(err.contains("no registered model named 'hf'"), "{err}");
    assert_eq!(register(&*store, "hf"), 5);
}

/// A registration refused (unknown run) or whose publishing fails leaves no row and uses no
/// version number.
pub(crate) fn refused_registration_uses_no_version(open: Open<'_>) {
    let store = open();
    let tags = BTreeMap::new();
    let metrics = serde_json::json!({});
    let model = NewModel {
        name: "m",
        run_id: Some("run-unknown"),
        description: None,
        tags: &tags,
        metrics: &metrics,
    };
    let mut called = false;
    let err = err_text(store.register_model(&model, &mut |_| {
        called = true;
        Ok("models/m/1".to_string())
    }));
    assert!(err.contains("run-unknown"), "{err}");
    assert!(!called, "nothing is published for a refused registration");

    let model = NewModel {
        run_id: None,
        ..model
    };
    let err = err_text(store.register_model(&model, &mut |_| {
        Err(crate::AutotabError::Store("disk full".to_string()))
    }));
    assert!(err.contains("disk full"), "{err}");
    assert!(store.list_models().unwrap().is_empty());
    assert_eq!(register(&*store, "m"), 1);
}

/// Six connections registering four versions each at once get 24 distinct versions.
pub(crate) fn concurrent_registrations_get_distinct_versions(open: Open<'_>) {
    let versions: Vec<u32> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                s.spawn(|| {
                    let store = open();
                    (0..4).map(|_| register(&*store, "hf")).collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let distinct: BTreeSet<u32> = versions.iter().copied().collect();
    assert_eq!(distinct, (1..=24).collect());
    let stored: Vec<u32> = open()
        .model_versions("hf")
        .unwrap()
        .iter()
        .map(|m| m.version)
        .collect();
    assert_eq!(stored, (1..=24).collect::<Vec<_>>());
}

/// Registers dataset `name` at `location` with content hash `sha256`.
fn register_data(
    store: &dyn Store,
    name: &str,
    location: &str,
    sha256: &str,
) -> DatasetRegistration {
    let tags = BTreeMap::from([("source".to_string(), "uci".to_string())]);
    store
        .register_dataset(&NewDataset {
            name,
            location,
            format: "csv",
            schema: &serde_json::json!([{"name": "age", "kind": "numeric"}]),
            rows: 299,
            columns: 13,
            sha256,
            description: Some("heart failure records"),
            tags: &tags,
        })
        .unwrap()
}

/// Dataset versions count from 1 per name; the record holds what was given.
pub(crate) fn dataset_versions_count_up(open: Open<'_>) {
    let store = open();
    let first = register_data(&*store, "hf", "/data/hf.csv", &"a".repeat(64));
    assert!(first.created);
    let r = &first.record;
    assert_eq!((r.name.as_str(), r.version), ("hf", 1));
    assert_eq!(
        (r.location.as_str(), r.format.as_str()),
        ("/data/hf.csv", "csv")
    );
    assert_eq!((r.rows, r.columns), (299, 13));
    assert_eq!(r.tags["source"], "uci");
    assert_eq!(r.description.as_deref(), Some("heart failure records"));
    assert_eq!(r.schema[0]["kind"], "numeric");
    let v2 = register_data(&*store, "hf", "/data/hf.csv", &"b".repeat(64));
    let v3 = register_data(&*store, "hf", "/data/hf2.csv", &"b".repeat(64));
    assert_eq!((v2.record.version, v3.record.version), (2, 3));
    assert!(v2.created && v3.created);
    assert_eq!(
        register_data(&*store, "churn", "/c.csv", "c")
            .record
            .version,
        1
    );

    let versions = store.dataset_versions("hf").unwrap();
    assert_eq!(
        versions.iter().map(|d| d.version).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(versions[0], first.record);
    let latest: Vec<(String, u32)> = open()
        .list_datasets()
        .unwrap()
        .into_iter()
        .map(|d| (d.name, d.version))
        .collect();
    assert_eq!(
        latest,
        vec![("churn".to_string(), 1), ("hf".to_string(), 3)]
    );
}

/// `resolve_dataset` finds the latest or a given version, and names what exists otherwise.
pub(crate) fn datasets_resolve_by_name_and_version(open: Open<'_>) {
    let store = open();
    assert!(store.list_datasets().unwrap().is_empty());
    let err = err_text(store.resolve_dataset("hf", None));
    assert!(
        err.contains("no registered dataset named 'hf'") && err.contains("none yet"),
        "{err}"
    );
    for hash in ["a", "b", "c"] {
        register_data(&*store, "hf", "/data/hf.csv", hash);
    }
    let latest = store.resolve_dataset("hf", None).unwrap();
    assert_eq!((latest.version, latest.sha256.as_str()), (3, "c"));
    assert_eq!(store.resolve_dataset("hf", Some(2)).unwrap().sha256, "b");
    let err = err_text(store.resolve_dataset("hf", Some(7)));
    assert!(
        err.contains("dataset 'hf' has no version 7") && err.contains("1, 2, 3"),
        "{err}"
    );
    let err = err_text(store.dataset_versions("heart"));
    assert!(
        err.contains("no registered dataset named 'heart'") && err.contains("registered: hf"),
        "{err}"
    );
    assert!(
        store.list_models().unwrap().is_empty(),
        "datasets are not models"
    );
}

/// The same location and bytes as the latest version return that version; a change of
/// either makes a new one, and going back to older bytes is a new version too.
pub(crate) fn same_dataset_registered_again_keeps_its_version(open: Open<'_>) {
    let store = open();
    let first = register_data(&*store, "hf", "/data/hf.csv", "a");
    let again = register_data(&*store, "hf", "/data/hf.csv", "a");
    assert!(!again.created);
    assert_eq!(again.record, first.record);
    assert_eq!(
        register_data(&*store, "hf", "/data/hf.csv", "b")
            .record
            .version,
        2
    );
    let back = register_data(&*store, "hf", "/data/hf.csv", "a");
    assert!(back.created);
    assert_eq!(back.record.version, 3);
    assert_eq!(store.dataset_versions("hf").unwrap().len(), 3);
}

/// Two connections (threads) registering different bytes of one name at once, many times,
/// get distinct versions and lose none.
pub(crate) fn concurrent_dataset_registrations_get_distinct_versions(open: Open<'_>) {
    let versions: Vec<u32> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|t| {
                s.spawn(move || {
                    let store = open();
                    (0..10)
                        .map(|i| {
                            let hash = format!("{t}-{i}");
                            let r = register_data(&*store, "hf", "/data/hf.csv", &hash);
                            assert!(r.created);
                            r.record.version
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let distinct: BTreeSet<u32> = versions.iter().copied().collect();
    assert_eq!(distinct, (1..=20).collect());
    let stored = open().dataset_versions("hf").unwrap();
    assert_eq!(stored.len(), 20);
}
