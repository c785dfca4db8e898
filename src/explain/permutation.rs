//! Permutation importance of raw input columns through the whole pipeline.
//!
//! The table is featurized once; shuffling a raw column's values across rows is the same as
//! shuffling the rows of all the features made from it (every encoder reads one column of one
//! row), so each repeat permutes those feature columns together and predicts again. A
//! column's importance is the mean increase of the metric's loss (`Metric::to_loss`) over the
//! repeats; its spread is their standard deviation.

use ndarray::Array2;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::{parse_number, Dataset};
use crate::error::{AutotabError, Result};
use crate::metrics::Metric;
use crate::pipeline::Pipeline;

/// How permutation importance samples and repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportanceSettings {
    /// Shuffles per column.
    pub repeats: usize,
    /// Seed of the row sample and the shuffles.
    pub seed: u64,
    /// At most this many labelled rows are used (a seeded sample of them).
    pub max_rows: usize,
    /// Past this instant no further shuffle starts: a [`AutotabError::Budget`] error.
    pub deadline: Option<std::time::Instant>,
}

impl Default for ImportanceSettings {
    fn default() -> Self {
        ImportanceSettings {
            repeats: 5,
            seed: 0,
            max_rows: 5_000,
            deadline: None,
        }
    }
}

/// The importance of one raw column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Importance {
    /// The raw input column.
    pub column: String,
    /// Mean loss increase when the column is shuffled (in the metric's units).
    pub mean: f64,
    /// Standard deviation of the increase over the repeats.
    pub std: f64,
}

/// Permutation importance of every raw input column of `pipeline` on the labelled rows of
/// `data` (which must hold the label column), scored with `metric`; most important first
/// (ties in column order). Rows without a label are left out.
pub fn permutation_importance(
    pipeline: &Pipeline,
    data: &Dataset,
    metric: Metric,
    settings: &ImportanceSettings,
) -> Result<Vec<Importance>> {
    let label = data.column(&pipeline.label).ok_or_else(|| {
        AutotabError::data(format!(
            "permutation importance needs the label column '{}'; the columns are: {}",
            pipeline.label,
            data.names().join(", ")
        ))
    })?;
    let mut rows: Vec<usize> = (0..data.n_rows())
        .filter(|&i| !label.values.is_missing(i))
        .collect();
    if rows.len() < 2 {
        return Err(AutotabError::data(format!(
            "permutation importance needs at least 2 rows with a label in '{}'",
            pipeline.label
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    if rows.len() > settings.max_rows.max(2) {
        rows.shuffle(&mut rng);
        rows.truncate(settings.max_rows.max(2));
        rows.sort_unstable();
    }
    let data = data.select_rows(&rows);
    let truth = Truth::of(pipeline, &data)?;
    let x = pipeline
        .featurizer
        .transform(&data.without(&pipeline.label))?;
    let baseline = truth.loss(pipeline, metric, &x)?;
    let sources = pipeline.featurizer.feature_sources();
    let n = x.nrows();
    let mut out = Vec::new();
    for column in pipeline.featurizer.input_columns() {
        let features: Vec<usize> = sources
            .iter()
            .enumerate()
            .filter(|(_, s)| **s == column.as_str())
            .map(|(j, _)| j)
            .collect();
        let mut increases = Vec::with_capacity(settings.repeats);
        if !features.is_empty() {
            for _ in 0..settings.repeats.max(1) {
                if settings
                    .deadline
                    .is_some_and(|d| std::time::Instant::now() >= d)
                {
                    return Err(AutotabError::Budget(format!(
                        "permutation importance stopped at column '{column}': its time is up"
                    )));
                }
                let mut perm: Vec<usize> = (0..n).collect();
                perm.shuffle(&mut rng);
                let mut shuffled = x.clone();
                for &j in &features {
                    for (i, &from) in perm.iter().enumerate() {
                        shuffled[[i, j]] = x[[from, j]];
                    }
                }
                increases.push(truth.loss(pipeline, metric, &shuffled)? - baseline);
            }
        }
        let (mean, std) = if increases.is_empty() {
            (0.0, 0.0)
        } else {
            crate::stats::mean_std(&increases)
        };
        out.push(Importance {
            column: column.clone(),
            mean,
            std,
        });
    }
    out.sort_by(|a, b| b.mean.total_cmp(&a.mean));
    Ok(out)
}

/// The labels of the rows, as class indices or numbers.
enum Truth {
    Classes(Vec<usize>),
    Values(Vec<f64>),
}

impl Truth {
    fn of(pipeline: &Pipeline, data: &Dataset) -> Result<Truth> {
        let label = data.require(&pipeline.label)?;
        let classes = pipeline.label_encoding.classes();
        let n = data.n_rows();
        if !classes.is_empty() {
            let mut truth = Vec::with_capacity(n);
            for i in 0..n {
                let value = label.values.text_at(i).unwrap_or_default();
                let class = classes.iter().position(|c| *c == value).ok_or_else(|| {
                    AutotabError::data(format!(
                        "label '{value}' in column '{}' is not one of the classes the model \
                         learned ({})",
                        pipeline.label,
                        classes.join(", ")
                    ))
                })?;
                truth.push(class);
            }
            Ok(Truth::Classes(truth))
        } else {
            let mut truth = Vec::with_capacity(n);
            for i in 0..n {
                let text = label.values.text_at(i).unwrap_or_default();
                truth.push(parse_number(&text).ok_or_else(|| {
                    AutotabError::data(format!(
                        "label '{text}' in column '{}' is not a number",
                        pipeline.label
                    ))
                })?);
            }
            Ok(Truth::Values(truth))
        }
    }

    fn loss(&self, pipeline: &Pipeline, metric: Metric, x: &Array2<f64>) -> Result<f64> {
        let output = pipeline.model.predict(x.view())?;
        let score = match self {
            Truth::Classes(t) => metric.classification(t, output.view())?,
            Truth::Values(t) => metric.regression(t, &output.column(0).to_vec())?,
        };
        Ok(metric.to_loss(score))
    }
}
