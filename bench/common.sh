# Shared by the bench scripts: builds the jar and the test classes once, and gives the class
# path of the benchmark drivers.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JAR="$ROOT/server/target/bulk-fhir-server.jar"

build_once() {
  if [ ! -f "$JAR" ] || [ ! -d "$ROOT/server/target/test-classes/dev/bulkfhir/server/bench" ]; then
    # Through the reactor (package compiles the test classes too); nothing goes to ~/.m2.
    (cd "$ROOT" && mvn -q -B -pl server -am package -DskipTests)
  fi
  BENCH_CP="$ROOT/server/target/test-classes:$JAR"
}

# Starts the server in the background on a free port; sets SERVER_PID and BASE_URL.
# Usage: start_server DATA_DIR [JVM_OPTION...] [-- SERVER_OPTION...]
start_server() {
  local data_dir="$1"; shift
  local log="$data_dir.log"
  local jvm=() server=()
  while [ $# -gt 0 ]; do
    if [ "$1" = "--" ]; then shift; server=("$@"); break; fi
    jvm+=("$1"); shift
  done
  java "${jvm[@]}" -jar "$JAR" --port 0 --auth off --data-dir "$data_dir" "${server[@]}" > "$log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 120); do
    if grep -q "serving FHIR R4 at" "$log"; then
      BASE_URL=$(grep -o "serving FHIR R4 at [^ ]*" "$log" | awk '{print $NF}')
      return 0
    fi
    sleep 0.5
  done
  echo "server did not start; log:" >&2; cat "$log" >&2; return 1
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

# The user + system CPU time process PID has used so far, in clock ticks (getconf CLK_TCK a second).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# The CPU ticks of each group of PID's threads, as "NAME TICKS" lines: a group is the threads whose
# names differ only in their numbers (export-worker-1 and export-worker-2 are export-worker-).
thread_group_ticks() {
  local task
  for task in /proc/"$1"/task/*; do
    printf '%s %s\n' "$(tr -d '0-9 ' 2>/dev/null < "$task/comm")" "$(awk '{print $14 + $15}' "$task/stat" 2>/dev/null)"
  done | awk 'NF == 2 {ticks[$1] += $2} END {for (name in ticks) print name, ticks[name]}'
}

# From two thread_group_ticks snapshots and the process's ticks between them: the TOP groups that
# used the most, each with its share of the process's CPU ("export-worker- 61%, GC-Thread# 14%, ...").
thread_shares() {  # before-snapshot after-snapshot process-ticks top
  awk 'NR == FNR {before[$1] = $2; next}
    {used[$1] = $2 - before[$1]}
    END {for (name in used) if (used[name] > 0) printf "%d %s\n", used[name], name}' \
    <(echo "$1") <(echo "$2") | sort -rn | head -"$4" \
    | awk -v total="$3" '{printf "%s%s %.0f%%", (NR > 1 ? ", " : ""), $2, $1 * 100 / total} END {print ""}'
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# The demo population of PATIENTS patients (35,700: about 1,000,000 resources) loaded into DATA/db,
# generated (DemoNdjson) and loaded (the `load` command) only once: DATA/ready marks it done.
prepare_export_data() {
  local patients="$1" data="$2"
  if [ ! -f "$data/ready" ]; then
    rm -rf "$data"; mkdir -p "$data"
    echo "Preparing $patients demo patients in $data (once; this takes a while)..."
    java -cp "$JAR" dev.bulkfhir.server.demo.DemoNdjson --patients "$patients" --out "$data/ndjson"
    java -Xmx1g -jar "$JAR" load --data-dir "$data/db" "$data/ndjson"
    rm -rf "$data/ndjson"
    touch "$data/ready"
  fi
}

# Progress of a script's runs on stderr: on a terminal a bar redrawn in place, otherwise a plain
# line; both with the rate (runs per minute) and the time left, estimated from the runs done.
# Usage: PROGRESS_START=$(date +%s) once, then `progress DONE TOTAL WHAT` after each run, and
# `progress_clear` before a run prints anything of its own.
progress() {
  local done="$1" total="$2" what="$3"
  local tty=0; [ -t 2 ] && tty=1
  awk -v d="$done" -v t="$total" -v w="$what" -v e="$(( $(date +%s) - ${PROGRESS_START:-$(date +%s)} ))" \
      -v tty="$tty" 'function clock(s) { s = int(s); return sprintf("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) }
    BEGIN {
      rate = e > 0 ? d * 60 / e : 0; eta = d > 0 ? clock(e * (t - d) / d) : "?"
      if (tty) {
        n = t > 0 ? int(24 * d / t + 0.5) : 0; bar = ""
        for (i = 0; i < 24; i++) bar = bar (i < n ? "=" : " ")
        printf "\r\033[K[%s] %d/%d %s  %.1f/min  %s  ETA %s%s", bar, d, t, w, rate, clock(e), eta, (d >= t ? "\n" : "")
      } else {
        printf "progress: %d/%d %s, %.1f/min, %s elapsed, ETA %s\n", d, t, w, rate, clock(e), eta
      }
    }' >&2
}

progress_clear() {
  if [ -t 2 ]; then printf '\r\033[K' >&2; fi
}
