//! The machine-learning task a job solves.

use serde::{Deserialize, Serialize};

use crate::error::{AutotabError, Result};

/// What kind of prediction a job makes. Binary and multiclass are both `Classification`;
/// the number of classes is a property of the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Predict one of a finite set of labels (two or more classes).
    Classification,
    /// Predict a real number.
    Regression,
    /// Predict future values of a time series.
    Forecasting,
}

impl Task {
    /// The task's name as Azure ML spells it (`classification`, `regression`, `forecasting`).
    pub fn name(self) -> &'static str {
        match self {
            Task::Classification => "classification",
            Task::Regression => "regression",
            Task::Forecasting => "forecasting",
        }
    }

    /// Parses a task name; accepts `binary` and `multiclass` as classification.
    pub fn parse(name: &str) -> Result<Task> {
        match name.trim().to_ascii_lowercase().as_str() {
            "classification" | "binary" | "multiclass" => Ok(Task::Classification),
            "regression" => Ok(Task::Regression),
            "forecasting" => Ok(Task::Forecasting),
            other => Err(AutotabError::config(format!(
                "unknown task '{other}': expected classification, regression or forecasting"
            ))),
        }
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
