#!/usr/bin/env bash
# What the audit trail costs the hottest path: native reads of a 1 KB Binary with auth on, on two
# servers, --audit on and --audit off, both under load at the same time (wrk 1 thread x 16
# connections each) so that the machine's changing load falls on both alike. For each round the
# ratio of their requests/s and of the server CPU per request (from /proc, without the JIT
# compiler's threads; the cost, whose bar is +5 %); the medians of those ratios; and which of the servers'
# threads the difference is in (the compiler's included). The rounds are spread over PAIRS pairs of
# servers, each pair new JVMs warmed up afresh (WARM_ROUNDS of 16 s, default 2).
# The CPU ratio is the cost: at the same time on the same cores, the server with more runnable
# threads (the audit writer) gets a larger share of the CPU, which flatters its requests/s.
# Usage: bench/audit-cost.sh [SECONDS_EACH=10] [ROUNDS=3] [PAIRS=1]
set -euo pipefail
source "$(dirname "$0")/common.sh"
SECONDS_EACH="${1:-10}"; ROUNDS="${2:-3}"; PAIRS="${3:-1}"; HEAP="-Xmx512m"
WARM_ROUNDS="${WARM_ROUNDS:-2}"   # 16 s rounds of warm-up per pair
command -v wrk > /dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
build_once

work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

