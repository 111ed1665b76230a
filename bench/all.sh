#!/usr/bin/env bash
# Every performance figure of the server in one run, one line per figure, measured side by side
# where a figure is a ratio. Servers run at -Xmx512m; "auth on" (the default) is how a deployment
# runs, so every request figure is with an access token unless its line says "auth off".
#
#   bench/all.sh            the request figures, then the export, load and memory benchmarks (1M resources)
#   bench/all.sh --quick    the request figures only (about 3 minutes)
#   bench/all.sh --full     as the default, plus the 10M-resource scale run (an hour and more)
#   bench/all.sh --readme   as the default, then writes the figures into README.md's benchmark table
#
# The lines it prints (the figures are medians of ROUNDS runs, default 3):
#   native read 1 KB: auth off <req/s>, auth on <req/s>, ratio <x>
#   ...
# wrk (Debian's package) is installed if missing.
set -euo pipefail
source "$(dirname "$0")/common.sh"
MODE="${1:-}"
ROUNDS="${ROUNDS:-3}"
SECONDS_EACH="${SECONDS_EACH:-8}"
HEAP="-Xmx512m"

if ! command -v wrk > /dev/null; then
  echo "installing wrk" >&2
  apt-get install -y -qq wrk > /dev/null || { apt-get update -qq && apt-get install -y -qq wrk > /dev/null; }
fi
build_once

