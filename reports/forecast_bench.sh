#!/bin/bash
# Runs one forecasting bench split through the real binary as issue 9 asks (autotab run with a
# 60 s budget and 2 concurrent trials, then autotab predict on test.csv) and prints the pooled
# test normalized RMSE as run_anchor.py computes it: RMSE over every test row / range of the test
# labels. The split folder holds train.csv, test.csv and bench.json (label, time_column, horizon,
# grain).
#
#   cargo build --release
#   reports/forecast_bench.sh <bench folder>/<name> [extra autotab run flags]
set -euo pipefail
split=${1:?usage: forecast_bench.sh <split folder> [run flags]}; shift
bin=${AUTOTAB:-target/release/autotab}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
read -r label time horizon grain < <(python3 -c "
import json, sys; b = json.load(open(sys.argv[1]))
print(b['label'], b['time_column'], b['horizon'], ','.join(b.get('grain', [])) or '-')" "$split/bench.json")
grain_flag=(); [ "$grain" != "-" ] && grain_flag=(--grain "$grain")
start=$(date +%s.%N)
"$bin" --workspace "$work/ws" run --data "$split/train.csv" --label "$label" --task forecasting \
  --time-column "$time" --horizon "$horizon" "${grain_flag[@]}" --timeout 60s \
  --max-concurrent-trials 2 --output "$work/model" --json -q "$@" > "$work/run.log"
end=$(date +%s.%N)
"$bin" --workspace "$work/ws" predict --model "$work/model" --data "$split/test.csv" --output "$work/pred.csv" 2>/dev/null
python3 - "$split/test.csv" "$work/pred.csv" "$label" "$(basename "$split")" "$start" "$end" "$work/run.log" <<'PY'
import csv, json, math, sys
test, pred, label, name, start, end, log = sys.argv[1:]
actual = [float(r[label]) for r in csv.DictReader(open(test))]
predicted = [float(r["prediction"]) for r in csv.DictReader(open(pred))]
rmse = math.sqrt(sum((a - p) ** 2 for a, p in zip(actual, predicted)) / len(actual))
summary = json.loads([l for l in open(log) if l.startswith("{")][-1])
print(f"| {name} | {rmse / (max(actual) - min(actual)):.4f} | {summary['best_algorithm']} | "
      f"{summary['best_score']:.4f} | {summary['trials']} | {float(end) - float(start):.1f} |")
PY
