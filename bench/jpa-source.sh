#!/usr/bin/env bash
# JpaResourceSource benchmark: loads RESOURCES resources (a tenth Patients, the rest Observations) into
# a real HAPI JPA server (H2 file in a temp dir) through its system DAO in transaction Bundles, then
# exports Patient and Observation through JpaResourceSource three times in a JVM at HEAP. Prints the
# load time and resources/s per run and their median. Builds with the reactor (no install).
# Usage: bench/jpa-source.sh [RESOURCES=100000] [HEAP=-Xmx1g]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RESOURCES="${1:-100000}"; HEAP="${2:--Xmx1g}"
cd "$ROOT"
mvn -q -B -pl examples -am verify -Dtest=JpaSourceBenchmark -Dsurefire.failIfNoSpecifiedTests=false \
  -Dbench.jpa=true -Dbench.jpa.resources="$RESOURCES" -DargLine="$HEAP"
grep -h "\[bench.jpa\]" examples/target/surefire-reports/dev.bulkfhir.examples.jpa.JpaSourceBenchmark-output.txt
