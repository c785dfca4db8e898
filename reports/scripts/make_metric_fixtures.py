#!/usr/bin/env python3
"""Reference values of every autotab metric, computed with scikit-learn and SciPy.

Writes tests/fixtures/metrics/sklearn_metrics.json, which src/metrics/mod.rs checks to 1e-9
(relative). Run from the repository root:

    ~/.venvs/anchors/bin/python reports/scripts/make_metric_fixtures.py

Made with scikit-learn 1.9.1, numpy 2.4.6, scipy 1.17.1 (Python 3.11), the versions the
anchor scripts pin; the JSON records the versions actually used.

Conventions (the ones documented in src/metrics/mod.rs):
- y_true holds class indices 0..k-1; proba has one column per class; the predicted class is
  numpy's argmax (ties go to the lowest index).
- Precision, recall and F1 use scikit-learn's default labels (classes seen in y_true or in the
  predictions) and zero_division=0.
- AUC_weighted / AUC_macro with two classes: roc_auc_score(y, proba[:, 1]). Otherwise
  one-vs-rest: a per-class roc_auc_score(y == c, proba[:, c]) over the classes present in
  y_true, averaged by support (weighted) or plainly (macro). When every class is present this
  is checked to equal roc_auc_score(..., multi_class="ovr", average=...). A single-class
  y_true makes scikit-learn raise: the JSON holds null (autotab returns NaN).
- AUC_micro / average_precision_score_micro: on the one-hot n x k labels against all of proba.
- average_precision_score_weighted / _macro: per-class average_precision_score over the
  classes present in y_true (also for two classes), averaged like AUC.
- norm_macro_recall = max(0, (recall_macro - 1/k) / (1 - 1/k)), k = number of proba columns.
- log_loss with labels=range(k) on probabilities that sum to one and stay away from 0 and 1.
- normalized errors divide by max(y_true) - min(y_true), or by 1 when y_true is constant.
- spearman_correlation is scipy.stats.spearmanr; null where SciPy gives NaN (constant input).
"""

import json
import math
import os
import platform
import sys

import numpy as np
import scipy
import sklearn
from scipy.stats import spearmanr
from sklearn import metrics as skm

COMMAND = "~/.venvs/anchors/bin/python reports/scripts/make_metric_fixtures.py"
OUT = os.path.join("tests", "fixtures", "metrics", "sklearn_metrics.json")
SEED = 20261126


def finite_or_none(x):
    x = float(x)
    return x if math.isfinite(x) else None


def ovr(y, proba, per_class, average):
    """Per-class scores over the classes present in y, averaged as documented above."""
    values, weights = [], []
    for c in range(proba.shape[1]):
        support = int(np.sum(y == c))
        if support == 0:
            continue
        positives = (y == c).astype(int)
        if positives.min() == positives.max() and per_class is skm.roc_auc_score:
            continue  # AUC undefined for a class that is every row
        values.append(per_class(positives, proba[:, c]))
        weights.append(support if average == "weighted" else 1)
    if not values:
        return None
    return float(np.average(values, weights=weights))


def classification_metrics(y, proba):
    k = proba.shape[1]
    onehot = np.eye(k, dtype=int)[y]
    y_pred = proba.argmax(axis=1)
    present = np.unique(y)
    all_present = len(present) == k
    out = {}

    for average in ("weighted", "macro"):
        name = f"AUC_{average}"
        if len(present) < 2:
            out[name] = None
        elif k == 2:
            out[name] = float(skm.roc_auc_score(y, proba[:, 1]))
        else:
            value = ovr(y, proba, skm.roc_auc_score, average)
            if all_present:
                direct = skm.roc_auc_score(
                    y, proba, multi_class="ovr", average=average, labels=list(range(k))
                )
                assert abs(direct - value) < 1e-12, (name, direct, value)
            out[name] = value
    out["AUC_micro"] = float(skm.roc_auc_score(onehot.ravel(), proba.ravel()))

    for average in ("weighted", "macro"):
        value = ovr(y, proba, skm.average_precision_score, average)
        if all_present:
            direct = skm.average_precision_score(onehot, proba, average=average)
            assert abs(direct - value) < 1e-12, (average, direct, value)
        out[f"average_precision_score_{average}"] = value
    out["average_precision_score_micro"] = float(
        skm.average_precision_score(onehot, proba, average="micro")
    )

    out["accuracy"] = float(skm.accuracy_score(y, y_pred))
    out["balanced_accuracy"] = float(skm.balanced_accuracy_score(y, y_pred))
    for short, fn in (
        ("f1_score", skm.f1_score),
        ("precision_score", skm.precision_score),
        ("recall_score", skm.recall_score),
    ):
        for average in ("weighted", "macro", "micro"):
            out[f"{short}_{average}"] = float(fn(y, y_pred, average=average, zero_division=0))
    chance = 1.0 / k
    out["norm_macro_recall"] = max(0.0, (out["recall_score_macro"] - chance) / (1 - chance))
    out["log_loss"] = float(skm.log_loss(y, proba, labels=list(range(k))))
    out["matthews_correlation"] = float(skm.matthews_corrcoef(y, y_pred))
    return out


