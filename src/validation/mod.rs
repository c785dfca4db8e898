//! How rows are split for validation: k-fold, stratified k-fold, holdout, or a given
//! validation table, with Azure AutoML's defaults by data size.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{AutotabError, Result};
use crate::target::Targets;

/// One train/validation split, as row indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fold {
    /// Rows to train on.
    pub train: Vec<usize>,
    /// Rows to score.
    pub valid: Vec<usize>,
}

/// The validation scheme of a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidationPlan {
    /// k folds (stratified by class for classification).
    CrossValidation {
        /// Number of folds.
        folds: usize,
    },
    /// One random holdout of the given share of rows.
    Holdout {
        /// Share of rows held out, in (0, 1).
        fraction: f64,
    },
    /// The last `n_valid` rows are a user-given validation table.
    Given {
        /// Number of validation rows at the end.
        n_valid: usize,
    },
}

impl ValidationPlan {
    /// Azure AutoML's default for `n_rows` rows: 10-fold under 1,000 rows, 3-fold up to
    /// 20,000, then a 10% holdout.
    pub fn default_for(n_rows: usize) -> ValidationPlan {
        if n_rows < 1_000 {
            ValidationPlan::CrossValidation { folds: 10 }
        } else if n_rows <= 20_000 {
            ValidationPlan::CrossValidation { folds: 3 }
        } else {
            ValidationPlan::Holdout { fraction: 0.1 }
        }
    }

    /// A short description: `10-fold CV`, `10% holdout`, `given validation data (60 rows)`.
    pub fn describe(&self) -> String {
        match self {
            ValidationPlan::CrossValidation { folds } => format!("{folds}-fold cross-validation"),
            ValidationPlan::Holdout { fraction } => format!("{:.0}% holdout", fraction * 100.0),
            ValidationPlan::Given { n_valid } => format!("given validation data ({n_valid} rows)"),
        }
    }

    /// Splits `targets.len()` rows. Classification targets are stratified.
    pub fn folds(&self, targets: &Targets, seed: u64) -> Result<Vec<Fold>> {
        let n = targets.len();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        match *self {
            ValidationPlan::CrossValidation { folds } => {
                if folds < 2 {
                    return Err(AutotabError::config(format!(
                        "n_cross_validations must be at least 2, got {folds}"
                    )));
                }
                if folds > n {
                    return Err(AutotabError::config(format!(
                        "{folds}-fold cross-validation needs at least {folds} rows, the data has {n}"
                    )));
                }
                let assignment = assign_folds(targets, folds, &mut rng);
                Ok((0..folds)
                    .map(|f| Fold {
                        train: (0..n).filter(|&i| assignment[i] != f).collect(),
                        valid: (0..n).filter(|&i| assignment[i] == f).collect(),
                    })
                    .collect())
            }
            ValidationPlan::Holdout { fraction } => {
                if !(fraction > 0.0 && fraction < 1.0) {
                    return Err(AutotabError::config(format!(
                        "validation_size must be between 0 and 1, got {fraction}"
                    )));
                }
                let parts = (1.0 / fraction).round().max(2.0) as usize;
                let assignment = assign_folds(targets, parts, &mut rng);
                let fold = Fold {
                    train: (0..n).filter(|&i| assignment[i] != 0).collect(),
                    valid: (0..n).filter(|&i| assignment[i] == 0).collect(),
                };
                Ok(vec![fold])
            }
            ValidationPlan::Given { n_valid } => {
                if n_valid == 0 || n_valid >= n {
                    return Err(AutotabError::config(
                        "validation data must have rows and leave training rows",
                    ));
                }
                Ok(vec![Fold {
                    train: (0..n - n_valid).collect(),
                    valid: (n - n_valid..n).collect(),
                }])
            }
        }
    }
}

/// Mean number of training rows of `folds`.
pub fn mean_train_rows(folds: &[Fold]) -> f64 {
    folds.iter().map(|f| f.train.len()).sum::<usize>() as f64 / folds.len().max(1) as f64
}

/// `cap` row numbers out of `0..n`, drawn with `seed`, in increasing order.
pub fn subsample_rows(n: usize, cap: usize, seed: u64) -> Vec<usize> {
    let mut rows: Vec<usize> = (0..n).collect();
    rows.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    rows.truncate(cap);
    rows.sort_unstable();
    rows
}

