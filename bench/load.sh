#!/usr/bin/env bash
# Bulk load benchmark: generates RESOURCES demo resources as NDJSON (one file per resource type,
# DemoNdjson), then loads them three times into fresh H2 data directories with
#   java HEAP -jar server/target/bulk-fhir-server.jar load --data-dir DIR NDJSON_DIR
# and prints the median resources/s (the load command's own figure, wall clock of the load).
# Usage: bench/load.sh [RESOURCES=1000000] [HEAP=-Xmx512m]
# The NDJSON is kept in ${TMPDIR:-/tmp}/bulk-fhir-load-data/ for the next run (delete it to regenerate).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JAR="$ROOT/server/target/bulk-fhir-server.jar"
RESOURCES="${1:-1000000}"
HEAP="${2:--Xmx512m}"

if [ ! -f "$JAR" ]; then
  (cd "$ROOT" && mvn -q -B -DskipTests package)
fi

# About 28 resources per demo patient.
PATIENTS=$(( (RESOURCES + 27) / 28 ))
DATA="${TMPDIR:-/tmp}/bulk-fhir-load-data/patients-$PATIENTS"
if [ ! -f "$DATA/.complete" ]; then
  rm -rf "$DATA"
  java -cp "$JAR" dev.bulkfhir.server.demo.DemoNdjson --patients "$PATIENTS" --out "$DATA"
  touch "$DATA/.complete"
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
rates=()
PROGRESS_START=$(date +%s)
for run in 1 2 3; do
  out=$(java "$HEAP" -jar "$JAR" load --data-dir "$WORK/data" "$DATA" < /dev/null)
  line=$(printf '%s\n' "$out" | grep '^Loaded')
  progress_clear
  echo "run $run: $line (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  progress "$run" 3 "loads"
  rates+=("$(printf '%s\n' "$line" | sed -E 's/.*\(([0-9,]+) resources\/s\).*/\1/' | tr -d ,)")
  rm -rf "$WORK/data"
done
median=$(printf '%s\n' "${rates[@]}" | sort -n | sed -n 2p)
echo "median: $median resources/s (NDJSON load, $HEAP, $(nproc) cores)"
