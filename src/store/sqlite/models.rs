//! The model registry in SQL: `model_names` keeps each name's last version (so a deleted
//! version's number is never reused), `models` one row per registered version.
//!
//! The `path` column holds the bundle's artifact key under the workspace folder's
//! `artifacts/` (`artifacts/models/<name>/<version>`), as schema version 1 always has.

use std::path::Path;

use rusqlite::{OptionalExtension, Transaction};

use super::runs::run_exists;
use super::SqlContext;
use crate::error::Result;
use crate::store::records::{ModelRecord, NewModel};
use crate::store::to_json;
use crate::store::{name_list, now_rfc3339, pick_versions, store_err, PublishModel};

/// What the `path` column holds in front of an artifact key.
const PATH_PREFIX: &str = "artifacts/";

/// A [`NewModel`] with its tags and metrics encoded, ready to insert.
pub(super) struct NewModelRow<'a> {
    model: &'a NewModel<'a>,
    tags: String,
    metrics: String,
}

impl<'a> NewModelRow<'a> {
    pub(super) fn encode(model: &'a NewModel<'a>) -> Result<NewModelRow<'a>> {
        Ok(NewModelRow {
            model,
            tags: to_json(model.tags, "tags")?,
            metrics: to_json(model.metrics, "metrics")?,
        })
    }
}

pub(super) fn register(
    tx: &Transaction<'_>,
    row: &NewModelRow<'_>,
    publish: &mut PublishModel<'_>,
) -> Result<ModelRecord> {
    let model = row.model;
    let name = model.name;
    if let Some(run) = model.run_id {
        if !run_exists(tx, run)? {
            return Err(store_err(format!(
                "cannot register model '{name}': no run with id '{run}' in this workspace"
            )));
        }
    }
    let last: Option<u32> = tx
        .query_row(
            "SELECT last_version FROM model_names WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()
        .ctx("read the model's last version")?;
    let version = last
        .unwrap_or(0)
        .checked_add(1)
        .ok_or_else(|| store_err(format!("model '{name}' has too many versions")))?;
    tx.execute(
        "INSERT INTO model_names (name, last_version) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET last_version = excluded.last_version",
        (name, version),
    )
    .ctx("record the model's new version")?;
    let artifact = publish(version)?;
    let created = now_rfc3339();
    tx.execute(
        "INSERT INTO models (name, version, path, run_id, description, tags_json,
             metrics_json, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        rusqlite::params![
            name,
            version,
            format!("{PATH_PREFIX}{artifact}"),
            model.run_id,
            model.description,
            row.tags,
            row.metrics,
            created
        ],
    )
    .ctx("insert the model version")?;
    Ok(model.record(version, artifact, created))
}

/// Columns read into a [`ModelRecord`] (see [`query_models`]).
const MODEL_SELECT: &str =
    "SELECT name, version, path, run_id, description, tags_json, metrics_json, created FROM models";

pub(super) fn latest_versions(tx: &Transaction<'_>) -> Result<Vec<ModelRecord>> {
    query_models(
        tx,
        &format!(
            "{MODEL_SELECT} m WHERE version = (SELECT MAX(version) FROM models WHERE name = m.name)
             ORDER BY name"
        ),
        [],
    )
}

pub(super) fn versions(tx: &Transaction<'_>, name: &str) -> Result<Vec<ModelRecord>> {
    let models = query_models(
        tx,
        &format!("{MODEL_SELECT} WHERE name = ?1 ORDER BY version"),
        [name],
    )?;
    if models.is_empty() {
        return Err(unknown_model(tx, name)?);
    }
    Ok(models)
}

pub(super) fn delete(
    tx: &Transaction<'_>,
    name: &str,
    version: Option<u32>,
) -> Result<Vec<ModelRecord>> {
    let targets = pick_versions(name, version, versions(tx, name)?)?;
    for m in &targets {
        tx.execute(
            "DELETE FROM models WHERE name = ?1 AND version = ?2",
            (&m.name, m.version),
        )
        .ctx("delete the model version")?;
    }
    Ok(targets)
}

fn query_models<P: rusqlite::Params>(
    tx: &Transaction<'_>,
    sql: &str,
    params: P,
) -> Result<Vec<ModelRecord>> {
    let mut stmt = tx.prepare(sql).ctx("read the registered models")?;
    let rows = stmt
        .query_map(params, |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, u32>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
            ))
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .ctx("read the registered models")?;
    rows.into_iter()
        .map(
            |(name, version, path, run_id, description, tags, metrics, created)| {
                let damaged = |e: serde_json::Error| {
                    store_err(format!("stored model {name}:{version} is damaged: {e}"))
                };
                Ok(ModelRecord {
                    tags: serde_json::from_str(&tags).map_err(damaged)?,
                    metrics: serde_json::from_str(&metrics).map_err(damaged)?,
                    artifact: artifact_key(&path),
                    name,
                    version,
                    run_id,
                    description,
                    created,
                })
            },
        )
        .collect()
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

/// The "no such model" error, listing the registered names.
fn unknown_model(tx: &Transaction<'_>, name: &str) -> Result<crate::AutotabError> {
    let mut stmt = tx
        .prepare("SELECT DISTINCT name FROM models ORDER BY name")
        .ctx("list the registered models")?;
    let names = stmt
        .query_map([], |r| r.get(0))
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
        .ctx("list the registered models")?;
    Ok(store_err(format!(
        "no registered model named '{name}' (registered: {})",
        name_list(&names)
    )))
}
