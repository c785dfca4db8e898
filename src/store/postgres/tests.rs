//! The store conformance suite on PostgreSQL, and what is particular to the PostgreSQL store.
//! The tests that need a server run when `AUTOTAB_TEST_POSTGRES` holds a base URL, each in a
//! fresh schema of its own (dropped afterwards), so they run in parallel; without it they
//! print a skip line and pass, unless `AUTOTAB_REQUIRE_POSTGRES=1`, which makes a missing URL
//! or an unreachable server a failure.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// A fresh, empty store in a schema of its own, and how to connect to it; `None` (after a
/// skip line) when no server is configured and none is required.
fn fresh(test: &str) -> Option<(TestSchema, impl Fn() -> Box<dyn Store> + Sync)> {
    let schema = TestSchema::new(test)?;
    let url = schema.url();
    let open = move || -> Box<dyn Store> {
        Box::new(PostgresStore::open(&url).expect("open the PostgreSQL test store"))
    };
    Some((schema, open))
}

crate::store::conformance::suite!(fresh);

#[test]
fn redact_url_hides_only_the_password() {
    assert_eq!(
        redact_url("postgres://u:secret@db:5432/ws?sslmode=disable"),
        "postgres://u:***@db:5432/ws?sslmode=disable"
    );
    assert_eq!(redact_url("postgresql://u@db/ws"), "postgresql://u@db/ws");
    assert_eq!(redact_url("postgres://db/ws"), "postgres://db/ws");
    assert_eq!(redact_url("host=db user=u"), "host=db user=u");
    assert_eq!(
        redact_url("postgres://u:p@ss@db/ws"),
        "postgres://u:***@db/ws"
    );
}

#[test]
fn a_bad_url_is_an_error_without_the_password() {
    let err = PostgresStore::open("postgres://u:secret@db:notaport/ws")
        .expect_err("a bad port must be refused")
        .to_string();
    assert!(!err.contains("secret"), "{err}");
    assert!(err.contains("u:***@db"), "{err}");
}

/// A fresh schema in the test server, dropped when the guard goes.
pub(crate) struct TestSchema {
    base: String,
    name: String,
}

impl TestSchema {
    /// `None` (after a skip line) when no server is configured and none is required.
    fn new(test: &str) -> Option<TestSchema> {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let required = std::env::var("AUTOTAB_REQUIRE_POSTGRES").as_deref() == Ok("1");
        let base = match std::env::var("AUTOTAB_TEST_POSTGRES") {
            Ok(base) if !base.trim().is_empty() => base,
            _ => {
                assert!(
                    !required,
                    "AUTOTAB_REQUIRE_POSTGRES=1 but AUTOTAB_TEST_POSTGRES is not set: {test} \
                     needs a PostgreSQL server"
                );
                println!("skipped {test}: set AUTOTAB_TEST_POSTGRES to a PostgreSQL URL to run it");
                return None;
            }
        };
        // Short (identifiers stop at 63 bytes) and unique across test threads and processes.
        let name = format!(
            "autotab_t{}_{}_{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::SeqCst),
            chrono::Utc::now().timestamp_subsec_nanos()
        );
        let mut client = Client::connect(&base, NoTls).unwrap_or_else(|e| {
            panic!(
                "{test}: cannot connect to AUTOTAB_TEST_POSTGRES ({}): {e}",
                redact_url(&base)
            )
        });
        client
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .expect("create the test schema");
        Some(TestSchema { base, name })
    }

    /// The base URL with `search_path` set to the test schema.
    fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-csearch_path%3D{}", self.base, self.name)
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        if let Ok(mut client) = Client::connect(&self.base, NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

fn schema_version(url: &str) -> i32 {
    let mut client = Client::connect(url, NoTls).expect("connect");
    client
        .query_one("SELECT MAX(version) FROM schema_version", &[])
        .and_then(|r| r.try_get(0))
        .expect("read the schema version")
}

#[test]
fn open_creates_the_schema_once_even_from_many_openers_at_once() {
    let Some(schema) = TestSchema::new("concurrent_open") else {
        return;
    };
    let url = schema.url();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PostgresStore::open(&url).map(|_| ()))
        })
        .collect();
    for h in handles {
        h.join().expect("opener thread").expect("open");
    }
    assert_eq!(schema_version(&url), SCHEMA_VERSION);
    let rows: i64 = Client::connect(&url, NoTls)
        .expect("connect")
        .query_one("SELECT COUNT(*) FROM schema_version", &[])
        .and_then(|r| r.try_get(0))
        .expect("count");
    assert_eq!(rows, 1);
    // Reopening an up-to-date store changes nothing.
    PostgresStore::open(&url).expect("reopen");
    assert_eq!(schema_version(&url), SCHEMA_VERSION);
}

#[test]
fn a_newer_or_foreign_schema_is_refused() {
    let Some(schema) = TestSchema::new("refusals") else {
        return;
    };
    let url = schema.url();
    let mut client = Client::connect(&url, NoTls).expect("connect");
    client
        .batch_execute("CREATE TABLE unrelated (x INTEGER)")
        .expect("create a foreign table");
    let err = PostgresStore::open(&url).expect_err("foreign").to_string();
    assert!(err.contains("not an autotab store"), "{err}");
    client
        .batch_execute(
            "DROP TABLE unrelated; CREATE TABLE schema_version (version INTEGER NOT NULL); \
             INSERT INTO schema_version VALUES (99)",
        )
        .expect("fake a newer store");
    let err = PostgresStore::open(&url).expect_err("newer").to_string();
    assert!(err.contains("newer autotab"), "{err}");
}

#[test]
fn a_version_1_store_is_upgraded_in_place() {
    let Some(schema) = TestSchema::new("upgrade") else {
        return;
    };
    let url = schema.url();
    let mut client = Client::connect(&url, NoTls).expect("connect");
    client.batch_execute(SCHEMA_V1).expect("create v1");
    client
        .batch_execute("INSERT INTO schema_version VALUES (1)")
        .expect("record v1");
    PostgresStore::open(&url).expect("upgrade");
    assert_eq!(schema_version(&url), SCHEMA_VERSION);
    client
        .batch_execute("SELECT COUNT(*) FROM datasets")
        .expect("the v2 table exists");
}

#[test]
fn open_existing_refuses_a_database_without_a_workspace_and_creates_nothing() {
    let Some(schema) = TestSchema::new("open_existing") else {
        return;
    };
    let url = schema.url();
    let err = PostgresStore::open_existing(&url)
        .expect_err("an empty schema holds no workspace")
        .to_string();
    assert!(err.contains("no workspace in PostgreSQL database"), "{err}");
    let tables: i64 = Client::connect(&url, NoTls)
        .expect("connect")
        .query_one(
            "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()",
            &[],
        )
        .and_then(|r| r.try_get(0))
        .expect("count");
    assert_eq!(tables, 0);
    PostgresStore::open(&url).expect("create");
    let store = PostgresStore::open_existing(&url).expect("now it exists");
    assert!(store.list_runs(None).expect("list").is_empty());
}

#[test]
fn an_unreachable_server_is_an_error_naming_it_without_the_password() {
    let err = PostgresStore::open("postgres://u:secret@127.0.0.1:1/ws")
        .expect_err("nothing listens on port 1")
        .to_string();
    assert!(
        err.contains("postgres://u:***@127.0.0.1:1/ws") && err.contains("cannot connect"),
        "{err}"
    );
    assert!(!err.contains("secret"), "{err}");
}
