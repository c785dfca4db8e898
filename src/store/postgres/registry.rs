//! The model registry and registered datasets in PostgreSQL, with the rows of
//! `store/sqlite/models.rs` and `store/sqlite/datasets.rs`.
//!
//! Versions under concurrency (processes on several machines registering one name at once):
//! - a model's next version comes from one upsert of its `model_names` row
//!   (`INSERT .. ON CONFLICT DO UPDATE SET last_version = last_version + 1 RETURNING`), which
//!   holds that row's lock until the transaction ends: a second registration of the name
//!   waits, then counts on from the first's committed number (or from its unchanged number if
//!   the first rolled back);
//! - a dataset's is `MAX(version) + 1` read under a transaction-level advisory lock keyed by
//!   the schema and the name, so two registrations of one name take turns.
//!
//! The primary keys `(name, version)` back both up.

use std::path::Path;

use postgres::Row;

use super::runs::run_exists;
use super::{to_version, Db};
use crate::error::Result;
use crate::store::records::{
    DatasetRecord, DatasetRegistration, ModelRecord, NewDataset, NewModel,
};
use crate::store::{name_list, now_rfc3339, pick_versions, store_err, PublishModel};
use crate::store::{to_i64, to_usize};

/// What the `path` column holds in front of an artifact key (as in the SQLite store).
const PATH_PREFIX: &str = "artifacts/";

/// The first key of the advisory lock a dataset registration takes ("ds" in ASCII); the
/// second is a hash of the schema and the name.
const DATASET_LOCK: i32 = 0x6473;

pub(super) fn register_model(
    db: &mut Db<'_>,
    model: &NewModel<'_>,
    tags: &str,
    metrics: &str,
    publish: &mut PublishModel<'_>,
) -> Result<ModelRecord> {
    let name = model.name;
    if let Some(run) = model.run_id {
        if !run_exists(db, run)? {
            return Err(store_err(format!(
                "cannot register model '{name}': no run with id '{run}' in this workspace"
            )));
        }
    }
    let row = db.query_one(
        "INSERT INTO model_names (name, last_version) VALUES ($1, 1)
         ON CONFLICT (name) DO UPDATE SET last_version = model_names.last_version + 1
         RETURNING last_version",
        &[&name],
        "choose the model's next version",
    )?;
    let version: i64 = db.get(&row, 0)?;
    let version = u32::try_from(version)
        .map_err(|_| store_err(format!("model '{name}' has too many versions")))?;
    let artifact = publish(version)?;
    let created = now_rfc3339();
    db.execute(
        "INSERT INTO models (name, version, path, run_id, description, tags_json,
             metrics_json, created)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &name,
            &i64::from(version),
            &format!("{PATH_PREFIX}{artifact}"),
            &model.run_id,
            &model.description,
            &tags,
            &metrics,
            &created,
        ],
        "insert the model version",
    )?;
    Ok(model.record(version, artifact, created))
}

/// Columns read into a [`ModelRecord`] (see [`model_record`]).
const MODEL_SELECT: &str =
    "SELECT name, version, path, run_id, description, tags_json, metrics_json, created FROM models";

pub(super) fn latest_models(db: &mut Db<'_>) -> Result<Vec<ModelRecord>> {
    let rows = db.query(
        &format!(
            "{MODEL_SELECT} m WHERE version = (SELECT MAX(version) FROM models WHERE name = m.name)
             ORDER BY name COLLATE \"C\""
        ),
        &[],
        "read the registered models",
    )?;
    rows.iter().map(|r| model_record(db, r)).collect()
}

pub(super) fn model_versions(db: &mut Db<'_>, name: &str) -> Result<Vec<ModelRecord>> {
    let rows = db.query(
        &format!("{MODEL_SELECT} WHERE name = $1 ORDER BY version"),
        &[&name],
        "read the registered models",
    )?;
    let models = rows
        .iter()
        .map(|r| model_record(db, r))
        .collect::<Result<Vec<_>>>()?;
    if models.is_empty() {
        let rows = db.query(
            "SELECT name FROM models GROUP BY name ORDER BY name COLLATE \"C\"",
            &[],
            "list the registered models",
        )?;
        let names = rows
            .iter()
            .map(|r| db.get(r, 0))
            .collect::<Result<Vec<String>>>()?;
        return Err(store_err(format!(
            "no registered model named '{name}' (registered: {})",
            name_list(&names)
        )));
    }
    Ok(models)
}

pub(super) fn delete_models(
    db: &mut Db<'_>,
    name: &str,
    version: Option<u32>,
) -> Result<Vec<ModelRecord>> {
    // Lock the name's row first so that a registration or deletion of it at the same time
    // waits for this one.
    db.query(
        "SELECT last_version FROM model_names WHERE name = $1 FOR UPDATE",
        &[&name],
        "lock the model's name",
    )?;
    let targets = pick_versions(name, version, model_versions(db, name)?)?;
    for m in &targets {
        db.execute(
            "DELETE FROM models WHERE name = $1 AND version = $2",
            &[&m.name, &i64::from(m.version)],
            "delete the model version",
        )?;
    }
    Ok(targets)
}

