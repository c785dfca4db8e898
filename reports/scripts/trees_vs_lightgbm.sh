#!/usr/bin/env bash
# Runs the side-by-side measurement of reports/trees-vs-lightgbm.md.
# From the worktree root, after `cargo build --release --example trees_vs_lightgbm`:
#   BENCH=<folder of bench splits> reports/scripts/trees_vs_lightgbm.sh [dataset ...] [-- threads ...]
# Appends one JSON line per (system, dataset, threads) to $OUT with the peak RSS from
# /usr/bin/time -v and the 1-minute load average when the run started.
set -euo pipefail
DIR=${ENC_DIR:-/tmp/trees-vs-lgbm}
BENCH=${BENCH:?set BENCH to the folder of bench splits (one subfolder per dataset)}
OUT=${OUT:-reports/trees-vs-lightgbm.jsonl}
EX=target/release/examples/trees_vs_lightgbm
PY=${PY:-$HOME/.venvs/anchors/bin/python}
DATASETS=()
THREADS=(1 2)
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then shift; THREADS=("$@"); break; fi
  DATASETS+=("$1"); shift
done
[ ${#DATASETS[@]} -gt 0 ] || DATASETS=(adult bank_marketing diamonds phoneme synthetic)
TMP=$(mktemp -d)
for ds in "${DATASETS[@]}"; do
  src="$BENCH/$ds"; [ "$ds" = synthetic ] && src=synthetic
  [ -f "$DIR/$ds.json" ] || "$EX" prepare "$src" "$DIR"
  for t in "${THREADS[@]}"; do
    for sys in autotab lightgbm; do
      load=$(cut -d' ' -f1 /proc/loadavg)
      if [ "$sys" = autotab ]; then
        cmd=("$EX" run "$ds" "$DIR" "$t")
      else
        cmd=(env OMP_NUM_THREADS="$t" "$PY" reports/scripts/lgbm_side.py "$ds" "$DIR" "$t")
      fi
      /usr/bin/time -v -o "$TMP/time" "${cmd[@]}" > "$TMP/out"
      rss=$(awk -F': ' '/Maximum resident/ {print $2}' "$TMP/time")
      line=$(tail -1 "$TMP/out")
      echo "${line%\}},\"max_rss_kb\":$rss,\"load1\":$load}" | tee -a "$OUT"
    done
  done
done
rm -rf "$TMP"
