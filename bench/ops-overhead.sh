#!/usr/bin/env bash
# What metrics and the request log cost on the hot path: native reads of a 1 KB Binary with an
# access token (wrk, 16 connections) on a jar without them (BASELINE_JAR, e.g. one built at an
# older commit) and on this build's jar. Both servers run at once and wrk alternates between them
# in short runs, so that a shared machine's changing load falls on both alike. Prints each run's
# requests/s and the server's CPU time per request (user + system, from /proc), then the ratios of
# the medians (this build / baseline).
# Usage: bench/ops-overhead.sh BASELINE_JAR [ROUNDS=6] [SECONDS_EACH=4]
set -euo pipefail
source "$(dirname "$0")/common.sh"
BASELINE="$1"; ROUNDS="${2:-6}"; SECONDS_EACH="${3:-4}"
build_once
work=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
head -c 1024 /dev/urandom > "$work/1k.bin"

# Starts a server of JAR with a client, a token and a 1 KB Binary; sets PID and URL (the Binary's).
serve() {
  local jar="$1" dir="$work/$2"
  mkdir -p "$dir"
  java -Xmx512m -jar "$jar" --port 0 --data-dir "$dir" --token-lifetime 3600 > "$dir.log" 2>&1 &
  PID=$!; PIDS+=("$PID")
  for _ in $(seq 1 240); do grep -qs "serving FHIR R4 at" "$dir.log" && break; sleep 0.5; done
  local base; base=$(grep -o "serving FHIR R4 at [^ ]*" "$dir.log" | awk '{print $NF}')
  (cd "$dir" && java -jar "$jar" keygen --client-id bench --scope 'system/*.*' --clients "$dir/clients.json" \
    --server "$base" > /dev/null)
  sleep 1.5
  TOKEN=$(cd "$dir" && java -jar "$jar" token --key bench.jwk --client-id bench --server "$base" --scope 'system/*.*')
  local id; id=$(curl -sS -f -X POST --data-binary @"$work/1k.bin" -H 'Content-Type: application/octet-stream' \
    -H "Authorization: Bearer $TOKEN" -o /dev/null -D - "$base/Binary" | tr -d '\r' \
    | awk -F': ' 'tolower($1)=="location" {print $2}' | sed -E 's#.*/Binary/([^/]+)/_history/.*#\1#')
  URL="$base/Binary/$id"
  wrk -t2 -c16 -d5s -H "Authorization: Bearer $TOKEN" "$URL" > /dev/null   # warm-up
}

# wrk against one server; prints "REQUESTS/S CPU-MICROSECONDS/REQUEST".
rate() {
  local pid="$1" url="$2" token="$3"
  local before; before=$(cpu_ticks "$pid")
  local out; out=$(wrk -t2 -c16 -d"${SECONDS_EACH}s" -H "Authorization: Bearer $token" "$url")
  local ticks=$(( $(cpu_ticks "$pid") - before ))
  echo "$out" | awk -v ticks="$ticks" -v hz="$(getconf CLK_TCK)" '
    / requests in / {n = $1} /Requests\/sec/ {rps = $2}
    END {printf "%.0f %.0f\n", rps, ticks / hz * 1e6 / n}'
}

serve "$BASELINE" base; BPID=$PID; BURL=$URL; BTOKEN=$TOKEN
serve "$JAR" ours; OPID=$PID; OURL=$URL; OTOKEN=$TOKEN

base=(); ours=(); basecpu=(); ourcpu=()
PROGRESS_START=$(date +%s)
for round in $(seq 1 "$ROUNDS"); do
  read -r r c < <(rate "$BPID" "$BURL" "$BTOKEN"); base+=("$r"); basecpu+=("$c")
  read -r r c < <(rate "$OPID" "$OURL" "$OTOKEN"); ours+=("$r"); ourcpu+=("$c")
  progress_clear
  echo "round $round: baseline ${base[-1]} req/s ${basecpu[-1]} us CPU/request," \
    "this build ${ours[-1]} req/s ${ourcpu[-1]} us CPU/request"
  progress "$round" "$ROUNDS" "rounds"
done
med() { printf '%s\n' "$@" | median; }
B=$(med "${base[@]}"); O=$(med "${ours[@]}"); BC=$(med "${basecpu[@]}"); OC=$(med "${ourcpu[@]}")
echo "native read 1 KB, auth on: baseline $B req/s $BC us CPU/request, this build $O req/s $OC us CPU/request;" \
  "ratios: req/s $(awk -v o="$O" -v b="$B" 'BEGIN {printf "%.3f", o / b}'), CPU/request $(awk -v o="$OC" -v b="$BC" 'BEGIN {printf "%.3f", o / b}')"
