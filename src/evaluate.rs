//! Scoring a fitted pipeline on a labelled table (a job's `test_data`): predictions against
//! the table's own label column, for a list of metrics; and a forecasting model on a table of
//! future rows with their actual values.

use crate::data::Dataset;
use crate::error::{AutotabError, Result};
use crate::forecast::ForecastModel;
use crate::metrics::Metric;
use crate::pipeline::Pipeline;
use crate::task::Task;

/// The metrics reported on test data: the primary metric first, then a few usual ones of the
/// task (those that differ from it).
pub fn test_metrics(task: Task, primary: Metric) -> Vec<Metric> {
    let usual: &[Metric] = match task {
        Task::Classification => &[Metric::Accuracy, Metric::AucWeighted, Metric::F1Weighted],
        Task::Regression | Task::Forecasting => &[Metric::R2, Metric::NormalizedRmse, Metric::Mae],
    };
    let mut metrics = vec![primary];
    metrics.extend(usual.iter().copied().filter(|m| *m != primary));
    metrics
}

/// Scores `pipeline` on `data`, which holds the label column: one `(metric, value)` per
/// metric, in order. Rows with a missing label are left out; a class the model never saw,
/// a missing label column or a metric that does not fit the task is an error.
pub fn score_table(
    pipeline: &Pipeline,
    data: &Dataset,
    metrics: &[Metric],
) -> Result<Vec<(Metric, f64)>> {
    let label = data.column(&pipeline.label).ok_or_else(|| {
        AutotabError::data(format!(
            "label column '{}' not found; the columns are: {}",
            pipeline.label,
            data.names().join(", ")
        ))
    })?;
    let rows: Vec<usize> = (0..data.n_rows())
        .filter(|&i| !label.values.is_missing(i))
        .collect();
    if rows.is_empty() {
        return Err(AutotabError::data(format!(
            "no row has a value in the label column '{}'",
            pipeline.label
        )));
    }
    let data = data.select_rows(&rows);
    let label = data.require(&pipeline.label)?;
    let predictions = pipeline.predict(&data)?;
    let classes = pipeline.label_encoding.classes();
    let mut scores = Vec::with_capacity(metrics.len());
    if let Some(proba) = &predictions.proba {
        let mut truth = Vec::with_capacity(data.n_rows());
        for (i, row) in rows.iter().enumerate() {
            let value = label.values.text_at(i).unwrap_or_default();
            let class = classes.iter().position(|c| *c == value).ok_or_else(|| {
                AutotabError::data(format!(
                    "row {}: label '{value}' is not one of the classes the model learned ({})",
                    row + 1,
                    classes.join(", ")
                ))
            })?;
            truth.push(class);
        }
        for &metric in metrics {
            scores.push((metric, metric.classification(&truth, proba.view())?));
        }
    } else {
        let mut truth = Vec::with_capacity(data.n_rows());
        for (i, row) in rows.iter().enumerate() {
            let text = label.values.text_at(i).unwrap_or_default();
            let value = crate::data::parse_number(&text).ok_or_else(|| {
                AutotabError::data(format!("row {}: label '{text}' is not a number", row + 1))
            })?;
            truth.push(value);
        }
        for &metric in metrics {
            scores.push((metric, metric.regression(&truth, &predictions.values)?));
        }
    }
    Ok(scores)
}

/// Scores a forecasting model on a table of future rows holding their actual values (a
/// forecasting job's `test_data`): every row is forecast by
/// [`ForecastModel::predict_rolling`] (rows beyond the horizon from the actual values before
/// their origin), and the rows with a label are scored all series pooled, once: the primary
/// metric first, then the other reported ones and MAPE ([`crate::forecast::metrics::report`]).
/// The normalized RMSE is the benchmark's figure: the RMSE over every scored row divided by the
/// range of their actual values.
pub fn score_forecast(
    model: &ForecastModel,
    data: &Dataset,
    primary: Metric,
) -> Result<Vec<(String, f64)>> {
    let label = data.column(&model.label).ok_or_else(|| {
        AutotabError::data(format!(
            "label column '{}' not found; the columns are: {}",
            model.label,
            data.names().join(", ")
        ))
    })?;
    let forecast = model.predict_rolling(data, &[])?;
    let (mut actual, mut predicted) = (Vec::new(), Vec::new());
    for (i, p) in forecast.values.iter().enumerate() {
        if label.values.is_missing(i) {
            continue;
        }
        let text = label.values.text_at(i).unwrap_or_default();
        let value = crate::data::parse_number(&text).ok_or_else(|| {
            AutotabError::data(format!(
                "line {}: label '{}' value '{text}' is not a number",
                i + 2,
                model.label
            ))
        })?;
        actual.push(value);
        predicted.push(*p);
    }
    if actual.is_empty() {
        return Err(AutotabError::data(format!(
            "no row has a value in the label column '{}'",
            model.label
        )));
    }
    let mut scores = crate::forecast::metrics::report(&actual, &predicted)?;
    if let Some(at) = scores.iter().position(|(name, _)| name == primary.name()) {
        let first = scores.remove(at);
        scores.insert(0, first);
    }
    Ok(scores)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{load_table, LoadOptions};
    use crate::engine::Recipe;
    use crate::models::Algorithm;
    use crate::JobSpec;

    fn dataset(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("datasets")
            .join(name)
    }

    fn recipe(algorithm: Algorithm) -> Recipe {
        Recipe::single(algorithm, crate::models::Params::new())
    }

    #[test]
    fn scores_a_classifier_on_its_own_rows_and_refuses_unknown_classes() {
        let spec = JobSpec::new(dataset("heart_failure.csv"), "DEATH_EVENT");
        let (pipeline, _) =
            crate::engine::fit_recipe(&spec, &recipe(Algorithm::DecisionTree)).unwrap();
        let data = load_table(&dataset("heart_failure.csv"), &LoadOptions::default()).unwrap();
        let metrics = test_metrics(Task::Classification, Metric::AucWeighted);
        assert_eq!(metrics[0], Metric::AucWeighted);
        assert_eq!(metrics.len(), 3);
        let scores = score_table(&pipeline, &data, &metrics).unwrap();
        assert_eq!(scores.len(), 3);
        // A tree scored on the rows it was fitted on is better than chance.
        assert!(scores.iter().all(|(_, v)| *v > 0.5), "{scores:?}");

        let err = score_table(&pipeline, &data.without("DEATH_EVENT"), &metrics).unwrap_err();
        assert!(
            err.to_string().contains("label column 'DEATH_EVENT'"),
            "{err}"
        );
        let err = score_table(&pipeline, &data, &[Metric::R2]).unwrap_err();
        assert!(err.to_string().contains("does not apply"), "{err}");
    }
}
