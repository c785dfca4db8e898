//! The store conformance suite on SQLite, and what is particular to the SQLite file.

use std::path::Path;

use super::*;

/// A fresh store in a temporary folder, and how to connect to it (always available).
fn fresh(_test: &str) -> Option<(tempfile::TempDir, impl Fn() -> Box<dyn Store> + Sync)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let open = move || -> Box<dyn Store> { Box::new(SqliteStore::open(&path).unwrap()) };
    Some((dir, open))
}

crate::store::conformance::suite!(fresh);

/// A raw connection to the store, to fake states the API cannot produce.
fn raw(dir: &Path) -> Connection {
    Connection::open(dir.join(SqliteStore::FILE_NAME)).expect("raw connection")
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(dir.path()).unwrap());
    raw(dir.path())
        .execute("UPDATE schema_version SET version = 99", [])
        .unwrap();
    let err = SqliteStore::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("newer autotab") && err.contains("99"), "{err}");
}

#[test]
fn foreign_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    raw(dir.path())
        .execute("CREATE TABLE customers (id INTEGER)", [])
        .unwrap();
    let err = SqliteStore::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("not an autotab store"), "{err}");
}

#[test]
fn open_existing_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let err = SqliteStore::open_existing(dir.path())
        .unwrap_err()
        .to_string();
    assert!(err.contains("store.sqlite"), "{err}");
    assert!(!dir.path().join(SqliteStore::FILE_NAME).exists());
    drop(SqliteStore::open(dir.path()).unwrap());
    let store = SqliteStore::open_existing(dir.path()).unwrap();
    assert!(store.list_runs(None).unwrap().is_empty());
}

#[test]
fn store_is_in_wal_mode_and_model_paths_keep_the_v1_layout() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let tags = std::collections::BTreeMap::new();
    let model = NewModel {
        name: "hf",
        run_id: None,
        description: None,
        tags: &tags,
        metrics: &serde_json::json!({}),
    };
    store
        .register_model(&model, &mut |v| Ok(format!("models/hf/{v}")))
        .unwrap();
    let conn = raw(dir.path());
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let path: String = conn
        .query_row("SELECT path FROM models", [], |r| r.get(0))
        .unwrap();
    assert_eq!(path, "artifacts/models/hf/1");
    assert_eq!(
        store.model_versions("hf").unwrap()[0].artifact,
        "models/hf/1"
    );
}

#[test]
fn sql_errors_say_what_failed() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    raw(dir.path()).execute("DROP TABLE run_logs", []).unwrap();
    let run = store
        .start_run(&NewRun {
            experiment: "e",
            spec: &serde_json::json!({}),
            fingerprint: &crate::store::DataFingerprint {
                sha256: String::new(),
                rows: 1,
                columns: 1,
                schema_json: serde_json::json!({}),
            },
            owner: &ProcessOwner::current(),
        })
        .unwrap();
    let err = store.append_log(&run, "line").unwrap_err();
    assert!(matches!(err, crate::AutotabError::Store(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("cannot append to the run's log") && text.contains("run_logs"),
        "{text}"
    );
}

#[test]
fn version_1_store_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = raw(dir.path());
        conn.execute_batch(SCHEMA_V1).unwrap();
        conn.execute("INSERT INTO schema_version (version) VALUES (1)", [])
            .unwrap();
        conn.execute(
            "INSERT INTO experiments (name, created) VALUES ('old', '2026-01-01T00:00:00.000Z')",
            [],
        )
        .unwrap();
    }
    let store = SqliteStore::open_existing(dir.path()).unwrap();
    assert_eq!(store.list_experiments().unwrap()[0].name, "old");
    assert!(store.list_datasets().unwrap().is_empty());
    let tags = std::collections::BTreeMap::new();
    let registered = store
        .register_dataset(&NewDataset {
            name: "hf",
            location: "/data/hf.csv",
            format: "csv",
            schema: &serde_json::json!([]),
            rows: 1,
            columns: 1,
            sha256: "ab",
            description: None,
            tags: &tags,
        })
        .unwrap();
    assert_eq!(registered.record.version, 1);
    drop(store);
    let version: i64 = raw(dir.path())
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    // Opening again is a no-op.
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(store.dataset_versions("hf").unwrap().len(), 1);
}
