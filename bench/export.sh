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
if [ ! -f "$DATA/ready" ]; then
  rm -rf "$DATA"; mkdir -p "$DATA"
  echo "Preparing $PATIENTS demo patients in $DATA (once; this takes a while)..."
  java -cp "$JAR" dev.bulkfhir.server.demo.DemoNdjson --patients "$PATIENTS" --out "$DATA/ndjson"
  java -Xmx1g -jar "$JAR" load --data-dir "$DATA/db" "$DATA/ndjson"
  rm -rf "$DATA/ndjson"
  touch "$DATA/ready"
fi
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
HEAP_LINE=$(tail -n +"$((START_LINE + 1))" "$GC_LOG" | grep -o '[0-9]*M->[0-9]*M([0-9]*M)' \
  | awk -F'[M>(-]' '{ if ($1+0 > used) used = $1+0; if ($3+0 > live) live = $3+0 } END { print used " " live }')
echo
echo "$OUT" | grep '^export' | grep -o '= [0-9]* resources/s' | tr -dc '0-9\n' | median \
  | xargs -I{} echo "median: {} resources/s (full system export, server $HEAP)"
echo "$OUT" | grep '^export' | grep -o '[0-9.]* MB/s' | tr -d ' MB/s' | median | xargs -I{} echo "median: {} MB/s"
echo "$OUT" | grep '^kickoff'
echo "peak heap during the exports: $(echo "$HEAP_LINE" | cut -d' ' -f1) MB used before a GC," \
  "$(echo "$HEAP_LINE" | cut -d' ' -f2) MB at most live after one (GC log: $GC_LOG)"
