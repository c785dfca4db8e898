"""Bin boundaries, with everything else fixed: LightGBM trained on features it bins itself, on
the bin codes of autotab's earlier equal-count cuts, and on the bin codes of autotab's
LightGBM-style cuts (`src/models/trees/binning.rs`: zero in a bin of its own, big-count values
closing their bins, `MIN_VALUES_IN_BIN` as set there). The codes are passed with `max_bin=256`
and `min_data_in_bin=1`, so LightGBM keeps one bin per code. The first three of the boosting
configurations autotab's 60 s runs put in their votes (`crossfit_study.py`'s table), rounds
early-stopped on a 10% split of the training rows (patience 5 / learning rate, as a trial's),
refit on all rows with the rounds x 1.14; three seeds. Prints the test metric of each run and
the paired means.

    python3 reports/scripts/binning_study.py <bench folder> <split> [min_values_in_bin]
"""
import os
import sys

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from category_encodings import label_order, load, one_hot
from crossfit_study import CONFIGS, metric, predict

ZERO = 1e-35
SEEDS = range(3)
def equal_count(values, max_bins=255):
    """autotab's cuts before: one bin per distinct value, else equal-count greedy cuts."""
    v = np.sort(values[~np.isnan(values)])
    d, c = np.unique(v, return_counts=True)
    if len(d) <= max_bins:
        return np.append((d[:-1] + d[1:]) / 2, np.inf)
    upper, remaining, bins_left, acc = [], len(v), float(max_bins), 0
    target = remaining / bins_left
    for i in range(len(d) - 1):
        acc += c[i]
        if bins_left <= 1:
            break
        if acc >= target or (acc + c[i + 1] / 2 >= target and acc > 0):
            upper.append((d[i] + d[i + 1]) / 2)
            remaining -= acc
            bins_left -= 1
            acc = 0
            target = remaining / bins_left
    return np.array(upper + [np.inf])


def greedy(d, c, max_bins, total, min_values):
    """`greedy_bins` of binning.rs (LightGBM's GreedyFindBin)."""
    upper = []
    push = lambda b: upper.append(b) if not upper or upper[-1] != b else None
    if len(d) <= max_bins:
        in_bin = 0
        for i in range(len(d) - 1):
            in_bin += c[i]
            if in_bin >= min_values:
                push((d[i] + d[i + 1]) / 2)
                in_bin = 0
        return upper + [np.inf]
    max_bins = max(min(max_bins, total // min_values), 1)
    big = c >= total / max_bins
    bins_left, left = max_bins - big.sum(), total - c[big].sum()
    share = left / max(bins_left, 1)
    cuts, in_bin = [], 0
    for i in range(len(d) - 1):
        if not big[i]:
            left -= c[i]
        in_bin += c[i]
        if big[i] or in_bin >= share or (big[i + 1] and in_bin >= max(1.0, share * 0.5)):
            cuts.append(i)
            if len(cuts) + 1 >= max_bins:
                break
            in_bin = 0
            if not big[i]:
                bins_left -= 1
                share = left / max(bins_left, 1)
    for i in cuts:
        push((d[i] + d[i + 1]) / 2)
    return upper + [np.inf]


def zero_as_one_bin(values, min_values, max_bins=255):
    """`BinMapper::from_sample` of binning.rs (LightGBM's FindBinWithZeroAsOneBin)."""
    d, c = np.unique(values[~np.isnan(values)], return_counts=True)
    neg, pos = d < -ZERO, d > ZERO
    n_neg, n_pos = c[neg].sum(), c[pos].sum()
    upper = []
    if neg.any():
        bins = max(1, int(n_neg / (n_neg + n_pos) * (max_bins - 1)))
        upper = greedy(d[neg], c[neg], bins, n_neg, min_values)
        upper[-1] = -ZERO
    right = max_bins - 1 - len(upper)
    if pos.any() and right > 0:
        upper = upper + [ZERO] + greedy(d[pos], c[pos], right, n_pos, min_values)
    else:
        upper.append(np.inf)
    return np.array(upper)


def codes(x, xt, cuts):
    a, b = np.empty(x.shape), np.empty(xt.shape)
    for j in range(x.shape[1]):
        u = cuts(x[:, j])
        a[:, j] = np.searchsorted(u, x[:, j], side="left")
        b[:, j] = np.searchsorted(u, xt[:, j], side="left")
    return a, b


def main():
    root, name = sys.argv[1], sys.argv[2]
    min_values = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    train, y, test, y_test, categorical, regression = load(root, name)
    a, b = one_hot(train, test, categorical)
    oa, ob = label_order(train, y, test, categorical)
    x = pd.concat([a, oa.set_index(a.index)], axis=1).values.astype(float)
    xt = pd.concat([b, ob.set_index(b.index)], axis=1).values.astype(float)
    y = y.values
    coded = {"lightgbm": (x, xt, {}),
             "equal-count": (*codes(x, xt, equal_count), dict(max_bin=256, min_data_in_bin=1)),
             "zero bin": (*codes(x, xt, lambda v: zero_as_one_bin(v, min_values)), dict(max_bin=256, min_data_in_bin=1))}
    model = lgb.LGBMRegressor if regression else lgb.LGBMClassifier
    scores = {k: [] for k in coded}
    print("| seed | config | " + " | ".join(coded) + " |")
    print("|---|---|" + "---|" * len(coded))
    for seed in SEEDS:
        for ci, cfg in enumerate(CONFIGS[name][:3]):
            for kind, (X, XT, extra) in coded.items():
                p = dict(cfg, subsample_freq=1, verbose=-1, n_jobs=2, random_state=seed, **extra)
                xi, xv, yi, yv = train_test_split(X, y, test_size=0.1, random_state=seed)
                patience = int(min(200, max(10, round(5 / p["learning_rate"]))))
                probe = model(n_estimators=4000, **p).fit(
                    xi, yi, eval_set=[(xv, yv)], callbacks=[lgb.early_stopping(patience, verbose=False)])
                final = model(n_estimators=max(1, round(probe.best_iteration_ * 1.14)), **p).fit(X, y)
                scores[kind].append(metric(y_test, predict(final, XT, regression), regression))
            print(f"| {seed} | {ci} | " + " | ".join(f"{scores[k][-1]:.5f}" for k in coded) + " |", flush=True)
    base = np.array(scores["equal-count"])
    print(f"\n{name}, min_values_in_bin {min_values}: " + "; ".join(
        f"{k} {np.mean(v):.5f} ({np.mean(np.array(v) - base):+.5f} vs equal-count, above it in {np.sum(np.array(v) > base)}/{len(base)})"
        for k, v in scores.items()))


if __name__ == "__main__":
    main()
