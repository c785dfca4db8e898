//! Scoring a forecasting bundle from JSON: the future rows alone (time stamp, series id, known
//! features; a label is ignored), forecast from the history tail the bundle keeps, exactly as
//! `autotab predict` forecasts a future CSV.
//!
//! A request is `{"data": [{time, grain..., features...}, ...], "quantiles": [0.1, 0.9]}`; the
//! answer `{"result": [forecast per record, in order], "quantiles": {"0.1": [...], ...}}`
//! (`quantiles` only when asked). The time column and the grain columns are required in every
//! record; a known feature left out (or `null`) takes its last training value, as a missing
//! feature column does in `predict`. A record beyond the horizon is a 400 naming the series
//! (ForecastHorizonExceeded). Errors found by the forecasting model (a time stamp that does not
//! parse or is off the grid, an unknown series) name the record as the line it would be in a
//! CSV file with a header: record 0 is `line 2`.
//!
//! [`save_forecast_bundle`] writes the forecasting bundle with the files that serve it:
//! `forecast.json` and `MODEL.md` ([`ForecastModel::save`]), `score.py` (the same entry script
//! as tabular bundles, through `autotab score-worker`) and `sample_input.json` (the first
//! series' next steps).

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use super::request::{number, Method, ScoreRequest};
use super::script::score_py_for;
use super::server::{error_content, openapi_document, read_sample};
use crate::data::{format_number, Column, ColumnValues, Dataset};
use crate::error::{AutotabError, Result};
use crate::forecast::time::format_time;
use crate::forecast::ForecastModel;
use crate::task::Task;

/// The sample request file of a bundle.
const SAMPLE_FILE: &str = "sample_input.json";

/// The entry script of a bundle.
const SCORE_SCRIPT_FILE: &str = "score.py";

/// Most rows of `sample_input.json`.
const SAMPLE_ROWS: usize = 5;

/// A loaded forecasting bundle, ready to score JSON requests.
#[derive(Debug)]
pub struct ForecastScorer {
    dir: PathBuf,
    model: ForecastModel,
}

impl ForecastScorer {
    /// Loads the forecasting bundle in `dir`.
    pub fn load(dir: &Path) -> Result<ForecastScorer> {
        Ok(ForecastScorer {
            dir: dir.to_path_buf(),
            model: ForecastModel::load(dir)?,
        })
    }

    /// The model.
    pub fn model(&self) -> &ForecastModel {
        &self.model
    }

    /// Forecasts the records of `request` and shapes the answer.
    pub fn score_request(&self, request: &ScoreRequest) -> Result<Value> {
        if request.method == Method::PredictProba || request.return_proba {
            return Err(AutotabError::data(
                "probabilities need a classification model; this forecasting model predicts \
                 numbers (ask for prediction intervals with \"quantiles\": [0.1, 0.9])",
            ));
        }
        let data = records_to_future(&self.model, &request.data)?;
        let forecast = self.model.predict(&data, &request.quantiles)?;
        let mut body = Map::new();
        body.insert(
            "result".into(),
            Value::Array(forecast.values.iter().map(|v| number(*v)).collect()),
        );
        if !forecast.quantiles.is_empty() {
            let bands: Map<String, Value> = forecast
                .quantiles
                .iter()
                .map(|(q, values)| {
                    (
                        q.to_string(),
                        Value::Array(values.iter().map(|v| number(*v)).collect()),
                    )
                })
                .collect();
            body.insert("quantiles".into(), Value::Object(bands));
        }
        Ok(Value::Object(body))
    }

    /// The OpenAPI 3.1 document of `/score` for this forecasting model.
    pub fn openapi(&self, with_auth: bool) -> Value {
        openapi(&self.model, read_sample(&self.dir), with_auth)
    }
}

impl super::scorer::Scorer for ForecastScorer {
    fn score(&self, request: &ScoreRequest) -> Result<Value> {
        self.score_request(request)
    }

    fn health(&self) -> Value {
        json!({
            "task": Task::Forecasting,
            "algorithm": self.model.forecaster.name(),
            "metric": self.model.metric,
            "score": self.model.score,
            "run_id": Value::Null,
        })
    }

