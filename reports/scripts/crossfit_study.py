"""Selection and final model after a search on a 10% holdout, three ways, with LightGBM and the
boosting configurations autotab's 60 s runs put in their votes (from the run logs):

  holdout  each configuration early-stopped on a 1/7 inner split of the 90% part, greedy
           selection (Caruana, 20 steps, with replacement) on the 10% holdout, members refit
           on all rows with rounds x 1.14 (what autotab ships today);
  bagged   5-fold cross-fit of the same configurations, greedy selection on the out-of-fold
           predictions of all rows, the 5 fold models of each member averaged;
  oof+refit the weights of `bagged`, members refit on all rows (rounds: mean of the folds' x 1.12).

Prints the test metric, mean over seeds, and the paired difference against `holdout`.

    python3 reports/scripts/crossfit_study.py <bench folder> <split> [<split> ...]
"""
import os
import sys

import numpy as np
import pandas as pd
import lightgbm as lgb
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from category_encodings import load, one_hot, label_order

SEEDS = range(int(os.environ.get("SEEDS", "3")))
CONFIGS = {
    "adult": [
        dict(colsample_bytree=0.851, learning_rate=0.0748, min_child_samples=8, num_leaves=18, reg_alpha=0.001, reg_lambda=0.5374, subsample=0.9431),
        dict(colsample_bytree=0.9127, learning_rate=0.0921, min_child_samples=8, num_leaves=16, reg_alpha=0.001, reg_lambda=0.1648, subsample=0.9257),
        dict(colsample_bytree=0.8341, learning_rate=0.082, min_child_samples=9, num_leaves=22, reg_alpha=0.0015, reg_lambda=0.8296, subsample=0.9085),
        dict(colsample_bytree=0.8473, learning_rate=0.0825, min_child_samples=7, num_leaves=15, reg_alpha=0.0024, reg_lambda=0.2273, subsample=0.9546),
        dict(colsample_bytree=0.9228, learning_rate=0.0815, min_child_samples=8, num_leaves=22, reg_alpha=0.0024, reg_lambda=1.1408, subsample=0.9724),
        dict(colsample_bytree=0.8096, learning_rate=0.0651, min_child_samples=9, num_leaves=17, reg_alpha=0.0033, reg_lambda=0.8626, subsample=0.921),
    ],
    "bank_marketing": [
        dict(colsample_bytree=0.7613, learning_rate=0.016, min_child_samples=8, num_leaves=47, reg_alpha=0.0098, reg_lambda=1.0402, subsample=0.8122),
        dict(colsample_bytree=0.8003, learning_rate=0.0202, min_child_samples=10, num_leaves=34, reg_alpha=0.009, reg_lambda=2.0726, subsample=0.8282),
        dict(colsample_bytree=0.7329, learning_rate=0.0205, min_child_samples=8, num_leaves=34, reg_alpha=0.024, reg_lambda=0.891, subsample=0.7979),
        dict(colsample_bytree=0.7862, learning_rate=0.0131, min_child_samples=7, num_leaves=58, reg_alpha=0.0113, reg_lambda=0.5266, subsample=0.77),
        dict(colsample_bytree=0.7702, learning_rate=0.0132, min_child_samples=7, num_leaves=47, reg_alpha=0.0078, reg_lambda=2.2068, subsample=0.815),
        dict(colsample_bytree=0.7132, learning_rate=0.0244, min_child_samples=8, num_leaves=42, reg_alpha=0.0095, reg_lambda=1.6743, subsample=0.8262),
    ],
}


def fit_es(model, p, x, y, seed):
    """Rounds early-stopped on a 1/7 inner split (patience 5 / learning rate), as a trial."""
    xi, xv, yi, yv = train_test_split(x, y, test_size=1 / 7, random_state=seed + 100)
    patience = int(min(200, max(10, round(5 / p["learning_rate"]))))
    m = model(n_estimators=4000, **p).fit(xi, yi, eval_set=[(xv, yv)],
                                           callbacks=[lgb.early_stopping(patience, verbose=False)])
    return m, m.best_iteration_


