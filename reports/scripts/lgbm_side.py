"""LightGBM side of reports/trees-vs-lightgbm.md.

Reads the matrices written by `cargo run --release --example trees_vs_lightgbm -- prepare ...`
(row-major float64, label last) and trains LightGBM with the same settings as the Rust side:
200 rounds, 31 leaves, learning rate 0.1, everything else at LightGBM's defaults, no categorical
features. Prints one JSON line like the Rust example.

    ~/.venvs/anchors/bin/python reports/scripts/lgbm_side.py <dataset> <encoded-dir> <threads>
"""
import json
import sys
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
from sklearn.metrics import r2_score, roc_auc_score


def load(d: Path, name: str, part: str, p: int):
    a = np.fromfile(d / f"{name}.{part}.f64", dtype="<f8").reshape(-1, p + 1)
    return a[:, :p], a[:, p]


def main() -> None:
    name, d, threads = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    meta = json.loads((d / f"{name}.json").read_text())
    p, binary = meta["n_features"], meta["binary"]
    x, y = load(d, name, "train", p)
    tx, ty = load(d, name, "test", p)
    common = dict(n_estimators=200, num_leaves=31, learning_rate=0.1, n_jobs=threads, verbose=-1, random_state=0)
    model = lgb.LGBMClassifier(**common) if binary else lgb.LGBMRegressor(**common)
    t0 = time.perf_counter()
    model.fit(x, y)
    train_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    pred = model.predict_proba(tx)[:, 1] if binary else model.predict(tx)
    predict_s = time.perf_counter() - t1
    metric, value = ("auc", roc_auc_score(ty, pred)) if binary else ("r2", r2_score(ty, pred))
    print(json.dumps(dict(system="lightgbm", dataset=name, threads=threads, train_s=round(train_s, 4),
                          predict_s=round(predict_s, 4), metric=metric, value=round(value, 5),
                          n_train=len(y), n_test=len(ty))))


if __name__ == "__main__":
    main()
