#!/usr/bin/env bash
# Runs the SMART bulk-data-client (https://github.com/smart-on-fhir/bulk-data-client; not on npm)
# against the standalone jar, auth on (SMART Backend Services: the client's key is registered with
# `keygen`), in scenarios that exercise organizeOutputBy, allowPartialManifests, parallel downloads
# and the system, Patient and Group levels. Each scenario passes when the client ends without error,
# every file of every manifest page it saved is downloaded with the resources its count says, and the
# scenario's own check holds. The last line: "bulk-client: <n> scenarios, <n> passed". Not part of
# `mvn verify` (it needs Node.js and the client).
#
# Usage: bench/bulk-client.sh [CLIENT_DIR]
#   CLIENT_DIR (or BULK_CLIENT_DIR): a checkout of the client. Without one, the script uses
#   BULK_CLIENT_GIT_DIR (a git directory of the client, e.g. a mirror: its HEAD is extracted with
#   `git archive`), or else clones the repository from GitHub (network needed), into
#   ${TMPDIR:-/tmp}/bulk-data-client. Its dependencies are installed with `npm ci` when missing
#   (the client declares node <19; newer Node runs it, hence --engine-strict=false).
set -euo pipefail
source "$(dirname "$0")/common.sh"

CLIENT="${1:-${BULK_CLIENT_DIR:-}}"
if [ -z "$CLIENT" ]; then
  CLIENT="${TMPDIR:-/tmp}/bulk-data-client"
  if [ ! -f "$CLIENT/package.json" ]; then
    rm -rf "$CLIENT"; mkdir -p "$CLIENT"
    if [ -n "${BULK_CLIENT_GIT_DIR:-}" ]; then
      git --git-dir="$BULK_CLIENT_GIT_DIR" archive HEAD | tar -x -C "$CLIENT"
    else
      git clone --depth 1 https://github.com/smart-on-fhir/bulk-data-client "$CLIENT"
    fi
  fi
fi
[ -f "$CLIENT/built/app.js" ] || { echo "no bulk-data-client (built/app.js) in $CLIENT" >&2; exit 2; }
if [ ! -d "$CLIENT/node_modules" ]; then
  (cd "$CLIENT" && npm ci --engine-strict=false --no-audit --no-fund --loglevel=error)
fi

build_once
WORK="$(mktemp -d "${TMPDIR:-/tmp}/bulk-client-XXXXXX")"
DATA="$WORK/data"
mkdir -p "$DATA"
# The client's key, registered before the server starts (it would also pick it up while running).
java -jar "$JAR" keygen --client-id bulk-client --scope 'system/*.read' --clients "$DATA/clients.json" \
  --out "$WORK/bulk-client.jwk" > /dev/null
# Small files and pages, so that pages link on and downloads run in parallel (cut blocks:
# ExportOrganizedTest).
LOG="$WORK/server.log"
java -Xmx512m -jar "$JAR" --port 0 --data-dir "$DATA" --demo --demo-patients 60 \
  --export-file-max-resources 300 --export-manifest-page-size 3 > "$LOG" 2>&1 &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null || true; wait $SERVER_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do
  grep -q "serving FHIR R4 at" "$LOG" && break
  sleep 0.5
done
BASE_URL=$(grep -o "serving FHIR R4 at [^ ]*" "$LOG" | awk '{print $NF}')
[ -n "$BASE_URL" ] || { echo "server did not start:" >&2; cat "$LOG" >&2; exit 1; }
TOKEN_URL=$(curl -sf "$BASE_URL/.well-known/smart-configuration" | node -e \
  'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).token_endpoint))')
GROUP=$(curl -sf -H "Authorization: Bearer $(java -jar "$JAR" token --key "$WORK/bulk-client.jwk" \
  --client-id bulk-client --server "$BASE_URL" --scope 'system/Group.read')" "$BASE_URL/Group?_count=1" \
  | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).entry[0].resource.id))')

# The client fetches the CapabilityStatement through got's HTTP cache, which on Node 20 (the client
# declares node < 19) never settles for this server's chunked answer, and the client then exits
# silently: preloaded, this makes that one fetch uncached (the client calls it through the module).
cat > "$WORK/uncached-metadata.js" <<EOF
const utils = require("$CLIENT/built/lib/utils.js");
const fetch = utils.getCapabilityStatement;
utils.getCapabilityStatement = (url) => fetch(url, true);
EOF

