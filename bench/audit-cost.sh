#!/usr/bin/env bash
# What the audit trail costs the hottest path: native reads of a 1 KB Binary with auth on
# (wrk 2 threads x 16 connections), on two servers side by side, --audit on and --audit off, in
# alternating rounds; median of ROUNDS each, and their ratio (1.00: free; the bar is 0.95). Also the
# server's CPU per request (from /proc), which the sharing of the two cores with wrk does not sway.
# Usage: bench/audit-cost.sh [SECONDS_EACH=10] [ROUNDS=3]
set -euo pipefail
source "$(dirname "$0")/common.sh"
SECONDS_EACH="${1:-10}"; ROUNDS="${2:-3}"; HEAP="-Xmx512m"
command -v wrk > /dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
build_once

work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

# Starts a server with auth on and the given --audit; prints "PID URL".
serve() {
  local dir="$1" audit="$2"
  mkdir -p "$dir"
  java "$HEAP" -jar "$JAR" --port 0 --data-dir "$dir" --token-lifetime 3600 --audit "$audit" > "$dir.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 120); do
    if grep -qs "serving FHIR R4 at" "$dir.log"; then
      echo "$pid $(grep -o "serving FHIR R4 at [^ ]*" "$dir.log" | awk '{print $NF}')"; return 0
    fi
    sleep 0.5
  done
  echo "server did not start; log:" >&2; cat "$dir.log" >&2; return 1
}

# Registers a client on the server of DIR, gets its token and uploads a 1 KB Binary: prints "TOKEN ID".
prepare() {
  local dir="$1" url="$2" name="$3"
  (cd "$work" && java -jar "$JAR" keygen --client-id "$name" --scope 'system/*.*' --clients "$dir/clients.json" \
      --server "$url" > "$name.keygen.log")
  sleep 1.5   # the server rereads the clients file at most once a second
  local token id
  token=$(cd "$work" && java -jar "$JAR" token --key "$name.jwk" --client-id "$name" --server "$url" --scope 'system/*.*')
  id=$(curl -sS -f -X POST --data-binary @"$work/1k.bin" -H 'Content-Type: application/octet-stream' \
      -H "Authorization: Bearer $token" -o /dev/null -D - "$url/Binary" | tr -d '\r' \
      | awk -F': ' 'tolower($1)=="location" {print $2}' | sed -E 's#.*/Binary/([^/]+)/_history/.*#\1#')
  echo "$token $id"
}

# One round against one server: prints "REQUESTS_PER_SECOND MICROSECONDS_OF_SERVER_CPU_PER_REQUEST".
# The CPU per request does not depend on how the two cores are shared with wrk and other load.
measure() {  # pid url token
  local before after
  before=$(cpu_ticks "$1")
  wrk -t2 -c16 -d"${SECONDS_EACH}s" -H "Authorization: Bearer $3" "$2" > "$work/wrk.out"
  after=$(cpu_ticks "$1")
  awk -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" '
    /requests in/ {requests = $1}
    /Requests\/sec/ {rps = $2}
    /Non-2xx/ {bad = $NF}
    END {if (bad > 0) {print "wrk: " bad " non-2xx answers" > "/dev/stderr"; exit 1}
         printf "%.0f %.1f\n", rps, ticks / hz * 1e6 / requests}' "$work/wrk.out"
}

head -c 1024 /dev/urandom > "$work/1k.bin"
read -r ON_PID ON_URL < <(serve "$work/on" on); pids+=("$ON_PID")
read -r OFF_PID OFF_URL < <(serve "$work/off" off); pids+=("$OFF_PID")
read -r ON_TOKEN ON_ID < <(prepare "$work/on" "$ON_URL" bench-on)
read -r OFF_TOKEN OFF_ID < <(prepare "$work/off" "$OFF_URL" bench-off)
# Warm both until the JIT settles (its compiler threads still take a fifth of the CPU after a few
# seconds), then alternate so that a burst of load elsewhere hits both alike.
for _ in 1 2; do
  wrk -t2 -c16 -d8s -H "Authorization: Bearer $ON_TOKEN" "$ON_URL/Binary/$ON_ID" > /dev/null
  wrk -t2 -c16 -d8s -H "Authorization: Bearer $OFF_TOKEN" "$OFF_URL/Binary/$OFF_ID" > /dev/null
done

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
on=(); off=(); on_cpu=(); off_cpu=()
round_on() { read -r r c < <(measure "$ON_PID" "$ON_URL/Binary/$ON_ID" "$ON_TOKEN"); on+=("$r"); on_cpu+=("$c"); }
round_off() { read -r r c < <(measure "$OFF_PID" "$OFF_URL/Binary/$OFF_ID" "$OFF_TOKEN"); off+=("$r"); off_cpu+=("$c"); }
for round in $(seq 1 "$ROUNDS"); do
  # Which goes first alternates too: throughput still rising (JIT, other jobs' load) would favour the second.
  if [ $((round % 2)) -eq 1 ]; then round_on; round_off; else round_off; round_on; fi
  echo "round $round: audit on ${on[-1]} req/s (${on_cpu[-1]} us CPU each), audit off ${off[-1]} req/s (${off_cpu[-1]} us CPU each)"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
med_on=$(printf '%s\n' "${on[@]}" | median); med_off=$(printf '%s\n' "${off[@]}" | median)
cpu_on=$(printf '%s\n' "${on_cpu[@]}" | median); cpu_off=$(printf '%s\n' "${off_cpu[@]}" | median)
# The writer drops (and logs) records only when it falls behind: none should be.
dropped=$( (grep -o "[0-9]* audit records dropped" "$work/on.log" || true) | tail -1 | awk "{print \$1}")
echo "median of $ROUNDS (1 KB native Binary reads, auth on, wrk -t2 -c16 -d${SECONDS_EACH}s, server $HEAP, $(nproc) cores):"
echo "  audit on   $med_on req/s, $cpu_on us of server CPU per request"
echo "  audit off  $med_off req/s, $cpu_off us of server CPU per request"
echo "  audit records dropped: ${dropped:-0}"
echo "audit: on/off ratio $(awk -v a="$med_on" -v b="$med_off" 'BEGIN {printf "%.2f", a / b}'), CPU per request +$(awk -v a="$cpu_on" -v b="$cpu_off" 'BEGIN {printf "%.1f", (a / b - 1) * 100}') %"