work=$(mktemp -d)
OFF_PID=""; ON_PID=""
cleanup() {
  for pid in $OFF_PID $ON_PID; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
FIGURES="$work/figures"
figure() { echo "$*" | tee -a "$FIGURES"; }
med() { printf '%s\n' "$@" | median; }

# Starts a server in the background; prints "PID BASE_URL".
serve() {
  local dir="$1"; shift
  mkdir -p "$dir"
  java "$HEAP" -jar "$JAR" --port 0 --data-dir "$dir" "$@" > "$dir.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 240); do
    if grep -qs "serving FHIR R4 at" "$dir.log"; then
      echo "$pid $(grep -o "serving FHIR R4 at [^ ]*" "$dir.log" | awk '{print $NF}')"
      return 0
    fi
    sleep 0.5
  done
  echo "server did not start; log:" >&2; cat "$dir.log" >&2; return 1
}

# wrk's requests/s and p99 (ms) for one URL: "RPS P99".
measure() {
  local url="$1"; shift
  wrk -t2 -c16 -d2s "$@" "$url" > /dev/null   # warm-up
  wrk -t2 -c16 -d"${SECONDS_EACH}s" --latency "$@" "$url" | awk '
    /Requests\/sec/ {rps = $2}
    $1 == "99%" {v = $2; if (v ~ /us$/) {sub(/us/, "", v); v /= 1000} else if (v ~ /ms$/) {sub(/ms/, "", v)} else if (v ~ /s$/) {sub(/s/, "", v); v *= 1000}; p99 = v}
    /Non-2xx/ {bad = $NF}
    END {if (bad > 0) {print "wrk: " bad " non-2xx answers" > "/dev/stderr"; exit 1}; printf "%.0f %.1f\n", rps, p99}'
}

# ---- the request figures: two servers side by side, auth off and auth on ----
read -r OFF_PID OFF_URL < <(serve "$work/off" --auth off --demo)
read -r ON_PID ON_URL < <(serve "$work/on" --demo --token-lifetime 3600 \
  --export-max-jobs 1000 --export-max-jobs-per-client 1000)
(cd "$work" && java -jar "$JAR" keygen --client-id bench --scope 'system/*.*' --clients "$work/on/clients.json" \
  --server "$ON_URL" > keygen.log)
sleep 1.5   # the server rereads the clients file at most once a second
TOKEN=$(cd "$work" && java -jar "$JAR" token --key bench.jwk --client-id bench --server "$ON_URL" --scope 'system/*.*')
AUTH=(-H "Authorization: Bearer $TOKEN")
head -c 1024 /dev/urandom > "$work/1k.bin"
upload() {  # base-url [curl args]: the new Binary's id
  local base="$1"; shift
  curl -sS -f -X POST --data-binary @"$work/1k.bin" -H 'Content-Type: application/octet-stream' "$@" \
    -o /dev/null -D - "$base/Binary" | tr -d '\r' | awk -F': ' 'tolower($1)=="location" {print $2}' \
    | sed -E 's#.*/Binary/([^/]+)/_history/.*#\1#'
}
OFF_ID=$(upload "$OFF_URL"); ON_ID=$(upload "$ON_URL" "${AUTH[@]}")
curl -sS -f -o /dev/null "$ON_URL/metadata"   # HAPI builds the statement on the first request (about 1 s)

off=(); on=(); onp99=(); access=(); wrapped=(); wrappedp99=(); meta=(); metap99=()
PROGRESS_START=$(date +%s)
for round in $(seq 1 "$ROUNDS"); do
  # Which goes first alternates: load from elsewhere that rises or falls through a round would favour one.
  if [ $((round % 2)) -eq 1 ]; then
    read -r r _ < <(measure "$OFF_URL/Binary/$OFF_ID"); off+=("$r")
    read -r r p < <(measure "$ON_URL/Binary/$ON_ID" "${AUTH[@]}"); on+=("$r"); onp99+=("$p")
  else
    read -r r p < <(measure "$ON_URL/Binary/$ON_ID" "${AUTH[@]}"); on+=("$r"); onp99+=("$p")
    read -r r _ < <(measure "$OFF_URL/Binary/$OFF_ID"); off+=("$r")
  fi
  read -r r _ < <(measure "$ON_URL/Binary/$ON_ID/\$binary-access-read" "${AUTH[@]}"); access+=("$r")
  read -r r p < <(measure "$ON_URL/Binary/$ON_ID" "${AUTH[@]}" -H 'Accept: application/fhir+json'); wrapped+=("$r"); wrappedp99+=("$p")
  read -r r p < <(measure "$ON_URL/metadata"); meta+=("$r"); metap99+=("$p")
  progress_clear
  echo "round $round: native off ${off[-1]}, on ${on[-1]}, access-read ${access[-1]}, wrapped ${wrapped[-1]}," \
    "metadata ${meta[-1]} req/s" >&2
  progress "$round" "$ROUNDS" "rounds"
done
OFF=$(med "${off[@]}"); ON=$(med "${on[@]}")
figure "native read 1 KB: auth off $OFF req/s, auth on $ON req/s, ratio $(awk -v a="$ON" -v b="$OFF" 'BEGIN {printf "%.2f", a / b}'), p99 auth on $(med "${onp99[@]}") ms"
figure "\$binary-access-read 1 KB: $(med "${access[@]}") req/s"
figure "wrapped read 1 KB (FHIR JSON by Accept): $(med "${wrapped[@]}") req/s, p99 $(med "${wrappedp99[@]}") ms"
figure "metadata (CapabilityStatement, $(curl -s "$ON_URL/metadata" | wc -c) bytes): $(med "${meta[@]}") req/s, p99 $(med "${metap99[@]}") ms"
kill "$OFF_PID"; wait "$OFF_PID" 2>/dev/null || true; OFF_PID=""

figure "$(java -cp "$BENCH_CP" dev.bulkfhir.server.bench.TokenBench "$ON_URL/auth/token" bench "$work/bench.jwk" 4 2000)"
java -cp "$BENCH_CP" dev.bulkfhir.server.bench.KickoffBench "$ON_URL" "$TOKEN" 50 40 | while read -r line; do figure "$line"; done
kill "$ON_PID"; wait "$ON_PID" 2>/dev/null || true; ON_PID=""

if [ "$MODE" != "--quick" ]; then
  # ---- export, load and memory: the benchmark scripts of their own, last lines kept ----
  figure "$("$ROOT/bench/export.sh" 35700 200 | grep '^median: .*resources/s')"
  if [ -x "$ROOT/bench/export-type.sh" ]; then figure "$("$ROOT/bench/export-type.sh" | tail -1)"; fi
  if [ -x "$ROOT/bench/big-attachments.sh" ]; then figure "$("$ROOT/bench/big-attachments.sh" | tail -1)"; fi
  figure "$("$ROOT/bench/load.sh" | grep -i 'median' | tail -1)"
  if [ "$MODE" = "--full" ]; then
    figure "10M: $("$ROOT/bench/export.sh" 357000 20 | grep '^median: .*resources/s')"
  fi
fi

echo
echo "all figures ($(date -u +%Y-%m-%d), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(java -version 2>&1 | head -1)):"
cat "$FIGURES"
if [ "$MODE" = "--readme" ]; then
  "$ROOT/bench/readme-table.sh" "$FIGURES"
fi
