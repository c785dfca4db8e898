#!/usr/bin/env bash
# Seconds of single tree-model trials, run by the real CLI, one trial at a time.
# Usage: reports/scripts/tree_trials.sh <autotab binary> <bench folder> [label for the column]
# Prints one markdown row per (dataset, algorithm, trial): the trial's seconds and CV score.
# ames_housing: 3-fold CV of 2,344 rows (about 300 features, most of them one-hot);
# adult: one 10% holdout of 39,073 rows, trials on the search's samples (77 features).
set -euo pipefail
BIN=$1
BENCH=$2
WHO=${3:-$BIN}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
run() { # dataset label metric algorithm trials
    "$BIN" run --workspace "$WORK/ws" --data "$BENCH/$1/train.csv" --label "$2" --metric "$3" \
        --allowed-algorithms "$4" --max-trials "$5" --max-concurrent-trials 1 --timeout 300 \
        --seed 0 2>&1 |
        awk -v d="$1" -v who="$WHO" '/^leaderboard/ {on=1; next} on && /^  #/ && $2 !~ /Ensemble/ {
            printf "| %s | %s | %s | trial %s | %s | %s |\n", who, d, $2, substr($1, 2), $6, $3 }
            /^best:/ {on=0}'
}
run ames_housing SalePrice r2_score ExtremeRandomTrees 1
run ames_housing SalePrice r2_score RandomForest 1
run ames_housing SalePrice r2_score LightGBM 1
run adult class AUC_weighted ExtremeRandomTrees 1
run adult class AUC_weighted RandomForest 1
run adult class AUC_weighted LightGBM 8
