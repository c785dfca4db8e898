//! What the HTTP server and the `score.py` worker score: a loaded model of either kind behind
//! one interface. A tabular bundle is a [`Predictor`]; a forecasting bundle (a folder with
//! `forecast.json`) is a [`ForecastScorer`](super::forecast::ForecastScorer). [`load_scorer`]
//! tells them apart by their files.

use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};

use super::bundle::Predictor;
use super::forecast::ForecastScorer;
use super::request::{score_request, ScoreRequest};
use crate::error::Result;
use crate::forecast::ForecastModel;

/// A model that answers scoring requests.
pub trait Scorer: Send + Sync {
    /// Scores the records of `request` and shapes the answer (`{"result": [...], ...}`); bad
    /// records are an error naming the record and field.
    fn score(&self, request: &ScoreRequest) -> Result<Value>;

    /// The facts `GET /health` shows: task, algorithm, metric, score, run id.
    fn health(&self) -> Value;

    /// The OpenAPI 3.1 document of `/score` for this model (with the bearer scheme when
    /// `with_auth`).
    fn openapi(&self, with_auth: bool) -> Value;
}

impl Scorer for Predictor {
    fn score(&self, request: &ScoreRequest) -> Result<Value> {
        score_request(self, request)
    }

    fn health(&self) -> Value {
        let info = self.info();
        json!({
            "task": info.task,
            "algorithm": info.algorithm,
            "metric": info.metric,
            "score": info.score,
            "run_id": info.run_id,
        })
    }

    fn openapi(&self, with_auth: bool) -> Value {
        super::server::openapi(self, with_auth)
    }
}

/// Loads the bundle in `dir`: a forecasting bundle when it holds `forecast.json`, else a
/// tabular bundle ([`Predictor::load`], checksums verified).
pub fn load_scorer(dir: &Path) -> Result<Arc<dyn Scorer>> {
    if ForecastModel::is_bundle(dir) {
        Ok(Arc::new(ForecastScorer::load(dir)?))
    } else {
        Ok(Arc::new(Predictor::load(dir)?))
    }
}
