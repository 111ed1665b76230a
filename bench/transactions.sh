#!/usr/bin/env bash
# Loads Synthea-style transaction Bundles over HTTP (30 resources each, urn:uuid references)
# into a fresh server three times and prints the median resources/s.
# Usage: bench/transactions.sh [BUNDLES=2000] [CLIENT_THREADS=4] [SERVER_HEAP=-Xmx512m]
set -euo pipefail
source "$(dirname "$0")/common.sh"
BUNDLES="${1:-2000}"; THREADS="${2:-4}"; HEAP="${3:--Xmx512m}"
# Built in the reactor (package compiles the test classes too), not installed: ~/.m2 may be shared.
if [ ! -f "$JAR" ] || [ ! -d "$ROOT/server/target/test-classes/dev/bulkfhir/server/bench" ]; then
  (cd "$ROOT" && mvn -q -B -pl server -am package -DskipTests)
fi
BENCH_CP="$ROOT/server/target/test-classes:$JAR"
results=()
PROGRESS_START=$(date +%s)
for run in 1 2 3; do
  dir=$(mktemp -d)/data
  start_server "$dir" "$HEAP"
  line=$(java -cp "$BENCH_CP" dev.bulkfhir.server.bench.TransactionBench "$BASE_URL" "$BUNDLES" "$THREADS" | grep "^transactions:")
  progress_clear
  echo "run $run: $line (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  progress "$run" 3 "runs"
  results+=("$(echo "$line" | grep -o '= [0-9]*' | tr -d '= ')")
  stop_server
  rm -rf "$(dirname "$dir")"
done
printf '%s\n' "${results[@]}" | median | xargs -I{} echo "median: {} resources/s (transaction Bundles over HTTP, server $HEAP)"
