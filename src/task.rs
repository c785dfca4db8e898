//! The machine-learning task a job solves.

use serde::{Deserialize, Serialize};
use strum::VariantArray;

use crate::error::{AutotabError, Result};

/// What kind of prediction a job makes. Binary and multiclass are both `Classification`;
/// the number of classes is a property of the data.
///
/// Names (as Azure ML spells them, the serde form too) and aliases live in the `strum`
/// attributes.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
    strum::EnumMessage,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case", ascii_case_insensitive)]
pub enum Task {
    /// Predict one of a finite set of labels (two or more classes).
    #[strum(
        to_string = "classification",
        serialize = "binary",
        serialize = "multiclass"
    )]
    Classification,
    /// Predict a real number.
    Regression,
    /// Predict future values of a time series.
    Forecasting,
}

impl Task {
    /// The task's name as Azure ML spells it (`classification`, `regression`, `forecasting`).
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Parses a task name, ignoring case and surrounding spaces; accepts `binary` and
    /// `multiclass` as classification.
    pub fn parse(name: &str) -> Result<Task> {
        let wanted = name.trim();
        wanted.parse().map_err(|_| {
            AutotabError::config(format!(
                "unknown task '{}': expected {}",
                wanted.to_ascii_lowercase(),
                Task::VARIANTS
                    .iter()
                    .map(|t| t.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }
}

crate::names::value_enum!(Task, Task::VARIANTS);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_match_the_serde_form() {
        for task in Task::VARIANTS {
            assert_eq!(Task::parse(task.name()).unwrap(), *task);
            assert_eq!(Task::parse(&task.name().to_uppercase()).unwrap(), *task);
            let json = serde_json::to_string(task).unwrap();
            assert_eq!(json, format!("\"{task}\""));
        }
        assert_eq!(Task::parse(" Binary ").unwrap(), Task::Classification);
        assert_eq!(Task::parse("multiclass").unwrap(), Task::Classification);
        let err = Task::parse("ranking").unwrap_err().to_string();
        assert!(
            err.contains("'ranking'") && err.contains("classification, regression, forecasting"),
            "{err}"
        );
    }
}