fn model_record(db: &Db<'_>, r: &Row) -> Result<ModelRecord> {
    let name: String = db.get(r, 0)?;
    let version = to_version(db.get(r, 1)?);
    let path: String = db.get(r, 2)?;
    let tags: String = db.get(r, 5)?;
    let metrics: String = db.get(r, 6)?;
    let damaged =
        |e: serde_json::Error| store_err(format!("stored model {name}:{version} is damaged: {e}"));
    Ok(ModelRecord {
        tags: serde_json::from_str(&tags).map_err(damaged)?,
        metrics: serde_json::from_str(&metrics).map_err(damaged)?,
        artifact: artifact_key(&path),
        run_id: db.get(r, 3)?,
        description: db.get(r, 4)?,
        created: db.get(r, 7)?,
        name,
        version,
    })
}

/// The artifact key in a `path` column value (`artifacts/<key>`, with `/` separators).
fn artifact_key(path: &str) -> String {
    let key = path.strip_prefix(PATH_PREFIX).unwrap_or(path);
    Path::new(key)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Columns read into a [`DatasetRecord`] (see [`dataset_record`]).
const DATASET_SELECT: &str = "SELECT name, version, location, format, schema_json, n_rows, \
     n_columns, sha256, description, tags_json, created FROM datasets";

pub(super) fn register_dataset(
    db: &mut Db<'_>,
    dataset: &NewDataset<'_>,
    schema: &str,
    tags: &str,
) -> Result<DatasetRegistration> {
    let name = dataset.name;
    db.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext(current_schema() || '/' || $2))",
        &[&DATASET_LOCK, &name],
        "lock the dataset's name",
    )?;
    let rows = db.query(
        &format!("{DATASET_SELECT} WHERE name = $1 ORDER BY version DESC LIMIT 1"),
        &[&name],
        "read the dataset's last version",
    )?;
    let latest = match rows.first() {
        Some(r) => Some(dataset_record(db, r)?),
        None => None,
    };
    if let Some(latest) = latest {
        if latest.sha256 == dataset.sha256 && latest.location == dataset.location {
            return Ok(DatasetRegistration {
                record: latest,
                created: false,
            });
        }
    }
    let row = db.query_one(
        "SELECT COALESCE(MAX(version), 0) FROM datasets WHERE name = $1",
        &[&name],
        "read the dataset's last version",
    )?;
    let last: i64 = db.get(&row, 0)?;
    let version = u32::try_from(last + 1)
        .map_err(|_| store_err(format!("dataset '{name}' has too many versions")))?;
    let created = now_rfc3339();
    db.execute(
        "INSERT INTO datasets (name, version, location, format, schema_json, n_rows, n_columns,
             sha256, description, tags_json, created)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            &name,
            &i64::from(version),
            &dataset.location,
            &dataset.format,
            &schema,
            &to_i64(dataset.rows, "row count")?,
            &to_i64(dataset.columns, "column count")?,
            &dataset.sha256,
            &dataset.description,
            &tags,
            &created,
        ],
        "insert the dataset version",
    )?;
    Ok(DatasetRegistration {
        record: dataset.record(version, created),
        created: true,
    })
}

pub(super) fn latest_datasets(db: &mut Db<'_>) -> Result<Vec<DatasetRecord>> {
    let rows = db.query(
        &format!(
            "{DATASET_SELECT} d WHERE version = (SELECT MAX(version) FROM datasets WHERE name = d.name)
             ORDER BY name COLLATE \"C\""
        ),
        &[],
        "read the registered datasets",
    )?;
    rows.iter().map(|r| dataset_record(db, r)).collect()
}

pub(super) fn dataset_versions(db: &mut Db<'_>, name: &str) -> Result<Vec<DatasetRecord>> {
    let rows = db.query(
        &format!("{DATASET_SELECT} WHERE name = $1 ORDER BY version"),
        &[&name],
        "read the registered datasets",
    )?;
    let found = rows
        .iter()
        .map(|r| dataset_record(db, r))
        .collect::<Result<Vec<_>>>()?;
    if found.is_empty() {
        let names: Vec<String> = latest_datasets(db)?.into_iter().map(|d| d.name).collect();
        return Err(store_err(format!(
            "no registered dataset named '{name}' (registered: {})",
            name_list(&names)
        )));
    }
    Ok(found)
}

fn dataset_record(db: &Db<'_>, r: &Row) -> Result<DatasetRecord> {
    let name: String = db.get(r, 0)?;
    let version = to_version(db.get(r, 1)?);
    let schema: String = db.get(r, 4)?;
    let rows: i64 = db.get(r, 5)?;
    let columns: i64 = db.get(r, 6)?;
    let tags: String = db.get(r, 9)?;
    let damaged = |e: serde_json::Error| {
        store_err(format!("stored dataset {name}:{version} is damaged: {e}"))
    };
    Ok(DatasetRecord {
        schema: serde_json::from_str(&schema).map_err(damaged)?,
        tags: serde_json::from_str(&tags).map_err(damaged)?,
        rows: to_usize(rows),
        columns: to_usize(columns),
        location: db.get(r, 2)?,
        format: db.get(r, 3)?,
        sha256: db.get(r, 7)?,
        description: db.get(r, 8)?,
        created: db.get(r, 10)?,
        name,
        version,
    })
}