    fn openapi(&self, with_auth: bool) -> Value {
        ForecastScorer::openapi(self, with_auth)
    }
}

/// Writes the forecasting bundle into `dir`: the model ([`ForecastModel::save`]) with
/// `score.py` and `sample_input.json`, so `autotab serve` and `score.py` score it as they do a
/// tabular bundle.
pub fn save_forecast_bundle(dir: &Path, model: &ForecastModel) -> Result<()> {
    model.save(dir)?;
    let script = score_py_for(
        &model.label,
        Task::Forecasting.name(),
        &model.forecaster.name(),
        env!("CARGO_PKG_VERSION"),
    );
    let path = dir.join(SCORE_SCRIPT_FILE);
    std::fs::write(&path, script).map_err(|e| AutotabError::io(&path, e))?;
    let sample = serde_json::to_string_pretty(&sample_request(model))
        .map_err(|e| AutotabError::data(e.to_string()))?;
    let path = dir.join(SAMPLE_FILE);
    std::fs::write(&path, sample).map_err(|e| AutotabError::io(&path, e))
}

/// A request for the first series' next steps (at most [`SAMPLE_ROWS`], within the horizon),
/// its known features at their last training values; values as strings.
pub fn sample_request(model: &ForecastModel) -> Value {
    let Some(first) = model.series.first() else {
        return json!({ "data": [] });
    };
    let steps = model.settings.horizon.clamp(1, SAMPLE_ROWS) as i64;
    let records: Vec<Value> = (1..=steps)
        .map(|step| {
            let mut record = Map::new();
            record.insert(
                model.settings.time_column.clone(),
                Value::String(format_time(model.grid.time_at(first.end + step))),
            );
            for (name, value) in model.settings.grain.iter().zip(&first.key) {
                record.insert(name.clone(), Value::String(value.clone()));
            }
            for (name, value) in model.feature_names.iter().zip(&first.last_known) {
                record.insert(name.clone(), Value::String(format_number(*value)));
            }
            Value::Object(record)
        })
        .collect();
    json!({ "data": records })
}

