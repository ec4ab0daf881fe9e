#!/usr/bin/env bash
# Runs, in order, every ```sh block of a Markdown file that follows a line
# `<!-- test -->`, from the repository root, exactly as written, with bash
# -euo pipefail. Fails (naming the block's line) when any command fails.
#   scripts/run-doc-commands.sh docs/Tutorial-FusionPass.md
set -euo pipefail
doc=$1
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
blocks=$(mktemp -d)
trap 'rm -rf "$blocks"' EXIT
# Split the marked blocks into files named by their first line number.
awk -v dir="$blocks" '
  /^<!-- test -->$/ { armed = 1; next }
  armed && /^```sh$/ { inside = 1; armed = 0; file = sprintf("%s/%06d.sh", dir, NR + 1); next }
  inside && /^```$/ { inside = 0; close(file); next }
  inside { print > file }
  !/^[[:space:]]*$/ { armed = 0 }
' "$doc"
count=0
for block in "$blocks"/*.sh; do
  [ -e "$block" ] || break
  line=$((10#$(basename "$block" .sh)))
  count=$((count + 1))
  echo "== $doc:$line"
  if ! bash -euo pipefail "$block"; then
    echo "FAILED: the commands at $doc:$line" >&2
    exit 1
  fi
done
if [ "$count" -eq 0 ]; then
  echo "no tested command block in $doc" >&2
  exit 1
fi
echo "$count command block(s) of $doc ran"
