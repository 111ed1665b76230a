#!/usr/bin/env bash
# Cluster benchmark: NODES server nodes (the built jar) on one PostgreSQL (the system's, in a
# directory of its own on a free port) and one shared data directory, with RESOURCES demo resources
# (default 1,000,000; e.g. 200000 for a quick run), auth off. It measures the export's throughput
# with one node and then with all nodes (one export; one export per node at once), the kickoff time
# with kickoffs spread round robin over the nodes, and the time for another node to take over a job
# whose node is killed (kill -9) while it writes a part of it (one job's parts are spread over all
# nodes), with the default --export-lease of 30 s; the resumed job's
# files are checked to the id against the database. The driver is dev.bulkfhir.server.bench.ClusterBench;
# the last line is
#   cluster: <n> nodes, takeover <s> s, exact yes|no, export <resources/s>
# Usage: bench/cluster.sh [RESOURCES=1000000] [NODES=3] [KICKOFFS=300]
set -euo pipefail
source "$(dirname "$0")/common.sh"
RESOURCES="${1:-1000000}"; NODES="${2:-3}"; KICKOFFS="${3:-300}"
build_once
command -v initdb >/dev/null && command -v pg_ctl >/dev/null || { echo "needs PostgreSQL (initdb, pg_ctl)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/bulk-fhir-cluster.XXXXXX")
chmod 755 "$work"
# PostgreSQL refuses to run as root: then it runs as the postgres user.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
mkdir -p "$work/pg"; [ "$(id -u)" = 0 ] && chown postgres "$work/pg"
PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg initdb -D "$work/pg" -U postgres --auth=trust -E UTF8 > /dev/null
as_pg pg_ctl -D "$work/pg" -o "-p $PG_PORT -k $work/pg -c listen_addresses=127.0.0.1 -c max_connections=200" \
  -l "$work/pg/server.log" -w start > /dev/null
JDBC="jdbc:postgresql://127.0.0.1:$PG_PORT/postgres?user=postgres"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  done
  as_pg pg_ctl -D "$work/pg" -m fast stop > /dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# The demo population: about 28 resources a patient (35,700 patients are about 1,000,000 resources).
patients=$(( RESOURCES * 35700 / 1000000 ))
echo "Loading $patients demo patients (about $RESOURCES resources) into PostgreSQL..."
java -cp "$JAR" dev.bulkfhir.server.demo.DemoNdjson --patients "$patients" --out "$work/ndjson" > /dev/null
java -Xmx1g -jar "$JAR" load --data-dir "$work/data" --jdbc-url "$JDBC" "$work/ndjson" | tail -1
rm -rf "$work/ndjson"

# Starts node $1 on the shared data directory; appends "URL,PID,LEASE_NAME" to NODE_ARGS.
NODE_ARGS=()
start_node() {
  local log="$work/node-$1.log"
  java -Xmx1g -jar "$JAR" --port 0 --auth off --data-dir "$work/data" --jdbc-url "$JDBC" \
    --export-max-jobs-per-client 8 > "$log" 2>&1 &
  local pid=$!
  disown "$pid" # the benchmark kills one with kill -9: no job report after the last line
  PIDS+=("$pid")
  for _ in $(seq 1 240); do
    if grep -q "serving FHIR R4 at" "$log"; then
      local url lease
      url=$(grep -o "serving FHIR R4 at [^ ]*" "$log" | awk '{print $NF}')
      lease=$(grep -o "Export engine started: node [^,]*" "$log" | awk '{print $NF}')
      NODE_ARGS+=("$url,$pid,$lease")
      return 0
    fi
    sleep 0.5
  done
  echo "node $1 did not start; log:" >&2; cat "$log" >&2; return 1
}

start_node 1
java -cp "$BENCH_CP" dev.bulkfhir.server.bench.ClusterBench "$JDBC" 0 "${NODE_ARGS[@]}"
for n in $(seq 2 "$NODES"); do start_node "$n"; done
java -Xmx1g -cp "$BENCH_CP" dev.bulkfhir.server.bench.ClusterBench "$JDBC" "$KICKOFFS" "${NODE_ARGS[@]}"