# Starts a server with auth on and the given --audit; prints "PID URL".
serve() {
  local dir="$1" audit="$2"
  mkdir -p "$dir"
  # A fixed set of JIT compiler threads, so that none ends (taking its CPU time out of the per-thread figures).
  java "$HEAP" -XX:-UseDynamicNumberOfCompilerThreads -jar "$JAR" --port 0 --data-dir "$dir" --token-lifetime 3600 --audit "$audit" > "$dir.log" 2>&1 &
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

# wrk against one server in the background; its output goes to FILE.
load_one() {  # url token file
  wrk -t1 -c16 -d"${SECONDS_EACH}s" -H "Authorization: Bearer $2" "$1" > "$3"
}

# The CPU ticks PID has used so far, leaving out its JIT compiler's threads: after a minute of this load
# they still compile, and how much differs from one JVM to the next by more than the audit costs.
work_ticks() {
  echo $(($(cpu_ticks "$1") - $(thread_group_ticks "$1" | awk '$1 ~ /CompilerThre/ {sum += $2} END {print sum + 0}')))
}

# From a wrk output and the server's CPU ticks over it: "REQUESTS_PER_SECOND MICROSECONDS_OF_SERVER_CPU_PER_REQUEST".
figures() {  # wrk-output ticks
  awk -v ticks="$2" -v hz="$(getconf CLK_TCK)" '
    /requests in/ {requests = $1}
    /Requests\/sec/ {rps = $2}
    /Non-2xx/ {bad = $NF}
    END {if (bad > 0) {print "wrk: " bad " non-2xx answers" > "/dev/stderr"; exit 1}
         printf "%.0f %.1f\n", rps, ticks / hz * 1e6 / requests}' "$1"
}

# One round: both servers under load at the same time, so that whatever else the machine does in
# those seconds (its load changes from second to second) falls on both alike.
# Prints "ON_RPS ON_CPU_US OFF_RPS OFF_CPU_US".
round() {
  local on_before off_before
  on_before=$(work_ticks "$ON_PID"); off_before=$(work_ticks "$OFF_PID")
  load_one "$ON_URL/Binary/$ON_ID" "$ON_TOKEN" "$work/on.wrk" &
  local on_wrk=$!
  load_one "$OFF_URL/Binary/$OFF_ID" "$OFF_TOKEN" "$work/off.wrk"
  wait "$on_wrk"
  echo "$(figures "$work/on.wrk" $(($(work_ticks "$ON_PID") - on_before))) $(figures "$work/off.wrk" $(($(work_ticks "$OFF_PID") - off_before)))"
}

# The ticks each thread group of PID used since SNAPSHOT, appended to FILE as "NAME TICKS" lines.
add_thread_ticks() {  # pid snapshot file
  awk 'NR == FNR {before[$1] = $2; next} {print $1, $2 - before[$1]}' <(echo "$2") <(thread_group_ticks "$1") >> "$3"
}

head -c 1024 /dev/urandom > "$work/1k.bin"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
on=(); off=(); on_cpu=(); off_cpu=(); rate_ratio=(); cpu_ratio=(); on_requests=0; off_requests=0; total_dropped=0
PROGRESS_START=$(date +%s)
# Each pair of servers is a new pair of JVMs: how the JIT compiles the request path differs from one
# JVM to the next by as much as the audit costs, so the rounds are spread over several pairs.
for pair in $(seq 1 "$PAIRS"); do
  read -r ON_PID ON_URL < <(serve "$work/on$pair" on); pids+=("$ON_PID")
  read -r OFF_PID OFF_URL < <(serve "$work/off$pair" off); pids+=("$OFF_PID")
  read -r ON_TOKEN ON_ID < <(prepare "$work/on$pair" "$ON_URL" "bench-on$pair")
  read -r OFF_TOKEN OFF_ID < <(prepare "$work/off$pair" "$OFF_URL" "bench-off$pair")
  # Warm both until the JIT settles (its compiler threads still take a fifth of the CPU after a few seconds).
  SAVED=$SECONDS_EACH; SECONDS_EACH=16
  for _ in $(seq 1 "$WARM_ROUNDS"); do round > /dev/null; done
  SECONDS_EACH=$SAVED
  on_threads=$(thread_group_ticks "$ON_PID"); off_threads=$(thread_group_ticks "$OFF_PID")
  for n in $(seq 1 "$ROUNDS"); do
    read -r r1 c1 r0 c0 < <(round)
    on+=("$r1"); on_cpu+=("$c1"); off+=("$r0"); off_cpu+=("$c0")
    on_requests=$((on_requests + r1 * SECONDS_EACH)); off_requests=$((off_requests + r0 * SECONDS_EACH))
    rate_ratio+=("$(awk -v a="$r1" -v b="$r0" 'BEGIN {printf "%.3f", a / b}')")
    cpu_ratio+=("$(awk -v a="$c1" -v b="$c0" 'BEGIN {printf "%.3f", a / b}')")
    progress_clear
    echo "pair $pair, round $n: audit on $r1 req/s ($c1 us CPU each), audit off $r0 req/s ($c0 us CPU each):" \
      "on/off ${rate_ratio[-1]}, CPU per request x${cpu_ratio[-1]}"
    progress "${#on[@]}" $((PAIRS * ROUNDS)) rounds
  done
  add_thread_ticks "$ON_PID" "$on_threads" "$work/on.threads"
  add_thread_ticks "$OFF_PID" "$off_threads" "$work/off.threads"
  kill "$ON_PID" "$OFF_PID"; wait "$ON_PID" "$OFF_PID" 2>/dev/null || true
  # The writer drops (and logs) records only when it falls behind: none should be.
  dropped=$( (grep -o "[0-9]* audit records dropped" "$work/on$pair.log" || true) | tail -1 | awk '{print $1}')
  total_dropped=$((total_dropped + ${dropped:-0}))
done

# Where the audit-on servers' CPU per request differs, by thread group (request threads, GC, the
# audit writer, the JIT compiler...): the groups whose figures differ most.
per_request() {  # thread-ticks-file requests
  awk -v requests="$2" -v hz="$(getconf CLK_TCK)" '{ticks[$1] += $2}
    END {for (name in ticks) printf "%s %.2f\n", name, ticks[name] / hz * 1e6 / requests}' "$1"
}
by_thread=$(awk 'NR == FNR {on[$1] = $2; next} {off[$1] = $2}
  END {for (name in off) if (!(name in on)) on[name] = 0
       for (name in on) {d = on[name] - off[name]; printf "%.2f %s %.1f %.1f\n", (d < 0 ? -d : d), name, on[name], off[name]}}' \
  <(per_request "$work/on.threads" "$on_requests") <(per_request "$work/off.threads" "$off_requests") \
  | sort -rn | head -6 \
  | awk '{printf "%s%s %s vs %s", (NR > 1 ? ", " : ""), $2, $3, $4} END {print ""}')
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
med() { printf '%s\n' "$@" | median; }
echo "median of $((PAIRS * ROUNDS)) rounds on $PAIRS pair(s) of servers (1 KB native Binary reads, auth on, both servers at once, wrk -t1 -c16 -d${SECONDS_EACH}s each, server $HEAP, $(nproc) cores):"
echo "  audit on   $(med "${on[@]}") req/s, $(med "${on_cpu[@]}") us of server CPU per request (JIT compiler left out)"
echo "  audit off  $(med "${off[@]}") req/s, $(med "${off_cpu[@]}") us of server CPU per request (JIT compiler left out)"
echo "  us of CPU per request by thread, on vs off (the groups that differ most): $by_thread"
echo "  audit records dropped: $total_dropped"
echo "audit: on/off ratio $(med "${rate_ratio[@]}"), CPU per request $(awk -v r="$(med "${cpu_ratio[@]}")" 'BEGIN {printf "%+.1f", (r - 1) * 100}') % (medians of the rounds' ratios)"
