#!/usr/bin/env bash
# What metrics and the request log cost on the hot path: native reads of a 1 KB Binary with an
# access token (wrk, 16 connections), on a jar without them (BASELINE_JAR, e.g. one built at an
# older commit) and on this build's jar, in alternating rounds. Prints each round's requests/s and
# the server's CPU time per request (user + system, from /proc: steadier than requests/s on a
# shared machine), and the ratios of the medians (this build / baseline).
# Usage: bench/ops-overhead.sh BASELINE_JAR [ROUNDS=3] [SECONDS_EACH=8]
set -euo pipefail
source "$(dirname "$0")/common.sh"
BASELINE="$1"; ROUNDS="${2:-3}"; SECONDS_EACH="${3:-8}"
build_once
work=$(mktemp -d)
PID=""
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$work"' EXIT
head -c 1024 /dev/urandom > "$work/1k.bin"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# One server of JAR, a client, a token, a 1 KB Binary, then wrk; prints "REQUESTS/S CPU-MICROSECONDS/REQUEST".
rate() {
  local jar="$1" dir="$work/$2"
  mkdir -p "$dir"
  java -Xmx512m -jar "$jar" --port 0 --data-dir "$dir" --token-lifetime 3600 > "$dir.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 240); do grep -qs "serving FHIR R4 at" "$dir.log" && break; sleep 0.5; done
  local url; url=$(grep -o "serving FHIR R4 at [^ ]*" "$dir.log" | awk '{print $NF}')
  (cd "$dir" && java -jar "$jar" keygen --client-id bench --scope 'system/*.*' --clients "$dir/clients.json" \
    --server "$url" > /dev/null)
  sleep 1.5
  local token; token=$(cd "$dir" && java -jar "$jar" token --key bench.jwk --client-id bench --server "$url" \
    --scope 'system/*.*')
  local id; id=$(curl -sS -f -X POST --data-binary @"$work/1k.bin" -H 'Content-Type: application/octet-stream' \
    -H "Authorization: Bearer $token" -o /dev/null -D - "$url/Binary" | tr -d '\r' \
    | awk -F': ' 'tolower($1)=="location" {print $2}' | sed -E 's#.*/Binary/([^/]+)/_history/.*#\1#')
  wrk -t2 -c16 -d3s -H "Authorization: Bearer $token" "$url/Binary/$id" > /dev/null   # warm-up
  local before; before=$(cpu_ticks "$PID")
  local out; out=$(wrk -t2 -c16 -d"${SECONDS_EACH}s" -H "Authorization: Bearer $token" "$url/Binary/$id")
  local ticks=$(( $(cpu_ticks "$PID") - before ))
  echo "$out" | awk -v ticks="$ticks" -v hz="$(getconf CLK_TCK)" '
    / requests in / {n = $1} /Requests\/sec/ {rps = $2}
    END {printf "%.0f %.0f\n", rps, ticks / hz * 1e6 / n}'
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
}

base=(); ours=(); basecpu=(); ourcpu=()
PROGRESS_START=$(date +%s)
for round in $(seq 1 "$ROUNDS"); do
  read -r r c < <(rate "$BASELINE" "base$round"); base+=("$r"); basecpu+=("$c")
  read -r r c < <(rate "$JAR" "ours$round"); ours+=("$r"); ourcpu+=("$c")
  progress_clear
  echo "round $round: baseline ${base[-1]} req/s ${basecpu[-1]} us CPU/request," \
    "this build ${ours[-1]} req/s ${ourcpu[-1]} us CPU/request"
  progress "$round" "$ROUNDS" "rounds"
done
med() { printf '%s\n' "$@" | median; }
B=$(med "${base[@]}"); O=$(med "${ours[@]}"); BC=$(med "${basecpu[@]}"); OC=$(med "${ourcpu[@]}")
echo "native read 1 KB, auth on: baseline $B req/s $BC us CPU/request, this build $O req/s $OC us CPU/request;" \
  "ratios: req/s $(awk -v o="$O" -v b="$B" 'BEGIN {printf "%.3f", o / b}'), CPU/request $(awk -v o="$OC" -v b="$BC" 'BEGIN {printf "%.3f", o / b}')"
