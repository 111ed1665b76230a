#!/usr/bin/env bash
# Chaos benchmark for Bulk Data export: the standalone server (the built jar, auth on, demo data,
# small export files) is killed with kill -9 at each phase of an export (just after the kickoff,
# mid-type, between types, while finalising, right after a cancel) and started again on the same
# data directory, over and over for MINUTES; at times the resumed job is killed again. Every job
# must end COMPLETED (manifest counts equal to the files' lines, no id twice, exactly the ids the
# store holds), CANCELLED (404 on poll, files deleted) or FAILED (an OperationOutcome), within two
# minutes. The driver is dev.bulkfhir.server.bench.ExportChaos; it prints a line per kill, the
# kills by phase, the jobs by ending, and finally
#   chaos: <kills> kills survived, <jobs> jobs, <failures> failures
# and exits 1 on any failure (the data directory and server log are then kept).
# Usage: bench/chaos.sh [MINUTES=5] [PATIENTS=300] [SEED=now]
set -euo pipefail
source "$(dirname "$0")/common.sh"
MINUTES="${1:-5}"; PATIENTS="${2:-300}"; SEED="${3:-$(date +%s)}"
build_once
work=$(mktemp -d "${TMPDIR:-/tmp}/bulk-fhir-chaos.XXXXXX")
mkdir -p "$work/data"
# A client as README shows it: keygen registers it in the data directory's clients file.
java -jar "$JAR" keygen --client-id chaos --scope 'system/*.*' --clients "$work/data/clients.json" \
  --out "$work/chaos.jwk" > /dev/null
status=0
java -cp "$BENCH_CP" dev.bulkfhir.server.bench.ExportChaos --jar "$JAR" --data-dir "$work/data" \
  --client-id chaos --key "$work/chaos.jwk" --minutes "$MINUTES" --patients "$PATIENTS" --seed "$SEED" || status=$?
if [ "$status" -eq 0 ]; then
  rm -rf "$work"
else
  echo "kept for a look: $work (server log: $work/data.log)" >&2
fi
exit "$status"
