"""How much LightGBM's own test AUC moves with its binning settings (same rows, same 200 x 31
leaves x 0.1 boosting), to judge the gap between our binning and LightGBM's.

    ~/.venvs/anchors/bin/python reports/scripts/lgbm_bin_sensitivity.py <dataset> [encoded-dir]
"""
import json
import sys

import lightgbm as lgb
import numpy as np
from sklearn.metrics import roc_auc_score

name = sys.argv[1]
d = sys.argv[2] if len(sys.argv) > 2 else "/tmp/trees-vs-lgbm"
p = json.load(open(f"{d}/{name}.json"))["n_features"]
a = np.fromfile(f"{d}/{name}.train.f64").reshape(-1, p + 1)
b = np.fromfile(f"{d}/{name}.test.f64").reshape(-1, p + 1)
for max_bin in [63, 127, 255, 511]:
    for min_data_in_bin in [1, 3]:
        m = lgb.LGBMClassifier(n_estimators=200, num_leaves=31, learning_rate=0.1, max_bin=max_bin,
                               min_data_in_bin=min_data_in_bin, verbose=-1, n_jobs=1)
        m.fit(a[:, :p], a[:, p])
        auc = roc_auc_score(b[:, p], m.predict_proba(b[:, :p])[:, 1])
        print(f"max_bin={max_bin} min_data_in_bin={min_data_in_bin} auc={auc:.5f}")
