"""How many boosting rounds a refit on all rows should train: LightGBM's rounds early-stopped
as autotab's trials stop them (on a 1/7 inner split of the 90% training part of a 10% holdout,
patience 5 / learning rate), then refit on every training row with the kept rounds multiplied
by a factor. Prints the test metric per factor: mean over five seeds and two boosters, the mean
paired difference against the kept rounds, and how many of the ten runs it beat them in.
Features: one-hot plus the label order of `category_encodings.py`. What `refit_rounds_scale`
in `src/engine/finalize.rs` is based on.

    python3 reports/scripts/refit_rounds.py <bench folder> <split> [<split> ...]
"""
import os
import sys

import numpy as np
import pandas as pd
import lightgbm as lgb
from sklearn.model_selection import train_test_split

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from category_encodings import load, one_hot, label_order
from crossfit_study import fit_es, metric, predict

FACTORS = [1.0, 1.1, 1.2, 1.35]
SEEDS = range(5)
BOOSTERS = [dict(learning_rate=0.05, num_leaves=15, colsample_bytree=0.7, subsample=0.8, min_child_samples=10),
            dict(learning_rate=0.03, num_leaves=31, colsample_bytree=0.8, subsample=0.8, min_child_samples=5)]

def main():
    root, names = sys.argv[1], sys.argv[2:]
    print("| split | " + " | ".join(f"x{f}" for f in FACTORS) + " |")
    for name in names:
        train, y, test, y_test, categorical, regression = load(root, name)
        a, b = one_hot(train, test, categorical)
        oa, ob = label_order(train, y, test, categorical)
        x = pd.concat([a, oa.set_index(a.index)], axis=1)
        xt = pd.concat([b, ob.set_index(b.index)], axis=1)
        model = lgb.LGBMRegressor if regression else lgb.LGBMClassifier
        rows = {f: [] for f in FACTORS}
        for bp in BOOSTERS:
            for seed in SEEDS:
                p = dict(bp, subsample_freq=1, verbose=-1, n_jobs=2, random_state=seed)
                x90, _, y90, _ = train_test_split(x, y, test_size=0.1, random_state=seed)
                _, r = fit_es(model, p, x90, y90, seed)
                for f in FACTORS:
                    m = model(n_estimators=max(1, round(r * f)), **p).fit(x, y)
                    s = metric(y_test, predict(m, xt, regression), regression)
                    rows[f].append(s)
        base = np.array(rows[1.0])
        cells = [f"{np.mean(rows[f]):.5f} ({np.mean(np.array(rows[f]) - base):+.5f}, wins {np.sum(np.array(rows[f]) > base)}/{len(base)})" for f in FACTORS]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)

main()
