#!/usr/bin/env bash
# Bulk Data export benchmark: a full system export end to end (kickoff, poll, manifest) of the demo
# population, three times, on a server at -Xmx512m; then KICKOFFS kickoffs, each cancelled at once.
# Prints resources/s and MB/s per run and their medians, the time to the 202 (p50, p99), and the
# server's peak heap during the exports (from its GC log: used before a collection, live after it).
# Usage: bench/export.sh [PATIENTS=35700] [KICKOFFS=200] [SERVER_HEAP=-Xmx512m]
# 35,700 patients are about 1,000,000 resources. The data is generated (DemoNdjson) and loaded (the
# `load` command) once into $BENCH_DATA (default: /tmp/bulk-fhir-bench/export-PATIENTS) and reused.
set -euo pipefail
source "$(dirname "$0")/common.sh"
PATIENTS="${1:-35700}"; KICKOFFS="${2:-200}"; HEAP="${3:--Xmx512m}"
build_once
DATA="${BENCH_DATA:-${TMPDIR:-/tmp}/bulk-fhir-bench/export-$PATIENTS}"
prepare_export_data "$PATIENTS" "$DATA"
rm -rf "$DATA/db/export"   # files of earlier runs
GC_LOG="$DATA/gc.log"
rm -f "$GC_LOG"
BULKFHIR_AUTH=off start_server "$DATA/db" "$HEAP" "-Xlog:gc:file=$GC_LOG"
trap stop_server EXIT
sleep 2
START_LINE=$(wc -l < "$GC_LOG")
OUT=$(java -cp "$BENCH_CP" dev.bulkfhir.server.bench.ExportBench "$BASE_URL" 3 "$KICKOFFS")
echo "$OUT"
# GC lines look like "... Pause Young (Normal) (G1 Evacuation Pause) 364M->137M(499M) 26.1ms".
PAUSES=$(tail -n +"$((START_LINE + 1))" "$GC_LOG" | grep 'Pause' | grep -o '[0-9]*M->[0-9]*M([0-9]*M)' || true)
PEAK=$(echo "$PAUSES" | awk -F'[M>(-]' '{ if ($1+0 > used) used = $1+0 } END { print used + 0 }')
# After a collection: the lowest value is about the live set (the old generation fills with garbage
# between G1's concurrent cycles, so single values after young collections say little).
LIVE=$(tail -n +"$((START_LINE + 1))" "$GC_LOG" | grep 'Pause Young' | grep -o '[0-9]*M->[0-9]*M' \
  | awk -F'[M>-]' 'NR == 1 || $4 + 0 < live { live = $4 + 0 } END { print live + 0 }')
FULL=$(tail -n +"$((START_LINE + 1))" "$GC_LOG" | grep -c 'Pause Full' || true)
echo
echo "$OUT" | grep '^export' | grep -o '= [0-9]* resources/s' | tr -dc '0-9\n' | median \
  | xargs -I{} echo "median: {} resources/s (full system export, server $HEAP)"
echo "$OUT" | grep '^export' | grep -o '[0-9.]* MB/s' | tr -d ' MB/s' | median | xargs -I{} echo "median: {} MB/s"
echo "$OUT" | grep '^kickoff'
echo "heap during the runs: peak ${PEAK} MB used (before a collection), live set about ${LIVE} MB" \
  "(least after a collection), ${FULL} full collections (GC log: $GC_LOG)"
