//! Registered datasets in SQL (schema version 2): `datasets` holds one row per version. A
//! version is `MAX(version) + 1` of its name, chosen inside the `BEGIN IMMEDIATE` write
//! transaction, so two writers never pick the same number (versions are never deleted).

use rusqlite::{OptionalExtension, Transaction};

use super::SqlContext;
use crate::error::Result;
use crate::store::records::{DatasetRecord, DatasetRegistration, NewDataset};
use crate::store::{name_list, now_rfc3339, store_err};
use crate::store::{to_i64, to_json, to_usize};

/// Columns read into a [`DatasetRecord`] (see [`query_datasets`]).
const DATASET_SELECT: &str = "SELECT name, version, location, format, schema_json, n_rows, \
     n_columns, sha256, description, tags_json, created FROM datasets";

pub(super) fn register(
    tx: &Transaction<'_>,
    dataset: &NewDataset<'_>,
) -> Result<DatasetRegistration> {
    let name = dataset.name;
    let latest = query_datasets(
        tx,
        &format!("{DATASET_SELECT} WHERE name = ?1 ORDER BY version DESC LIMIT 1"),
        [name],
    )?
    .pop();
    if let Some(latest) = latest {
        if latest.sha256 == dataset.sha256 && latest.location == dataset.location {
            return Ok(DatasetRegistration {
                record: latest,
                created: false,
            });
        }
    }
    let last: Option<u32> = tx
        .query_row(
            "SELECT MAX(version) FROM datasets WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()
        .ctx("read the dataset's last version")?
        .flatten();
    let version = last
        .unwrap_or(0)
        .checked_add(1)
        .ok_or_else(|| store_err(format!("dataset '{name}' has too many versions")))?;
    let created = now_rfc3339();
    tx.execute(
        "INSERT INTO datasets (name, version, location, format, schema_json, n_rows, n_columns,
             sha256, description, tags_json, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        rusqlite::params![
            name,
            version,
            dataset.location,
            dataset.format,
            to_json(dataset.schema, "dataset schema")?,
            to_i64(dataset.rows, "row count")?,
            to_i64(dataset.columns, "column count")?,
            dataset.sha256,
            dataset.description,
            to_json(dataset.tags, "tags")?,
            created
        ],
    )
    .ctx("insert the dataset version")?;
    Ok(DatasetRegistration {
        record: dataset.record(version, created),
        created: true,
    })
}

pub(super) fn latest_versions(tx: &Transaction<'_>) -> Result<Vec<DatasetRecord>> {
    query_datasets(
        tx,
        &format!(
            "{DATASET_SELECT} d WHERE version = (SELECT MAX(version) FROM datasets WHERE name = d.name)
             ORDER BY name"
        ),
        [],
    )
}

pub(super) fn versions(tx: &Transaction<'_>, name: &str) -> Result<Vec<DatasetRecord>> {
    let found = query_datasets(
        tx,
        &format!("{DATASET_SELECT} WHERE name = ?1 ORDER BY version"),
        [name],
    )?;
    if found.is_empty() {
        let names: Vec<String> = latest_versions(tx)?.into_iter().map(|d| d.name).collect();
        return Err(store_err(format!(
            "no registered dataset named '{name}' (registered: {})",
            name_list(&names)
        )));
    }
    Ok(found)
}

/// One stored row, before its JSON columns are decoded.
type Row = (
    String,
    u32,
    String,
    String,
    String,
    i64,
    i64,
    String,
    Option<String>,
    String,
    String,
);

fn query_datasets<P: rusqlite::Params>(
    tx: &Transaction<'_>,
    sql: &str,
    params: P,
) -> Result<Vec<DatasetRecord>> {
    let mut stmt = tx.prepare(sql).ctx("read the registered datasets")?;
    let rows: Vec<Row> = stmt
        .query_map(params, |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
                r.get(10)?,
            ))
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .ctx("read the registered datasets")?;
    rows.into_iter()
        .map(
            |(
                name,
                version,
                location,
                format,
                schema,
                rows,
                columns,
                sha256,
                description,
                tags,
                created,
            )| {
                let damaged = |e: serde_json::Error| {
                    store_err(format!("stored dataset {name}:{version} is damaged: {e}"))
                };
                Ok(DatasetRecord {
                    schema: serde_json::from_str(&schema).map_err(damaged)?,
                    tags: serde_json::from_str(&tags).map_err(damaged)?,
                    rows: to_usize(rows),
                    columns: to_usize(columns),
                    name,
                    version,
                    location,
                    format,
                    sha256,
                    description,
                    created,
                })
            },
        )
        .collect()
}
