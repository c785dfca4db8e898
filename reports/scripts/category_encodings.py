"""How LightGBM's test score moves with the encoding of categorical columns, on one bench split:
one-hot (what autotab's featurizer wrote before `col__target_order`), one-hot plus each column's
categories ordered by their smoothed training label mean (autotab's `featurize/target_order.rs`:
10 pseudo-rows at the overall mean), and LightGBM's native categorical splits. Same booster for
all three (learning rate 0.05, 15 leaves, colsample 0.7, subsample 0.8, min_child_samples 10),
its rounds early-stopped on a 10% split of the training rows, then refit on all of them; four
seeds (the split and the booster's sampling). Binary and regression splits only.

    python3 reports/scripts/category_encodings.py <bench folder> <split> [<split> ...]
"""
import json
import sys

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import train_test_split

SMOOTHING = 10.0
SEEDS = range(4)


def load(root, name):
    meta = json.load(open(f"{root}/{name}/bench.json"))
    train = pd.read_csv(f"{root}/{name}/train.csv")
    test = pd.read_csv(f"{root}/{name}/test.csv")
    drop = meta.get("dropped_columns", []) + meta.get("ignore_columns", [])
    train = train.drop(columns=drop, errors="ignore")
    test = test.drop(columns=drop, errors="ignore")
    regression = meta["task"] == "regression"
    y, y_test = train.pop(meta["label"]), test.pop(meta["label"])
    if not regression:
        positive = sorted(y.unique())[1]
        y, y_test = (y == positive).astype(int), (y_test == positive).astype(int)
    categorical = [c for c in train.columns if not pd.api.types.is_numeric_dtype(train[c])]
    return train, y, test, y_test, categorical, regression


def one_hot(train, test, categorical):
    both = pd.get_dummies(pd.concat([train, test]), columns=categorical, dtype=float)
    return both.iloc[: len(train)], both.iloc[len(train):]


def label_order(train, y, test, categorical):
    """Each categorical column's categories ranked by smoothed training label mean."""
    prior = y.mean()
    a, b = pd.DataFrame(index=train.index), pd.DataFrame(index=test.index)
    for c in categorical:
        xa = train[c].astype(object).fillna("(missing)")
        xb = test[c].astype(object).fillna("(missing)")
        g = pd.DataFrame({"x": xa.values, "y": y.values}).groupby("x")["y"].agg(["sum", "count"])
        rank = ((g["sum"] + SMOOTHING * prior) / (g["count"] + SMOOTHING)).rank(method="first")
        a[c + "__target_order"] = xa.map(rank).values
        b[c + "__target_order"] = xb.map(rank).astype(float).values
    return a, b


def score(x, y, x_test, y_test, regression, seed):
    model = lgb.LGBMRegressor if regression else lgb.LGBMClassifier
    params = dict(learning_rate=0.05, num_leaves=15, colsample_bytree=0.7, subsample=0.8,
                  subsample_freq=1, min_child_samples=10, verbose=-1, n_jobs=1, random_state=seed)
    x1, xv, y1, yv = train_test_split(x, y, test_size=0.1, random_state=seed)
    probe = model(n_estimators=3000, **params)
    probe.fit(x1, y1, eval_set=[(xv, yv)], callbacks=[lgb.early_stopping(100, verbose=False)])
    final = model(n_estimators=probe.best_iteration_, **params).fit(x, y)
    if regression:
        return r2_score(y_test, final.predict(x_test))
    return roc_auc_score(y_test, final.predict_proba(x_test)[:, 1])


def main():
    root, names = sys.argv[1], sys.argv[2:]
    print("| split | one-hot | one-hot + label order | native categorical |")
    print("|---|---|---|---|")
    for name in names:
        train, y, test, y_test, categorical, regression = load(root, name)
        a, b = one_hot(train, test, categorical)
        oa, ob = label_order(train, y, test, categorical)
        ordered = (pd.concat([a, oa.set_index(a.index)], axis=1),
                   pd.concat([b, ob.set_index(b.index)], axis=1))
        native_train, native_test = train.copy(), test.copy()
        for c in categorical:
            native_train[c] = native_train[c].astype("category")
            native_test[c] = pd.Categorical(native_test[c],
                                            categories=native_train[c].cat.categories)
        cells = []
        for x, x_test in [(a, b), ordered, (native_train, native_test)]:
            scores = [score(x, y, x_test, y_test, regression, s) for s in SEEDS]
            cells.append(f"{np.mean(scores):.4f} ({', '.join(f'{s:.4f}' for s in scores)})")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
