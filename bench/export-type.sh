#!/usr/bin/env bash
# Parallel export within one type: a single-type export (_type=Observation, about 73 % of the demo
# data) with --export-workers 1 and 2 side by side, on the data bench/export.sh prepares (loaded once,
# reused). ROUNDS rounds, each starting a 1-worker and a 2-worker server (-Xmx512m) in turn and
# exporting RUNS times on each after one uncounted warm-up export; prints every run, the cores the
# server kept busy and its busiest threads, then the medians and their ratio on the last line.
# Usage: bench/export-type.sh [PATIENTS=35700] [ROUNDS=2] [RUNS=2] [TYPE=Observation]
set -euo pipefail
source "$(dirname "$0")/common.sh"
PATIENTS="${1:-35700}"; ROUNDS="${2:-2}"; RUNS="${3:-2}"; TYPE="${4:-Observation}"
build_once
DATA="${BENCH_DATA:-${TMPDIR:-/tmp}/bulk-fhir-bench/export-$PATIENTS}"
prepare_export_data "$PATIENTS" "$DATA"
trap stop_server EXIT
declare -A RATES=([1]="" [2]="")
PROGRESS_START=$(date +%s); done_runs=0
for round in $(seq 1 "$ROUNDS"); do
  for workers in 1 2; do
    rm -rf "$DATA/db/export"
    BULKFHIR_AUTH=off start_server "$DATA/db" -Xmx512m -- --export-workers "$workers"
    # One export first, not counted: the JIT and the page cache warm up.
    java -cp "$BENCH_CP" dev.bulkfhir.server.bench.ExportBench "$BASE_URL" 1 0 "_type=$TYPE" > /dev/null
    ticks_before=$(cpu_ticks "$SERVER_PID"); threads_before=$(thread_group_ticks "$SERVER_PID"); started=$(date +%s%N)
    OUT=$(java -cp "$BENCH_CP" dev.bulkfhir.server.bench.ExportBench "$BASE_URL" "$RUNS" 0 "_type=$TYPE")
    # How many of the cores the server kept busy, and which of its threads: with one worker, what
    # the others leave over is all that a second worker can gain.
    ticks=$(($(cpu_ticks "$SERVER_PID") - ticks_before))
    OUT+=$'\n'"server CPU $(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v ns="$(($(date +%s%N) - started))" \
      'BEGIN {printf "%.2f", t / hz / (ns / 1e9)}') of $(nproc) cores: $(thread_shares "$threads_before" \
      "$(thread_group_ticks "$SERVER_PID")" "$ticks" 6)"
    stop_server
    progress_clear
    echo "$OUT" | sed "s/^/round $round, $workers worker(s): /"
    done_runs=$((done_runs + 1)); progress "$done_runs" $((ROUNDS * 2)) "exports"
    RATES[$workers]+=$(echo "$OUT" | grep '^export' | grep -o '= [0-9]* resources/s' | tr -dc '0-9\n')$'\n'
  done
done
ONE=$(echo -n "${RATES[1]}" | grep . | median)
TWO=$(echo -n "${RATES[2]}" | grep . | median)
echo "export-type: 1 worker $ONE res/s, 2 workers $TWO res/s, ratio $(awk -v a="$ONE" -v b="$TWO" 'BEGIN { printf "%.2f", b / a }')"
