#!/usr/bin/env bash
# Runs every forecasting split of a bench folder through the real CLI (`autotab run` then
# `autotab predict` on test.csv) and prints the pooled test normalized RMSE as the anchors'
# run_anchor.py computes it (RMSE over all test rows / range of the test labels).
# Usage: reports/forecast_cli.sh <bench folder> [budget seconds] [concurrent trials]
set -euo pipefail
bench=${1:?bench folder}; budget=${2:-60}; concurrent=${3:-2}
bin=${AUTOTAB_BIN:-target/release/autotab}
work=$(mktemp -d)
printf '| dataset | test nRMSE | best | wall s |\n|---|---|---|---|\n'
for dir in "$bench"/*/; do
  name=$(basename "$dir")
  python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["task"]=="forecasting" else 1)' "$dir/bench.json" || continue
  read -r label time horizon grain < <(python3 -c 'import json,sys; b=json.load(open(sys.argv[1])); print(b["label"], b["time_column"], b["horizon"], ",".join(b.get("grain",[])) or "-")' "$dir/bench.json")
  args=(--workspace "$work/ws" --experiment cli-forecast --data "$dir/train.csv" --label "$label" --task forecasting
        --time-column "$time" --horizon "$horizon" --timeout "${budget}s" --max-concurrent-trials "$concurrent"
        --seed 0 --output "$work/$name" --json)
  [ "$grain" != "-" ] && args+=(--grain "$grain")
  start=$(date +%s.%N)
  summary=$("$bin" run "${args[@]}" 2>/dev/null | tail -n 1)
  wall=$(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')")
  "$bin" predict --model "$work/$name" --data "$dir/test.csv" --output "$work/$name.csv" >/dev/null 2>&1
  python3 - "$dir/test.csv" "$work/$name.csv" "$label" "$name" "$wall" "$summary" <<'PY'
import csv, json, math, sys
test, pred, label, name, wall, summary = sys.argv[1:]
actual = [float(r[label]) for r in csv.DictReader(open(test))]
predicted = [float(r["prediction"]) for r in csv.DictReader(open(pred))]
rmse = math.sqrt(sum((a - p) ** 2 for a, p in zip(actual, predicted)) / len(actual))
best = json.loads(summary).get("best_algorithm", "?")
print(f"| {name} | {rmse / (max(actual) - min(actual)):.4f} | {best} | {wall} |")
PY
done
rm -rf "$work"