def regression_metrics(y, p):
    spread = float(y.max() - y.min())
    spread = spread if spread > 0 else 1.0
    rmse = float(skm.root_mean_squared_error(y, p))
    mae = float(skm.mean_absolute_error(y, p))
    return {
        "r2_score": float(skm.r2_score(y, p)),
        "spearman_correlation": finite_or_none(spearmanr(y, p).statistic),
        "normalized_root_mean_squared_error": rmse / spread,
        "normalized_mean_absolute_error": mae / spread,
        "root_mean_squared_error": rmse,
        "mean_absolute_error": mae,
    }


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def classification_cases(rng):
    cases = []

    # Binary with many tied scores (one decimal), never exactly 0 or 1.
    n = 60
    y = rng.integers(0, 2, n)
    p1 = np.clip(np.round(0.5 + 0.25 * (y - 0.5) + rng.normal(0, 0.2, n), 1), 0.1, 0.9)
    cases.append(("binary_ties", y, np.column_stack([1 - p1, p1])))

    # Binary, larger, scores that do not separate the classes well.
    n = 500
    y = (rng.random(n) < 0.3).astype(int)
    p1 = 1 / (1 + np.exp(-(0.8 * y - 0.4 + rng.normal(0, 1, n))))
    cases.append(("binary_500", y, np.column_stack([1 - p1, p1])))

    # Binary where y_true holds one class: AUC undefined.
    n = 12
    y = np.ones(n, dtype=int)
    p1 = np.round(rng.uniform(0.05, 0.95, n), 2)
    cases.append(("binary_one_class", y, np.column_stack([1 - p1, p1])))

    # Three classes; rows are small integer weights over their sum, so scores tie across rows.
    n = 90
    y = rng.integers(0, 3, n)
    w = rng.integers(1, 5, (n, 3)).astype(float)
    w[np.arange(n), y] += rng.integers(0, 4, n)
    cases.append(("multiclass_3_ties", y, w / w.sum(axis=1, keepdims=True)))

    # Five classes, class 2 absent from y_true but sometimes predicted.
    n = 80
    y = rng.choice([0, 1, 3, 4], n, p=[0.4, 0.3, 0.2, 0.1])
    z = rng.normal(0, 1, (n, 5))
    z[np.arange(n), y] += 1.0
    z[:, 2] += 0.6
    cases.append(("multiclass_5_absent", y, softmax(z)))

    return cases


def regression_cases(rng):
    cases = []
    n = 50
    y = rng.normal(10, 3, n)
    cases.append(("regression_noise", y, y + rng.normal(0, 1.5, n)))

    n = 40
    y = rng.integers(0, 6, n).astype(float)
    cases.append(("regression_ties", y, np.round(y + rng.normal(0, 1.2, n))))

    y = np.full(8, 3.0)
    cases.append(("regression_constant_truth", y, y + rng.normal(0, 0.5, 8)))

    y = rng.normal(0, 1, 20)
    cases.append(("regression_perfect", y, y.copy()))
    return cases


def main():
    rng = np.random.default_rng(SEED)
    fixture = {
        "command": COMMAND,
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "scipy_version": scipy.__version__,
        "python_version": platform.python_version(),
        "seed": SEED,
        "note": "null means scikit-learn/SciPy raise or return NaN; autotab returns NaN",
        "classification": [
            {
                "name": name,
                "y_true": [int(v) for v in y],
                "proba": proba.tolist(),
                "expected": classification_metrics(y, proba),
            }
            for name, y, proba in classification_cases(rng)
        ],
        "regression": [
            {
                "name": name,
                "y_true": y.tolist(),
                "y_pred": p.tolist(),
                "expected": regression_metrics(y, p),
            }
            for name, y, p in regression_cases(rng)
        ],
    }
    with open(OUT, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT} with sklearn {sklearn.__version__}", file=sys.stderr)


if __name__ == "__main__":
    main()
