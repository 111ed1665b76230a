#!/usr/bin/env bash
# JpaResourceSource benchmark: loads RESOURCES resources (a tenth Patients, the rest Observations) into
# a real HAPI JPA server (H2 file in a temp dir; DATABASE=postgres: an embedded PostgreSQL) through its system DAO in transaction Bundles, then
# exports Patient and Observation through JpaResourceSource three times in a JVM at HEAP. Prints the
# load time and resources/s per run and their median. Builds with the reactor (no install).
# Then the same for a Group of 100 of the patients, and HAPI JPA's own bulk export (Batch2) of both on the same
# host and data; the last line compares the system export rates. DIR keeps the loaded database for the next run
# (one per DATABASE, side by side).
# Usage: [HAPI_RUNS=1] [DATABASE=h2|postgres] bench/jpa-source.sh [RESOURCES=100000] [HEAP=-Xmx1g] [DIR]
#        (HAPI_RUNS=0 skips HAPI's export)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RESOURCES="${1:-100000}"; HEAP="${2:--Xmx1g}"; DIR="${3:-}"
cd "$ROOT"
mvn -q -B -pl examples -am verify -Dtest=JpaSourceBenchmark -Dsurefire.failIfNoSpecifiedTests=false \
  -Dbench.jpa=true -Dbench.jpa.resources="$RESOURCES" -Dbench.jpa.dir="$DIR" -Dbench.jpa.hapiRuns="${HAPI_RUNS:-1}" \
  -Dbench.jpa.database="${DATABASE:-h2}" -DargLine="$HEAP"
grep -h "\[bench.jpa\]" examples/target/surefire-reports/dev.bulkfhir.examples.jpa.JpaSourceBenchmark-output.txt
