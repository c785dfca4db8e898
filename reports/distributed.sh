#!/usr/bin/env bash
# A distributed run against one process, on this machine (issue 12):
#   1. one process: `autotab run` with N concurrent trials on a folder workspace;
#   2. the same job submitted to a PostgreSQL workspace (`run --submit`) and run by N
#      `autotab worker` processes of one trial slot each; once the run is searching, one worker
#      that does not coordinate it is frozen while it holds a running trial, then SIGKILLed.
# Both use the whole budget (--early-stopping off), so trials per second compare.
# Prints one markdown table row per mode (wall seconds from submission to the run's end).
#
# usage: reports/distributed.sh POSTGRES_URL [DATA] [LABEL] [METRIC] [BUDGET_S] [WORKERS]
#   e.g. reports/distributed.sh postgres://postgres@127.0.0.1:5432/postgres \
#          datasets/heart_failure.csv DEATH_EVENT AUC_weighted 60 3
# AUTOTAB_BIN overrides the binary (default target/release/autotab); KILL=0 kills no worker.
# Needs psql and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
URL=${1:?usage: reports/distributed.sh POSTGRES_URL [DATA] [LABEL] [METRIC] [BUDGET_S] [WORKERS]}
DATA=${2:-datasets/heart_failure.csv}
LABEL=${3:-DEATH_EVENT}
METRIC=${4:-AUC_weighted}
BUDGET=${5:-60}
WORKERS=${6:-3}
BIN=${AUTOTAB_BIN:-target/release/autotab}
TMP=$(mktemp -d)
SCHEMA="autotab_dist_$$"
trap 'psql -q "$URL" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1; rm -rf "$TMP"' EXIT
sep='?'; [[ "$URL" == *\?* ]] && sep='&'
WS="${URL}${sep}options=-csearch_path%3D${SCHEMA}"
psql -q "$URL" -c "CREATE SCHEMA $SCHEMA" >/dev/null
now() { date +%s.%N; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
JOB=(--data "$DATA" --label "$LABEL" --metric "$METRIC" --timeout "${BUDGET}s"
     --max-concurrent-trials "$WORKERS" --early-stopping off)

echo "| mode | wall s | trials | trials/s | best CV $METRIC | winner | notes |"
echo "|---|---|---|---|---|---|---|"

# 1. One process.
t0=$(now)
"$BIN" --workspace "$TMP/folder-ws" run "${JOB[@]}" --json --quiet > "$TMP/single.out"
t1=$(now)
summary=$(tail -1 "$TMP/single.out")
trials=$(echo "$summary" | field "d['trials']")
score=$(echo "$summary" | field "round(d['best_score'], 4)")
winner=$(echo "$summary" | field "d['best_algorithm']")
wall=$(python3 -c "print(round($t1 - $t0, 1))")
echo "| one process, $WORKERS concurrent trials | $wall | $trials | $(python3 -c "print(round($trials / $wall, 1))") | $score | $winner | |"

# 2. Submitted, run by workers; one killed mid-trial.
export AUTOTAB_WORKSPACE="$WS" AUTOTAB_ARTIFACTS="$TMP/artifacts"
t0=$(now)
run=$("$BIN" run "${JOB[@]}" --submit --json | field "d['run_id']")
pids=()
for i in $(seq 1 "$WORKERS"); do
  "$BIN" worker --name "w$i" --lease 3s --idle-exit 3s > "$TMP/w$i.log" 2>&1 &
  pids+=($!)
done
q() { psql -At "$WS" -c "$1"; }
# Wait for the search to open its trials, then pick a worker that does not coordinate.
until [ "$(q "SELECT trials_open FROM submissions WHERE run_id = '$run'")" = "t" ]; do sleep 0.1; done
coordinator=$(q "SELECT worker FROM submissions WHERE run_id = '$run'")
victim=""
for i in $(seq 1 "$WORKERS"); do
  if [ "w$i" != "$coordinator" ]; then victim=$i; break; fi
done
pid=${pids[$((victim - 1))]}
killed=""
killed_at=""
[ "${KILL:-1}" = 0 ] && killed=none
while [ -z "$killed" ]; do
  kill -STOP "$pid"
  held=$(q "SELECT idx FROM trial_queue WHERE run_id = '$run' AND worker = 'w$victim' AND state = 'running' LIMIT 1")
  if [ -n "$held" ]; then
    kill -KILL "$pid"
    killed=$held
    killed_at=$(python3 -c "print(round($(now) - $t0, 1))")
  else
    kill -CONT "$pid"
    sleep 0.02
  fi
done
# The run's end, seen from another process.
until [ "$("$BIN" runs show "$run" --json | field "d['summary']['status']")" != "running" ]; do sleep 0.2; done
t1=$(now)
shown=$("$BIN" runs show "$run" --json)
status=$(echo "$shown" | field "d['summary']['status']")
trials=$(echo "$shown" | field "len([c for c in d['children'] if 'Ensemble' not in c['algorithm']])")
score=$(echo "$shown" | field "round(d['summary']['metrics']['$METRIC'], 4)")
winner=$(echo "$shown" | field "sorted(d['children'], key=lambda c: -c['metrics'].get('$METRIC', -1e9))[0]['algorithm']")
rerun=none
[ "$killed" != none ] && rerun=$(q "SELECT worker || ', claim ' || attempts || ', ' || state FROM trial_queue WHERE run_id = '$run' AND idx = $killed")
wall=$(python3 -c "print(round($t1 - $t0, 1))")
{ for p in "${pids[@]}"; do wait "$p" || true; done; } 2>/dev/null
if [ "$killed" = none ]; then
  what="$WORKERS workers (submitted; none killed)"
  notes="run $status; coordinator $coordinator"
else
  what="$WORKERS workers (submitted; w$victim SIGKILLed at ${killed_at}s holding trial $killed)"
  notes="run $status; trial $killed re-run by $rerun; coordinator $coordinator"
fi
echo "| $what | $wall | $trials | $(python3 -c "print(round($trials / $wall, 1))") | $score | $winner | $notes |"
for i in $(seq 1 "$WORKERS"); do
  echo "w$i: $(grep -c ' claimed' "$TMP/w$i.log" || true) claims; $(tail -1 "$TMP/w$i.log")" >&2
done
