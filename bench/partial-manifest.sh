#!/usr/bin/env bash
# allowPartialManifests (Bulk Data IG STU3): time from the kickoff of a full system export of the demo
# population (35,700 patients: about 1,000,000 resources) to the first file that is listed in a
# (partial) manifest and can be fetched. RUNS runs on one server (-Xmx512m), each export cancelled once
# its first file is there; prints every run and the median on the last line. The data is the one
# bench/export.sh prepares (loaded once, reused).
# Usage: bench/partial-manifest.sh [PATIENTS=35700] [RUNS=3]
set -euo pipefail
source "$(dirname "$0")/common.sh"
PATIENTS="${1:-35700}"; RUNS="${2:-3}"
build_once
DATA="${BENCH_DATA:-${TMPDIR:-/tmp}/bulk-fhir-bench/export-$PATIENTS}"
prepare_export_data "$PATIENTS" "$DATA"
rm -rf "$DATA/db/export"
BULKFHIR_AUTH=off start_server "$DATA/db" -Xmx512m
trap stop_server EXIT
sleep 2
OUT=$(java -cp "$BENCH_CP" dev.bulkfhir.server.bench.PartialManifestBench "$BASE_URL" "$RUNS")
echo "$OUT"
MEDIAN=$(echo "$OUT" | grep -o 'downloadable [0-9]* ms' | tr -dc '0-9\n' | median)
echo "partial-manifest: first downloadable file in a manifest after $MEDIAN ms (median of $RUNS, $PATIENTS patients)"
