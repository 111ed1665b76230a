#!/usr/bin/env bash
# Runs every shell example of README.md and docs/*.md (the fenced ```sh and ```bash blocks)
# against the standalone jar, so that the docs stay true.
#
# The jar runs on demo data with auth on, on free ports, in a scratch directory; the token comes
# the way the docs say (keygen, then token). A page whose first block that starts a server says
# `--auth off` runs against a second server started that way. Each page's blocks run in order,
# in a directory of the page's own that holds `data` (its server's data directory) and
# `server/target/` (the jar), with what the pages assume already set: BASE, JAR, TOKEN, AUTH and
# OPS (the ops port). The variables a block sets carry over to the page's next blocks, as in one
# terminal. `127.0.0.1:8080` and `localhost:8080` in a block become the server's port, `:9090`
# its ops port.
#
# A block passes when it exits 0 (it runs under `set -e`) and no curl in it failed to connect or
# got a 5xx, 401 or 403. A block is skipped when the line before its fence says
#   <!-- docs-examples: skip (why) -->
# or when it starts a server with options this script's servers do not have (TLS, S3, a
# database...), runs Maven or a bench script, or names a path outside the scratch directory (it
# says which). The servers allow 16 running exports per client: a script kicks off faster than a
# reader.
#
# Prints a line per block and last `docs-examples: <n> blocks, <n> passed, <n> skipped`;
# exits 1 if a block failed (keeping the scratch directory, whose path it prints).
# Usage: bench/docs-examples.sh [FILE.md...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JAR_PATH="$ROOT/server/target/bulk-fhir-server.jar"
if [ $# -gt 0 ]; then PAGES=("$@"); else PAGES=("$ROOT/README.md" "$ROOT"/docs/*.md); fi

if [ ! -f "$JAR_PATH" ] || [ -n "$(find "$ROOT"/{storage,providers,server}/src/main -newer "$JAR_PATH" -type f | head -n 1)" ]; then
  (cd "$ROOT" && mvn -B -q -o -DskipTests package -pl server -am)
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/docs-examples.XXXXXX")
mkdir -p "$WORK/server/target" "$WORK/run"
ln -s "$JAR_PATH" "$WORK/server/target/bulk-fhir-server.jar"
SERVER_PIDS=()
cleanup() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  SERVER_PIDS=()
}
trap cleanup EXIT

# Starts the jar as server NAME (data in $WORK/NAME) and writes $WORK/NAME.prelude.sh: the
# variables the pages assume, and a curl that records each response's status (from curl's
# trace) and each failure to connect in $DOCS_CHECKS.
# Usage: start_server NAME [SERVER_OPTION...]; sets PORTS[NAME] and OPS_PORTS[NAME].
declare -A PORTS=() OPS_PORTS=()
start_server() {
  local name="$1"; shift
  local log="$WORK/$name.log" base port token=
  java -Xmx512m -jar "$JAR_PATH" --demo --port 0 --ops-port 0 --data-dir "$WORK/$name" --token-lifetime 3600 \
    --export-max-jobs-per-client 16 "$@" \
    > "$log" 2>&1 &
  SERVER_PIDS+=($!)
  for _ in $(seq 1 240); do
    grep -q "serving FHIR R4 at" "$log" && break
    kill -0 "${SERVER_PIDS[-1]}" 2>/dev/null || break
    sleep 0.5
  done
  base=$(grep -o "serving FHIR R4 at [^ ]*" "$log" | awk '{print $NF}' || true)
  [ -n "$base" ] || { echo "server $name did not start; log:" >&2; cat "$log" >&2; exit 1; }
  port=${base#http://127.0.0.1:}
  PORTS[$name]=${port%%/*}
  OPS_PORTS[$name]=$(sed -n 's/.*ops: .* on port \([0-9]*\).*/\1/p' "$log")
  if grep -q "auth:  on" "$log"; then
    # A token as the README's Try it gets one.
    (cd "$WORK" && java -jar server/target/bulk-fhir-server.jar keygen --client-id "docs-$name" --scope 'system/*.*' \
      --clients "./$name/clients.json" --server "$base" > "$name.keygen.log" 2>&1)
    token=$(cd "$WORK" && java -jar server/target/bulk-fhir-server.jar token --key "docs-$name.jwk" \
      --client-id "docs-$name" --server "$base" --scope 'system/*.*')
  fi
  cat > "$WORK/$name.prelude.sh" <<PRELUDE
BASE='$base'
JAR=server/target/bulk-fhir-server.jar
TOKEN='$token'
AUTH="Authorization: Bearer \$TOKEN"
OPS='http://127.0.0.1:${OPS_PORTS[$name]}'
curl() {
  local trace rc=0
  trace=\$(mktemp "$WORK/run/trace.XXXXXX")
  command curl --trace-ascii "\$trace" "\$@" || rc=\$?
  awk '/^0000: (GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) \// {request = \$2 " " \$3}
       /^0000: HTTP\/[0-9.]+ [0-9][0-9][0-9]/ {print \$3, request}' "\$trace" >> "\$DOCS_CHECKS"
  case \$rc in
    0|23) ;;   # 23: the reader of a pipe (head) stopped early
    *) echo "curl-exit-\$rc \${@: -1}" >> "\$DOCS_CHECKS" ;;
  esac
  rm -f "\$trace"
  return \$rc
}
PRELUDE
}

