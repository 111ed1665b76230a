#!/usr/bin/env bash
# Memory bounded by bytes: COUNT resources (half DocumentReference, half Media) with an inline
# attachment of MB megabytes each, generated (BigAttachments) and loaded (the `load` command) once into
# $BENCH_DATA (default: /tmp/bulk-fhir-bench/big-attachments-COUNT-MB), then exported once on a server
# at -Xmx512m. The last line: export rate, the server's peak heap (from its GC log), ok or failed.
# Disk: about 3 x COUNT x MB x 1.34 (NDJSON, database, export files); 1,000 x 5 MB needs ~20 GB.
# Usage: bench/big-attachments.sh [COUNT=1000] [MB=5]
set -euo pipefail
source "$(dirname "$0")/common.sh"
COUNT="${1:-1000}"; MB="${2:-5}"
build_once
DATA="${BENCH_DATA:-${TMPDIR:-/tmp}/bulk-fhir-bench/big-attachments-$COUNT-$MB}"
if [ ! -f "$DATA/ready" ]; then
  rm -rf "$DATA"; mkdir -p "$DATA"
  echo "Generating $COUNT resources with $MB MB attachments in $DATA (once)..."
  java -cp "$BENCH_CP" dev.bulkfhir.server.bench.BigAttachments "$DATA/ndjson" "$COUNT" "$MB"
  java -Xmx1g -jar "$JAR" load --data-dir "$DATA/db" "$DATA/ndjson"
  rm -rf "$DATA/ndjson"
  touch "$DATA/ready"
fi
rm -rf "$DATA/db/export"
GC_LOG="$DATA/gc.log"
rm -f "$GC_LOG"
start_server "$DATA/db" -Xmx512m "-Xlog:gc:file=$GC_LOG"
trap stop_server EXIT
STATUS=ok
OUT=$(java -cp "$BENCH_CP" dev.bulkfhir.server.bench.ExportBench "$BASE_URL" 1 0 "_type=DocumentReference,Media") \
  || STATUS=failed
echo "$OUT"
EXPORTED=$(echo "$OUT" | grep -o '^export 1: [0-9]* resources' | grep -o '[0-9]* resources' | tr -dc '0-9')
RATE=$(echo "$OUT" | grep -o '[0-9.]* MB/s' | tr -d ' MB/s')
[ "${EXPORTED:-0}" = "$COUNT" ] || STATUS=failed
grep -q OutOfMemoryError "$DATA/db.log" && STATUS=failed
# GC lines look like "... Pause Young (Normal) (G1 Evacuation Pause) 364M->137M(499M) 26.1ms".
PEAK=$(grep 'Pause' "$GC_LOG" | grep -o '[0-9]*M->[0-9]*M([0-9]*M)' \
  | awk -F'[M>(-]' '{ if ($1+0 > used) used = $1+0 } END { print used + 0 }')
# After a collection: the most that stayed is about the largest live set during the export.
LIVE=$(grep 'Pause Young' "$GC_LOG" | grep -o '[0-9]*M->[0-9]*M' | awk -F'[M>-]' '$4 + 0 > live { live = $4 + 0 } END { print live + 0 }')
echo "heap: peak $PEAK MB used (before a collection), at most $LIVE MB after a collection (GC log: $GC_LOG)"
echo "big-attachments: $COUNT x $MB MB, export ${RATE:-0} MB/s, peak heap $PEAK MB, $STATUS"
