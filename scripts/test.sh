#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test
# (lit suites and GoogleTest suites) through ctest. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
start=$(date +%s)
bash scripts/build.sh
echo "build: $(( $(date +%s) - start )) s"
cd build
ctest --output-on-failure -j"${PCE_JOBS:-$(nproc)}" "$@"