/// Splits `targets`' rows into an inner training part and an inner validation part of about
/// `1 / parts` of them (stratified for classes), drawn with `seed`: what boosting stops its
/// rounds on inside a fold, so that the fold's own validation rows stay unseen.
pub fn inner_split(targets: &Targets, parts: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let assignment = assign_folds(targets, parts.max(2), &mut ChaCha8Rng::seed_from_u64(seed));
    let (mut train, mut valid) = (Vec::new(), Vec::new());
    for (i, part) in assignment.into_iter().enumerate() {
        if part == 0 {
            valid.push(i);
        } else {
            train.push(i);
        }
    }
    (train, valid)
}

/// Gives each row a part in `0..parts`: classes dealt round-robin after shuffling
/// (stratified), plain shuffled round-robin for regression.
fn assign_folds(targets: &Targets, parts: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let n = targets.len();
    let mut assignment = vec![0; n];
    let groups: Vec<Vec<usize>> = match targets {
        Targets::Classes(labels, n_classes) => {
            let mut groups = vec![Vec::new(); *n_classes];
            for (i, &l) in labels.iter().enumerate() {
                groups[l].push(i);
            }
            groups
        }
        Targets::Values(_) => vec![(0..n).collect()],
    };
    let mut offset = 0;
    for mut group in groups {
        group.shuffle(rng);
        for (k, i) in group.into_iter().enumerate() {
            assignment[i] = (k + offset) % parts;
        }
        // Continue dealing where the previous class stopped so fold sizes stay balanced.
        offset = (offset + 1) % parts;
    }
    assignment
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_split_partitions_rows_and_keeps_class_shares() {
        let labels: Vec<usize> = (0..140).map(|i| usize::from(i % 4 == 0)).collect();
        let (train, valid) = inner_split(&Targets::Classes(labels.clone(), 2), 7, 3);
        assert_eq!(train.len() + valid.len(), 140);
        assert_eq!(valid.len(), 20);
        let positives = valid.iter().filter(|&&i| labels[i] == 1).count();
        assert_eq!(positives, 5, "a seventh of the 35 positives");
        let mut all: Vec<usize> = train.iter().chain(&valid).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..140).collect::<Vec<_>>());
    }

    #[test]
    fn stratified_folds_partition_rows_and_keep_class_shares() {
        let labels: Vec<usize> = (0..100).map(|i| usize::from(i % 4 == 0)).collect();
        let targets = Targets::Classes(labels.clone(), 2);
        let folds = ValidationPlan::CrossValidation { folds: 5 }
            .folds(&targets, 7)
            .unwrap();
        let mut seen = vec![0; 100];
        for f in &folds {
            assert_eq!(f.train.len() + f.valid.len(), 100);
            for &i in &f.valid {
                seen[i] += 1;
            }
            let positives = f.valid.iter().filter(|&&i| labels[i] == 1).count();
            assert_eq!(positives, 5, "each fold gets 5 of the 25 positives");
        }
        assert!(seen.iter().all(|&c| c == 1));
    }

    #[test]
    fn defaults_follow_azure_by_size() {
        assert_eq!(
            ValidationPlan::default_for(299),
            ValidationPlan::CrossValidation { folds: 10 }
        );
        assert_eq!(
            ValidationPlan::default_for(5_000),
            ValidationPlan::CrossValidation { folds: 3 }
        );
        assert_eq!(
            ValidationPlan::default_for(40_000),
            ValidationPlan::Holdout { fraction: 0.1 }
        );
    }

    #[test]
    fn holdout_and_given_splits() {
        let targets = Targets::Values((0..1000).map(f64::from).collect());
        let f = ValidationPlan::Holdout { fraction: 0.1 }
            .folds(&targets, 1)
            .unwrap();
        assert_eq!(f[0].valid.len(), 100);
        let g = ValidationPlan::Given { n_valid: 10 }
            .folds(&targets, 1)
            .unwrap();
        assert_eq!(g[0].valid, (990..1000).collect::<Vec<_>>());
        assert!(ValidationPlan::CrossValidation { folds: 1 }
            .folds(&targets, 1)
            .is_err());
    }
}
