#!/usr/bin/env python3
"""Reference probabilities of scikit-learn's GaussianNB for autotab's naive Bayes.

Writes tests/fixtures/naive_bayes/sklearn_gaussian_nb.json, which src/models/naive_bayes.rs
checks to 1e-9 (absolute on predict_proba, relative on predict_log_proba). Run from the repository root with scikit-learn
installed (from PyPI: `pip install scikit-learn`):

    python reports/scripts/make_naive_bayes_fixture.py

Each case is a small fixed training set (features on different scales, one constant within a
class, three classes of unequal size), a var_smoothing value, optional sample weights, test
rows (some far outside the training range) and GaussianNB(var_smoothing=...).predict_proba of
those rows. The JSON records the library versions used.
"""

import json
import os
import platform

import numpy as np
import sklearn
from sklearn.naive_bayes import GaussianNB

OUT = os.path.join("tests", "fixtures", "naive_bayes", "sklearn_gaussian_nb.json")
SEED = 20261202


def make_data(rng):
    sizes = [14, 9, 5]
    centres = np.array([[0.0, 10.0, -3.0, 1.0], [0.8, 12.0, -3.0, 0.8], [-0.5, 8.0, -3.0, 1.2]])
    scales = np.array([1.0, 4.0, 0.5, 0.3])
    xs, ys = [], []
    for c, n in enumerate(sizes):
        x = centres[c] + rng.normal(size=(n, 4)) * scales
        if c == 0:
            x[:, 2] = -3.0  # constant within class 0
        xs.append(x)
        ys.extend([c] * n)
    x = np.vstack(xs)
    y = np.array(ys)
    order = rng.permutation(len(y))
    return x[order], y[order]


def main():
    rng = np.random.default_rng(SEED)
    x, y = make_data(rng)
    x_test = np.vstack([x[:4],
                        rng.normal(size=(6, 4)) * [1.0, 4.0, 0.5, 0.3] + [0.0, 10.0, -3.0, 1.0],
                        [[30.0, -50.0, 4.0, 9.0], [-20.0, 80.0, -3.0, -5.0]]])
    weights = rng.uniform(0.2, 3.0, size=len(y))
    cases = []
    for name, smoothing, w in [
        ("default smoothing", 1e-9, None),
        ("heavy smoothing", 1e-2, None),
        ("sample weights", 1e-9, weights),
    ]:
        model = GaussianNB(var_smoothing=smoothing).fit(x, y, sample_weight=w)
        cases.append({
            "name": name,
            "var_smoothing": smoothing,
            "x_train": x.tolist(),
            "y_train": y.tolist(),
            "weights": None if w is None else w.tolist(),
            "x_test": x_test.tolist(),
            "predict_proba": model.predict_proba(x_test).tolist(),
            "predict_log_proba": model.predict_log_proba(x_test).tolist(),
        })
    doc = {
        "generator": "reports/scripts/make_naive_bayes_fixture.py",
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
        },
        "cases": cases,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}: {len(cases)} cases")


if __name__ == "__main__":
    main()
