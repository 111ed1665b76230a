#!/usr/bin/env bash
# organizeOutputBy=Patient (Bulk Data IG STU3) against the same export by type: Patient/$export of the
# demo population (the Patient compartment's types), by type and organized by patient, on the data
# bench/export.sh prepares (loaded once, reused). ROUNDS rounds on one server (-Xmx512m), each one
# export of either kind after one uncounted warm-up of each; prints every run, then the medians and
# their ratio (organized / by type) on the last line. TYPES (e.g. TYPES=Patient,Observation) limits
# both exports to those types: the demo Group has every patient as a member, so organized output
# repeats it in every patient's block (about nine tenths of its bytes on the demo data).
# Usage: [TYPES=T1,T2] bench/export-organized.sh [PATIENTS=35700] [ROUNDS=3]
set -euo pipefail
source "$(dirname "$0")/common.sh"
PATIENTS="${1:-35700}"; ROUNDS="${2:-3}"
build_once
DATA="${BENCH_DATA:-${TMPDIR:-/tmp}/bulk-fhir-bench/export-$PATIENTS}"
prepare_export_data "$PATIENTS" "$DATA"
rm -rf "$DATA/db/export"
BULKFHIR_AUTH=off start_server "$DATA/db" -Xmx512m
trap stop_server EXIT
TYPE_PARAM="${TYPES:+_type=$TYPES}"
bench() {
  local params="$TYPE_PARAM${1:+${TYPE_PARAM:+&}$1}"
  java -cp "$BENCH_CP" dev.bulkfhir.server.bench.ExportBench "$BASE_URL" 1 0 "$params" 'Patient/$export'
}
bench "" > /dev/null
bench "organizeOutputBy=Patient" > /dev/null
BY_TYPE=""; ORGANIZED=""
for round in $(seq 1 "$ROUNDS"); do
  OUT=$(bench ""); echo "round $round, by type:    $OUT"
  BY_TYPE+=$(echo "$OUT" | grep -o '= [0-9]* resources/s' | tr -dc '0-9')$'\n'
  OUT=$(bench "organizeOutputBy=Patient"); echo "round $round, by patient: $OUT"
  ORGANIZED+=$(echo "$OUT" | grep -o '= [0-9]* resources/s' | tr -dc '0-9')$'\n'
done
A=$(echo -n "$BY_TYPE" | grep . | median)
B=$(echo -n "$ORGANIZED" | grep . | median)
echo "export-organized${TYPES:+ (_type=$TYPES)}: by type $A res/s, organized by patient $B res/s, ratio $(awk -v a="$A" -v b="$B" 'BEGIN { printf "%.2f", b / a }')"
