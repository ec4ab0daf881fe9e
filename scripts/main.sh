#!/usr/bin/env bash
# The main job: installs what is missing, builds, and compiles the example model.
#
# Today it shows the example through the pce passes that exist: the model as
# written, then decomposed into the primitive ops and canonicalised. As the
# CPU code generator, training and the runtime land, this grows into
# compile -> train on Fashion-MNIST -> standalone inference -> routing report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
out=build/examples
mkdir -p "$out"
model=examples/fashion_pce.mlir
echo "== $model: verified and decomposed (pce-opt --pce-decompose-layer --canonicalize)"
build/bin/pce-opt "$model" --pce-decompose-layer --canonicalize -o "$out/fashion_pce.decomposed.mlir"
cat "$out/fashion_pce.decomposed.mlir"
echo "== written to $out/fashion_pce.decomposed.mlir"
