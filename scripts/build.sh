#!/usr/bin/env bash
# Configures (once) and builds everything into build/. ccache keeps its cache in
# its own directory (~/.cache/ccache by default), never in the tree.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${PCE_JOBS:-$(nproc)}
# Paths under the tree are hashed relative to it, so clones elsewhere share
# the cache.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
if [ ! -f build/build.ninja ]; then
  cmake --preset default
fi
ninja -C build -j"$jobs"
