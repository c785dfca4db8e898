#!/usr/bin/env bash
# Bagged fold models against a refit on all rows, on the same search: for each k-fold split of
# the bench folder, one run with a fixed seed, one trial at a time and a trial cap far inside
# the budget (so both runs search the same trials on any machine), shipped once as the folds'
# models (--final-model bagged) and once refit (--final-model refit); prints the test metric.
#
# usage: reports/scripts/bagged_vs_refit.sh BENCH_DIR [TRIALS] [SPLITS...]
set -euo pipefail
bench=${1:?usage: $0 BENCH_DIR [TRIALS] [SPLITS...]}
trials=${2:-30}
shift $(( $# >= 2 ? 2 : 1 ))
splits=("$@")
if [ ${#splits[@]} -eq 0 ]; then
  splits=(diabetes_regression heart_failure kc1 penguins pima_diabetes wine phoneme digits ames_housing)
fi
bin=${AUTOTAB:-target/release/autotab}
ws=$(mktemp -d)
trap 'rm -rf "$ws"' EXIT
echo "| split | trials | winner (bagged run) | bagged test | refit test | bagged − refit |"
echo "|---|---|---|---|---|---|"
for name in "${splits[@]}"; do
  dir="$bench/$name"
  read -r label metric ignore < <(python3 - "$dir/bench.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
metric = "r2_score" if b["task"] == "regression" else "AUC_weighted"
print(b["label"], metric, ",".join(b.get("ignore_columns", [])) or "-")
PY
)
  kinds=()
  if [ "$ignore" != "-" ]; then
    IFS=, read -ra cols <<< "$ignore"
    for c in "${cols[@]}"; do kinds+=(--column-kind "$c=id_like"); done
  fi
  declare -A test=() winner=()
  for choice in bagged refit; do
    out=$("$bin" run --workspace "$ws/w" --data "$dir/train.csv" --label "$label" --metric "$metric" \
      --test-data "$dir/test.csv" --seed 0 --max-concurrent-trials 1 --max-trials "$trials" \
      --timeout 900 --final-model "$choice" --experiment "$name-$choice" --json --quiet "${kinds[@]}")
    line=$(printf '%s\n' "$out" | tail -n 1)
    test[$choice]=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["test_metrics"][sys.argv[2]])' "$line" "$metric")
    winner[$choice]=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["best_algorithm"])' "$line")
  done
  python3 -c 'import sys; n,t,w,b,r=sys.argv[1:]; b=float(b); r=float(r); print(f"| {n} | {t} | {w} | {b:.4f} | {r:.4f} | {b-r:+.4f} |")' \
    "$name" "$trials" "${winner[bagged]}" "${test[bagged]}" "${test[refit]}"
done