TOTAL=0; PASSED=0
# scenario NAME CHECK KEY=VALUE... : a config file with the key's values (JSON values), the client run.
scenario() {
  local name="$1" check="$2"; shift 2
  local dir="$WORK/$name" options=""
  mkdir -p "$dir/downloads"
  for pair in "$@"; do options+="  ${pair%%=*}: ${pair#*=},"$'\n'; done
  cat > "$dir/config.js" <<EOF
module.exports = {
  fhirUrl: "$BASE_URL",
  tokenUrl: "$TOKEN_URL",
  clientId: "bulk-client",
  privateKey: $(cat "$WORK/bulk-client.jwk"),
  scope: "system/*.read",
  accessTokenLifetime: 240,
  reporter: "text",
  destination: "$dir/downloads",
  saveManifest: true,
  lenient: false,
  log: { enabled: false },
$options}
EOF
  TOTAL=$((TOTAL + 1))
  if (cd "$CLIENT" && timeout 300 node -r "$WORK/uncached-metadata.js" built/app.js --config "$dir/config.js" --reporter text < /dev/null > "$dir/client.log" 2>&1) \
      && node "$WORK/verify.js" "$dir/downloads" "$check" > "$dir/verify.log" 2>&1; then
    PASSED=$((PASSED + 1)); echo "PASS $name: $(tail -1 "$dir/verify.log")"
  else
    echo "FAIL $name (see $dir)"; { tail -5 "$dir/client.log" "$dir/verify.log" 2>/dev/null || true; } | sed 's/^/    /'
  fi
}

# Every saved manifest page: its files downloaded (the client names them N.Type.ndjson, or
# N.output.ndjson for organized output), their lines as many as the counts say; then the check.
cat > "$WORK/verify.js" <<'EOF'
const fs = require("fs"), path = require("path");
const [root, check] = process.argv.slice(2);
const pages = [];
(function walk(dir) {
  for (const f of fs.readdirSync(dir)) {
    const p = path.join(dir, f);
    if (fs.statSync(p).isDirectory()) walk(p); else if (f === "manifest.json") pages.push(p);
  }
})(root);
if (!pages.length) throw new Error("no manifest saved");
let counted = 0, lines = [], organized = 0, continued = 0;
for (const page of pages) {
  const m = JSON.parse(fs.readFileSync(page, "utf8"));
  if (m.outputOrganizedBy) organized++;
  for (const f of m.output) { counted += f.count; if (f.continuesInFile) continued++; }
}
(function walk(dir) {
  for (const f of fs.readdirSync(dir)) {
    const p = path.join(dir, f);
    if (fs.statSync(p).isDirectory()) { if (f !== "error") walk(p); }
    else if (f.endsWith(".ndjson")) lines.push(...fs.readFileSync(p, "utf8").split("\n").filter(Boolean));
  }
})(root);
const resources = lines.map(l => JSON.parse(l));
const headers = resources.filter(r => r.resourceType === "Parameters" && r.parameter[0].name === "header");
// A manifest's count leaves out the block headers of organized output.
if (lines.length - headers.length !== counted) {
  throw new Error(`manifests count ${counted} resources, downloaded ${lines.length - headers.length}`);
}
const types = new Set(resources.map(r => r.resourceType));
const checks = {
  byType: () => headers.length === 0 && organized === 0,
  organized: () => organized === pages.length && headers.length > 0,
  paged: () => pages.length > 1,
  organizedPaged: () => organized === pages.length && headers.length > 0 && pages.length > 1,
  typed: () => [...types].every(t => t === "Patient" || t === "Observation"),
};
if (!checks[check]()) throw new Error(`check ${check} failed: ${pages.length} pages, ${headers.length} headers,`
  + ` ${continued} continued, types ${[...types]}`);
console.log(`${pages.length} manifest page(s), ${lines.length} lines (${headers.length} block headers),`
  + ` types ${[...types].sort().join(",")}`);
EOF

scenario system-by-type byType global=true parallelDownloads=5
scenario patient-organized organized organizeOutputBy='"Patient"' parallelDownloads=4
scenario group-partial paged group="\"$GROUP\"" allowPartialManifests=true parallelDownloads=3
scenario system-organized-partial organizedPaged global=true organizeOutputBy='"Patient"' \
  allowPartialManifests=true parallelDownloads=8
scenario patient-typed-partial typed _type='"Patient,Observation"' allowPartialManifests=true parallelDownloads=1
echo "bulk-client: $TOTAL scenarios, $PASSED passed"
[ "$PASSED" -eq "$TOTAL" ]