# The server a page is written for: "off" if its first block that starts a server says
# --auth off, else "on".
page_server() {
  awk '/^```(sh|bash)[ \t]*$/ { inblock = 1; next }
       /^```/ { inblock = 0; next }
       inblock && /-jar +[^ ]*(bulk-fhir-server\.jar|\$JAR|\$\{JAR\})/ && !/\.jar[ \t]+(load|keygen|token)([ \t]|$)/ {
         print (/--auth[ =]off/ ? "off" : "on"); found = 1; exit }
       END { if (!found) print "on" }' "$1"
}

# Extracts the blocks of a page: for each, "START<TAB>SKIP-REASON" on stdout and the block's
# text in $2/block.START.sh. The skip reason is empty for a block to run. A command that starts
# the server with no options but --demo, --auth, --data-dir and --ops-port is left out of the
# block (this script's server stands in for it); one with other options makes the block skipped.
extract() {
  awk -v out="$2" '
    function flags(text,   n, i, part, result) {
      n = split(text, part, /[ \t=\\]+/); result = ""
      for (i = 1; i <= n; i++) {
        if (part[i] ~ /^--/ && part[i] !~ /^--(demo|auth|data-dir|ops-port)$/) result = result " " part[i]
      }
      return result
    }
    !inblock && /^```(sh|bash)[ \t]*$/ {
      inblock = 1; start = NR; file = out "/block." NR ".sh"; printf "" > file
      reason = marker; command = ""; next
    }
    inblock && /^```[ \t]*$/ {
      inblock = 0; close(file)
      if (reason == "" && other != "") reason = "starts a server with" other
      if (reason == "" && maven) reason = "runs Maven; this script builds the jar itself"
      if (reason == "" && bench) reason = "runs a bench script"
      if (reason == "" && outside) reason = "uses a path outside the scratch directory"
      print start "\t" reason; other = ""; maven = 0; bench = 0; outside = 0; marker = ""; next
    }
    inblock {
      line = $0; sub(/#.*/, "", line)
      if (line ~ /(^|[ \t;&|(])mvn[ \t]/) maven = 1
      if (line ~ /(^|[ \t;&|(])(\.\/)?bench\/[a-z-]+\.sh/) bench = 1
      if (line ~ /(^|[ \t="\047])\/(mnt|var|etc|srv|opt|home|usr|root)\//) outside = 1
      if (command == "" && line ~ /-jar +[^ ]*(bulk-fhir-server\.jar|\$JAR|\$\{JAR\})/ \
          && line !~ /\.jar\}?[ \t]+(load|keygen|token|--help)([ \t]|$)/ && line !~ /JAR\}?[ \t]+(load|keygen|token|--help)([ \t]|$)/) {
        command = " "
      }
      if (command != "") {
        command = command " " line
        if (line !~ /\\[ \t]*$/) { other = other flags(command); command = "" }
        next
      }
      print > file
      next
    }
    /^<!-- docs-examples: skip/ {
      marker = $0; sub(/^<!-- docs-examples: skip */, "", marker); sub(/ *-->.*/, "", marker)
      gsub(/^\(|\)$/, "", marker); if (marker == "") marker = "marked skip"; next
    }
    /^[ \t]*$/ { next }
    { marker = "" }
  ' "$1"
}

# The variables a block sets (NAME=... at the start of a line or after ; & | or an indent).
assigned() {
  { grep -oE '(^|[;&|(][ \t]*|^[ \t]+)[A-Z_][A-Z0-9_]*=' "$1" || true; } | grep -oE '[A-Z_][A-Z0-9_]*' | sort -u | tr '\n' ' '
}

start_server on
blocks=0; passed=0; skipped=0; failed=0
for page in "${PAGES[@]}"; do
  name=${page#"$ROOT"/}
  server=$(page_server "$page")
  [ -n "${PORTS[$server]:-}" ] || start_server "$server" --auth off
  dir="$WORK/run/$(echo "$name" | tr '/.' '__')"
  mkdir -p "$dir/home"
  ln -sfn "$WORK/$server" "$dir/home/data"
  ln -sfn "$WORK/server" "$dir/home/server"
  : > "$dir/state.sh"
  while IFS=$'\t' read -r start reason; do
    blocks=$((blocks + 1))
    if [ -n "$reason" ]; then
      skipped=$((skipped + 1)); echo "skip  $name:$start  ($reason)"; continue
    fi
    block="$dir/block.$start.sh"
    sed -E -i "s#(127\\.0\\.0\\.1|localhost):8080#127.0.0.1:${PORTS[$server]}#g; s#(127\\.0\\.0\\.1|localhost):9090#127.0.0.1:${OPS_PORTS[$server]}#g" "$block"
    checks="$dir/checks.$start"; : > "$checks"
    rc=0
    (cd "$dir/home" && DOCS_CHECKS="$checks" timeout 300 bash -c '
      . "$1"; . "$2"
      if [ -n "$3" ]; then trap "declare -p $3 2>/dev/null >> \"$2\" || true" EXIT; fi
      set -e
      . "$4"' _ "$WORK/$server.prelude.sh" "$dir/state.sh" "$(assigned "$block")" "$block") > "$dir/log.$start" 2>&1 || rc=$?
    problems=$(awk '$1 ~ /^curl-exit/ || $1 ~ /^5/ || $1 == "401" || $1 == "403"' "$checks")
    responses=$(awk '$1 ~ /^[0-9]+$/' "$checks" | wc -l)
    if [ "$rc" = 0 ] && [ -z "$problems" ]; then
      passed=$((passed + 1)); echo "pass  $name:$start  ($responses responses)"
    else
      failed=$((failed + 1))
      echo "FAIL  $name:$start  (exit $rc${problems:+; $(echo "$problems" | head -n 3 | tr '\n' ';')})"
      tail -n 6 "$dir/log.$start" | cut -c1-200 | sed 's/^/        /'
    fi
  done < <(extract "$page" "$dir")
done

cleanup
if [ "$failed" -gt 0 ]; then
  echo "kept for a look: $WORK (on.log, run/PAGE/log.LINE)"
else
  rm -rf "$WORK"
fi
echo "docs-examples: $blocks blocks, $passed passed, $skipped skipped"
[ "$failed" = 0 ]