def predict(m, x, regression):
    return m.predict(x) if regression else m.predict_proba(x)[:, 1]


def metric(y, p, regression):
    return r2_score(y, p) if regression else roc_auc_score(y, p)


def greedy(preds, y, regression, steps=20):
    n = len(preds)
    total, counts, best = np.zeros(len(y)), np.zeros(n), (-np.inf, None)
    for step in range(1, steps + 1):
        scores = [metric(y, (total + p) / step, regression) for p in preds]
        c = int(np.argmax(scores))
        total += preds[c]
        counts[c] += 1
        if scores[c] > best[0]:
            best = (scores[c], counts.copy())
    return best[1] / best[1].sum()


def main():
    root, names = sys.argv[1], sys.argv[2:]
    print("| split | seed | holdout | bagged | oof+refit |")
    print("|---|---|---|---|---|")
    for name in names:
        train, y, test, y_test, categorical, regression = load(root, name)
        a, b = one_hot(train, test, categorical)
        oa, ob = label_order(train, y, test, categorical)
        x = pd.concat([a, oa.set_index(a.index)], axis=1).reset_index(drop=True)
        xt = pd.concat([b, ob.set_index(b.index)], axis=1)
        y = y.reset_index(drop=True)
        model = lgb.LGBMRegressor if regression else lgb.LGBMClassifier
        rows = []
        for seed in SEEDS:
            ps = [dict(c, subsample_freq=1, verbose=-1, n_jobs=2, random_state=seed) for c in CONFIGS[name]]
            # holdout
            tr, ho = train_test_split(np.arange(len(y)), test_size=0.1, random_state=seed)
            hpred, rounds = [], []
            for p in ps:
                m, r = fit_es(model, p, x.iloc[tr], y.iloc[tr], seed)
                hpred.append(predict(m, x.iloc[ho], regression))
                rounds.append(r)
            w = greedy(hpred, y.iloc[ho].values, regression)
            test_h = sum(wi * predict(model(n_estimators=max(1, round(r * 1.14)), **p).fit(x, y), xt, regression)
                         for wi, p, r in zip(w, ps, rounds) if wi > 0)
            # 5-fold cross-fit
            kf = (KFold if regression else StratifiedKFold)(5, shuffle=True, random_state=seed)
            oof = [np.zeros(len(y)) for _ in ps]
            bag = [np.zeros(len(xt)) for _ in ps]
            frounds = [[] for _ in ps]
            for ftr, fva in kf.split(x, y):
                for i, p in enumerate(ps):
                    m, r = fit_es(model, p, x.iloc[ftr], y.iloc[ftr], seed)
                    oof[i][fva] = predict(m, x.iloc[fva], regression)
                    bag[i] += predict(m, xt, regression) / 5
                    frounds[i].append(r)
            w2 = greedy(oof, y.values, regression)
            test_b = sum(wi * bp for wi, bp in zip(w2, bag))
            test_r = sum(wi * predict(model(n_estimators=max(1, round(np.mean(r) * 1.12)), **p).fit(x, y), xt, regression)
                         for wi, p, r in zip(w2, ps, frounds) if wi > 0)
            s = [metric(y_test, t, regression) for t in (test_h, test_b, test_r)]
            rows.append(s)
            print(f"| {name} | {seed} | {s[0]:.5f} | {s[1]:.5f} | {s[2]:.5f} |", flush=True)
        r = np.array(rows)
        d = r - r[:, :1]
        print(f"| {name} | mean | {r[:,0].mean():.5f} | {r[:,1].mean():.5f} ({d[:,1].mean():+.5f}) | {r[:,2].mean():.5f} ({d[:,2].mean():+.5f}) |", flush=True)


if __name__ == "__main__":
    main()