/// The records as the table `ForecastModel::predict` reads: the time and grain columns as text
/// (required in every record), the known features as numbers (missing when absent or null).
fn records_to_future(model: &ForecastModel, records: &[Value]) -> Result<Dataset> {
    let settings = &model.settings;
    let mut ids: Vec<(String, Vec<Option<String>>)> = std::iter::once(&settings.time_column)
        .chain(&settings.grain)
        .map(|name| (name.clone(), Vec::with_capacity(records.len())))
        .collect();
    let mut features: Vec<(String, Vec<f64>)> = model
        .feature_names
        .iter()
        .map(|name| (name.clone(), Vec::with_capacity(records.len())))
        .collect();
    for (index, record) in records.iter().enumerate() {
        let Value::Object(fields) = record else {
            return Err(AutotabError::data(format!(
                "record {index}: is not an object of field values (expected {{\"{}\": ..., ...}})",
                settings.time_column
            )));
        };
        for (name, column) in ids.iter_mut() {
            let value = match fields.get(name.as_str()) {
                Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
                Some(Value::Number(n)) => n.as_f64().map(format_number).unwrap_or_default(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(_) | None => {
                    let role = if *name == settings.time_column {
                        "the time column"
                    } else {
                        "a series id (grain) column"
                    };
                    return Err(AutotabError::data(format!(
                        "record {index}: field '{name}' ({role}) is missing or empty; every future row needs it"
                    )));
                }
            };
            column.push(Some(value));
        }
        for (name, column) in features.iter_mut() {
            let value = match fields.get(name.as_str()) {
                None | Some(Value::Null) => f64::NAN,
                Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
                Some(Value::String(s)) if s.trim().is_empty() => f64::NAN,
                Some(Value::String(s)) => s.trim().parse::<f64>().map_err(|_| {
                    AutotabError::data(format!(
                        "record {index}: field '{name}' is \"{s}\", expected a number (a known feature)"
                    ))
                })?,
                Some(other) => {
                    return Err(AutotabError::data(format!(
                        "record {index}: field '{name}' is {other}, expected a number (a known feature)"
                    )))
                }
            };
            column.push(value);
        }
    }
    let columns = ids
        .into_iter()
        .map(|(name, values)| Column {
            name,
            values: ColumnValues::Text(values),
        })
        .chain(features.into_iter().map(|(name, values)| Column {
            name,
            values: ColumnValues::Numeric(values),
        }))
        .collect();
    Dataset::new(columns)
}

/// The OpenAPI document of a forecasting model's `/score`: a record is one future row.
fn openapi(model: &ForecastModel, sample: Option<Value>, with_auth: bool) -> Value {
    let settings = &model.settings;
    let mut properties = Map::new();
    properties.insert(
        settings.time_column.clone(),
        json!({
            "type": "string",
            "format": "date-time",
            "description": format!(
                "time stamp to forecast, on the training data's {} grid, at most {} steps after its series' last training time stamp",
                model.grid.frequency_name(),
                settings.horizon
            ),
        }),
    );
    for name in &settings.grain {
        properties.insert(
            name.clone(),
            json!({
                "type": ["string", "number"],
                "description": "series id (time_series_id_column_names); the series must be in the training data",
            }),
        );
    }
    for name in &model.feature_names {
        properties.insert(
            name.clone(),
            json!({
                "type": ["number", "string", "null"],
                "format": "double",
                "description": "known feature at the forecast time; when absent or null its last training value is used",
            }),
        );
    }
    let mut required = vec![settings.time_column.clone()];
    required.extend(settings.grain.iter().cloned());
    let mut record = json!({
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": true,
        "description": format!("one future row; a '{}' field is ignored", model.label),
    });
    let mut request_body = json!({
        "required": true,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ScoreRequest" } } }
    });
    if let Some(sample) = &sample {
        if let Some(first) = sample.get("data").and_then(|d| d.get(0)) {
            record["example"] = first.clone();
        }
        request_body["content"]["application/json"]["example"] = sample.clone();
    }
    let score = json!({
        "summary": format!(
            "Forecast '{}' with the {} model (forecasting) from the future rows alone",
            model.label,
            model.forecaster.name()
        ),
        "description": "The bundle keeps the tail of each series' history that the model needs: send only the rows to forecast (time stamp, series id, known features). The answer has one forecast per record, in order.",
        "operationId": "score",
        "requestBody": request_body,
        "responses": {
            "200": {
                "description": "One forecast per record; prediction intervals when asked",
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ScoreResponse" } } }
            },
            "400": { "description": "Malformed JSON, empty data, a missing time or series id field, an unknown series, a time stamp off the grid, before the end of the history or beyond the horizon (ForecastHorizonExceeded)", "content": error_content() },
        }
    });
    let components = json!({
        "schemas": {
            "InputRecord": record,
            "ScoreRequest": {
                "type": "object",
                "required": ["data"],
                "properties": {
                    "data": { "type": "array", "minItems": 1, "items": { "$ref": "#/components/schemas/InputRecord" } },
                    "quantiles": {
                        "type": "array",
                        "items": { "type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1 },
                        "description": "prediction-interval levels, from the rolling-origin residuals per forecast step",
                    },
                    "method": { "type": "string", "enum": ["predict"], "default": "predict" }
                }
            },
            "ScoreResponse": {
                "type": "object",
                "required": ["result"],
                "properties": {
                    "result": { "type": "array", "items": { "type": "number" }, "description": "Forecasts, one per record in order" },
                    "quantiles": {
                        "type": "object",
                        "additionalProperties": { "type": "array", "items": { "type": "number" } },
                        "description": "per asked level (as text, such as \"0.1\"), one value per record"
                    }
                }
            }
        }
    });
    openapi_document(
        json!({
            "title": format!("autotab model: {} (forecasting)", model.label),
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!(
                "forecasting {} predicting '{}' up to {} steps ahead ({} data, time column '{}'{}); {} = {:.4}",
                model.forecaster.name(),
                model.label,
                settings.horizon,
                model.grid.frequency_name(),
                settings.time_column,
                if settings.grain.is_empty() { String::new() } else { format!(", series by {}", settings.grain.join(", ")) },
                model.metric,
                model.score
            ),
        }),
        score,
        components,
        with_auth,
    )
}
