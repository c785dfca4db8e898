"""scikit-learn side of the forest comparison in reports/trees-vs-lightgbm.md.

    ~/.venvs/anchors/bin/python reports/scripts/sklearn_forests.py <dataset> <encoded-dir>

100 trees, n_jobs=1, scikit-learn defaults otherwise; reads the matrices written by
`trees_vs_lightgbm prepare` (NaN replaced by -1e30 only if present, since older trees reject it).
"""
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.ensemble import (ExtraTreesClassifier, ExtraTreesRegressor, RandomForestClassifier,
                              RandomForestRegressor)
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score

name, d = sys.argv[1], Path(sys.argv[2])
meta = json.loads((d / f"{name}.json").read_text())
p, binary = meta["n_features"], meta["binary"]
tr = np.fromfile(d / f"{name}.train.f64").reshape(-1, p + 1)
te = np.fromfile(d / f"{name}.test.f64").reshape(-1, p + 1)
x, y, tx, ty = tr[:, :p], tr[:, p], te[:, :p], te[:, p]
models = ({"sklearn_rf": RandomForestClassifier, "sklearn_et": ExtraTreesClassifier} if binary
          else {"sklearn_rf": RandomForestRegressor, "sklearn_et": ExtraTreesRegressor})
for system, cls in models.items():
    m = cls(n_estimators=100, n_jobs=1, random_state=0)
    t0 = time.perf_counter()
    m.fit(x, y)
    train_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    pred = m.predict_proba(tx)[:, 1] if binary else m.predict(tx)
    predict_s = time.perf_counter() - t1
    out = dict(system=system, dataset=name, train_s=round(train_s, 3), predict_s=round(predict_s, 3))
    if binary:
        out.update(auc=round(roc_auc_score(ty, pred), 5), accuracy=round(accuracy_score(ty, pred >= 0.5), 5))
    else:
        out.update(r2=round(r2_score(ty, pred), 5))
    print(json.dumps(out))
