#!/usr/bin/env bash
# Writes the figures bench/all.sh printed (one "what: figures" line each) into
# docs/benchmark-results.md (the table lived in README.md once, hence the name), between the
# markers of its table, with the date and the machine they were measured on.
# Usage: bench/readme-table.sh FIGURES_FILE
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FIGURES="$1"
TARGET="$ROOT/docs/benchmark-results.md"
BEGIN='<!-- bench/all.sh figures: begin -->'
END='<!-- bench/all.sh figures: end -->'
table=$(mktemp)
{
  echo "$BEGIN"
  echo "Measured $(date -u +%Y-%m-%d) by \`bench/all.sh\` on $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo),"
  echo "$(java -version 2>&1 | head -1 | tr -d '"'); servers at \`-Xmx512m\`, auth on unless a line says otherwise:"
  echo
  echo "| what | figures |"
  echo "|---|---|"
  # "what: figures" becomes a row; a line without ": " is a row of its own.
  sed -E 's/\|/\\|/g; s/^([^:]*): (.*)$/| \1 | \2 |/; /^\|/!s/^(.*)$/| \1 | |/' "$FIGURES"
  echo "$END"
} > "$table"
grep -qF "$BEGIN" "$TARGET" || { echo "$TARGET has no '$BEGIN' marker" >&2; exit 1; }
awk -v begin="$BEGIN" -v end="$END" -v table="$table" '
  $0 == begin {while ((getline line < table) > 0) print line; skip = 1; next}
  $0 == end {skip = 0; next}
  !skip {print}' "$TARGET" > "$TARGET.new"
mv "$TARGET.new" "$TARGET"
rm -f "$table"
echo "$TARGET: benchmark table updated"
