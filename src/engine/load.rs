//! Stage 1, load: the job's tables read, the label encoded, rows without a label dropped, the
//! task, metric and schema worked out.

use crate::data::{
    concat_rows, infer_schema, load_table_with_report, Dataset, LoadOptions, Schema,
};
use crate::error::{AutotabError, Result};
use crate::job::JobSpec;
use crate::metrics::Metric;
use crate::target::{encode_label, infer_task, LabelEncoding, Targets};
use crate::task::Task;

/// The job's rows as given: the training table, with a given validation table appended.
#[derive(Debug, Clone)]
pub struct JobTable {
    /// Training rows, then the validation table's rows.
    pub data: Dataset,
    /// Rows of the given validation table (at the end of `data`), if one was given.
    pub n_given_valid: Option<usize>,
    /// What the loaders read leniently (rows with too few fields), one line each.
    pub notes: Vec<String>,
}

impl JobTable {
    /// Training rows only (no validation table).
    pub fn training(data: Dataset) -> JobTable {
        JobTable {
            data,
            n_given_valid: None,
            notes: Vec::new(),
        }
    }
}

/// The data ready to split: label encoded, rows without a label dropped, schema inferred.
#[derive(Debug)]
pub(crate) struct LoadedData {
    /// Every kept row, label included.
    pub data: Dataset,
    /// The same rows without the label.
    pub features: Dataset,
    /// The label column's name.
    pub label: String,
    /// The encoded label.
    pub targets: Targets,
    /// How outputs map back to label values.
    pub encoding: LabelEncoding,
    /// The task solved.
    pub task: Task,
    /// The primary metric.
    pub metric: Metric,
    /// The inferred schema.
    pub schema: Schema,
    /// Class counts (classification), in class order.
    pub class_counts: Vec<(String, usize)>,
    /// Rows of a given validation table (at the end of `data`).
    pub n_given_valid: Option<usize>,
    /// Rows dropped for a missing label.
    pub dropped: usize,
    /// What the loaders read leniently, one line each.
    pub notes: Vec<String>,
}

/// Reads the training table (and the validation table, appended at the end).
pub fn load_job_table(spec: &JobSpec) -> Result<JobTable> {
    let options = LoadOptions::default();
    let training = &spec.data.training.path;
    let (train, report) = load_table_with_report(training, &options)?;
    let mut notes = report.messages(training);
    let Some(valid_path) = &spec.data.validation else {
        return Ok(JobTable {
            notes,
            ..JobTable::training(train)
        });
    };
    let (valid, report) = load_table_with_report(&valid_path.path, &options)?;
    notes.extend(report.messages(&valid_path.path));
    let n_valid = valid.n_rows();
    let data = concat_rows(&[train, valid], |_| {
        format!("{valid_path} (the validation data)")
    })?;
    Ok(JobTable {
        data,
        n_given_valid: Some(n_valid),
        notes,
    })
}

/// Works out task, metric, targets and schema of `table` for `spec`.
pub(crate) fn prepare(spec: &JobSpec, table: JobTable) -> Result<LoadedData> {
    let JobTable {
        data,
        n_given_valid,
        notes,
    } = table;
    let label_column = data.require(&spec.data.label).map_err(|_| {
        AutotabError::data(format!(
            "{}: label column '{}' not found; the columns are: {}",
            spec.data.training,
            spec.data.label,
            data.names().join(", ")
        ))
    })?;
    let task = spec.task.unwrap_or_else(|| infer_task(label_column));
    if task == Task::Forecasting {
        return Err(AutotabError::config(
            "a forecasting job runs through AutoMl::fit or engine::forecast, not the tabular run",
        ));
    }
    let metric = spec.metric.unwrap_or_else(|| Metric::default_for(task));
    metric.check_task(task)?;
    let (encoding, targets, kept) = encode_label(label_column, task)?;
    let total = data.n_rows();
    let dropped = total - kept.len();
    let n_given_valid = n_given_valid.map(|n| kept.iter().filter(|&&i| i >= total - n).count());
    let data = if dropped > 0 {
        data.select_rows(&kept)
    } else {
        data
    };
    let features = data.without(&spec.data.label);
    let schema = infer_schema(&data, &spec.data.label, &spec.featurization.column_kinds)?;
    if schema.features().next().is_none() {
        return Err(AutotabError::data(format!(
            "{}: no usable feature column (all are ID-like or constant)",
            spec.data.training
        )));
    }
    let class_counts = class_counts(&targets, &encoding);
    Ok(LoadedData {
        data,
        features,
        label: spec.data.label.clone(),
        targets,
        encoding,
        task,
        metric,
        schema,
        class_counts,
        n_given_valid,
        dropped,
        notes,
    })
}

fn class_counts(targets: &Targets, encoding: &LabelEncoding) -> Vec<(String, usize)> {
    match targets {
        Targets::Classes(labels, n) => {
            let mut counts = vec![0usize; *n];
            labels.iter().for_each(|&l| counts[l] += 1);
            encoding.classes().iter().cloned().zip(counts).collect()
        }
        Targets::Values(_) => Vec::new(),
    }
}
