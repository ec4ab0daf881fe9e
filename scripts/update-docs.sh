#!/usr/bin/env bash
# Regenerates docs/Dialect.md and docs/Passes.md from ODS and Passes.td.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/build.ninja ] || cmake --preset default >/dev/null
ninja -C build pce-docs >/dev/null
cp build/docs/Dialect.md build/docs/Passes.md docs/
echo "updated docs/Dialect.md docs/Passes.md"
