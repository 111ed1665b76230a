#!/usr/bin/env bash
# Download throughput of one large stored Binary (the download path of export files too) from three
# servers in turn: file store in a directory, in S3 streamed through the server, and in S3 with 307
# redirects to presigned URLs. S3 is S3Proxy on this machine (started by the driver, in a JVM of its
# own), so the figures compare the server's three paths, not a cloud store's bandwidth.
# The last line: s3-download: <MB> MB x <downloads>, <clients> clients: directory <MB/s>, s3 stream <MB/s>, s3 redirect <MB/s>
# Usage: bench/s3-download.sh [MB=64] [DOWNLOADS=16] [CLIENTS=4]
set -euo pipefail
source "$(dirname "$0")/common.sh"
MB="${1:-64}"; DOWNLOADS="${2:-16}"; CLIENTS="${3:-4}"
build_once
if [ ! -f "$ROOT/test-s3proxy/target/s3proxy.classpath" ]; then
  (cd "$ROOT" && mvn -q -B -pl test-s3proxy generate-resources)
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$ROOT/server"
java -cp "$ROOT/server/target/test-classes:$JAR" dev.bulkfhir.server.bench.S3DownloadBench \
  "$JAR" "$WORK" "$MB" "$DOWNLOADS" "$CLIENTS"
