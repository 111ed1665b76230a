#!/usr/bin/env bash
# Binary benchmark, three runs against a fresh server at -Xmx256m each, medians printed:
#  - a 1 GB Binary uploaded and downloaded natively (curl streams both ways), then downloaded
#    again in two halves with a Range resume midway (curl -C -), byte-compared with the original;
#  - native download MB/s over loopback next to `cat` of the same file to /dev/null (the ratio);
#  - requests/s for native reads of a 1 KB Binary at 16 concurrent connections (wrk).
# Usage: bench/binary.sh [SIZE_MB=1024] [WRK_SECONDS=10]
set -euo pipefail
source "$(dirname "$0")/common.sh"
SIZE_MB="${1:-1024}"; WRK_SECONDS="${2:-10}"; HEAP="-Xmx256m"

if ! command -v wrk > /dev/null; then
  echo "installing wrk" >&2
  apt-get install -y -qq wrk > /dev/null || { apt-get update -qq && apt-get install -y -qq wrk > /dev/null; }
fi
build_once

work=$(mktemp -d)
trap 'stop_server 2>/dev/null || true; rm -rf "$work"' EXIT
big="$work/big.bin"
head -c "$((SIZE_MB * 1024 * 1024))" /dev/urandom > "$big"
head -c 1024 /dev/urandom > "$work/small.bin"
now() { date +%s.%N; }
mbps() { awk -v bytes="$1" -v start="$2" -v end="$3" 'BEGIN {printf "%.0f", bytes / 1048576 / (end - start)}'; }
bytes=$(stat -c %s "$big")

# Like start_server in common.sh, with auth off: this measures Binary, not token checks.
start_binary_server() {
  local data_dir="$1"; shift
  java "$@" -jar "$JAR" --port 0 --data-dir "$data_dir" --auth off > "$data_dir.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 120); do
    if grep -qs "serving FHIR R4 at" "$data_dir.log"; then
      BASE_URL=$(grep -o "serving FHIR R4 at [^ ]*" "$data_dir.log" | awk '{print $NF}')
      return 0
    fi
    sleep 0.5
  done
  echo "server did not start; log:" >&2; cat "$data_dir.log" >&2; return 1
}

up=(); down=(); ratio=(); catr=(); rps=()
PROGRESS_START=$(date +%s)
for run in 1 2 3; do
  dir="$work/run$run/data"; mkdir -p "$(dirname "$dir")"
  start_binary_server "$dir" "$HEAP" -XX:+ExitOnOutOfMemoryError

  # Upload: curl -T streams the file (--data-binary @file would load it into curl's memory).
  t0=$(now)
  location=$(curl -sS -f -X POST -T "$big" -H 'Content-Type: application/octet-stream' \
      -o /dev/null -D - "$BASE_URL/Binary" | tr -d '\r' | awk -F': ' 'tolower($1)=="location" {print $2}')
  t1=$(now)
  id=$(echo "$location" | sed -E 's#.*/Binary/([^/]+)/_history/.*#\1#')

  # Download natively to /dev/null (warm once, then measure).
  curl -sS -f -o /dev/null "$BASE_URL/Binary/$id"
  t2=$(now); curl -sS -f -o /dev/null "$BASE_URL/Binary/$id"; t3=$(now)
  # cat of the same bytes (the server's own copy of them, as the server reads it) to /dev/null.
  stored=$(find "$dir/binaries" -type f | head -1)
  cat "$stored" > /dev/null
  t4=$(now); cat "$stored" > /dev/null; t5=$(now)

  # Resume: the first half by Range, then curl -C - asks for the rest; compare with the original.
  half=$((bytes / 2 + 12345))
  curl -sS -f -r "0-$((half - 1))" -o "$work/resumed.bin" "$BASE_URL/Binary/$id/\$binary-access-read"
  curl -sS -f -C - -o "$work/resumed.bin" "$BASE_URL/Binary/$id/\$binary-access-read"
  cmp "$big" "$work/resumed.bin"
  rm -f "$work/resumed.bin"
  alive=$(kill -0 "$SERVER_PID" 2>/dev/null && echo yes || echo NO)

  # 1 KB native reads, 16 connections.
  small=$(curl -sS -f -X POST --data-binary @"$work/small.bin" -H 'Content-Type: application/octet-stream' \
      -o /dev/null -D - "$BASE_URL/Binary" | tr -d '\r' | awk -F': ' 'tolower($1)=="location" {print $2}' \
      | sed -E 's#.*/Binary/([^/]+)/_history/.*#\1#')
  wrk -t2 -c16 -d2s "$BASE_URL/Binary/$small" > /dev/null   # warm-up
  r=$(wrk -t2 -c16 -d"${WRK_SECONDS}s" "$BASE_URL/Binary/$small" | awk '/Requests\/sec/ {printf "%.0f", $2}')

  up+=("$(mbps "$bytes" "$t0" "$t1")"); down+=("$(mbps "$bytes" "$t2" "$t3")"); catr+=("$(mbps "$bytes" "$t4" "$t5")")
  ratio+=("$(awk -v d="${down[-1]}" -v c="${catr[-1]}" 'BEGIN {printf "%.2f", d / c}')"); rps+=("$r")
  progress_clear
  echo "run $run: upload ${up[-1]} MB/s, download ${down[-1]} MB/s, cat ${catr[-1]} MB/s," \
       "ratio ${ratio[-1]}, resume ok, server alive after: $alive, 1 KB reads ${rps[-1]} req/s"
  progress "$run" 3 "runs"
  stop_server
  rm -rf "$work/run$run"
done
med() { printf '%s\n' "$@" | median; }
echo "median of 3 (${SIZE_MB} MB Binary, server $HEAP, $(nproc) cores):"
echo "  upload             $(med "${up[@]}") MB/s"
echo "  native download    $(med "${down[@]}") MB/s"
echo "  cat > /dev/null    $(med "${catr[@]}") MB/s"
echo "  download / cat     $(med "${ratio[@]}")"
echo "  1 KB native reads  $(med "${rps[@]}") req/s (wrk -t2 -c16 -d${WRK_SECONDS}s)"
