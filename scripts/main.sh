#!/usr/bin/env bash
# The main job: installs what is missing, builds, trains the wide example
# network on Fashion-MNIST through its compiled PCE layer (one epoch per
# phase on the 55,000 training images: about 5 minutes on 2 cores, about 90%
# test top-1), classifies the test set standalone with the trained weights,
# and writes the routing report.
#
# The full schedule of examples/fashion_pce_wide.yaml (9 epochs, 92.2%) and
# the other results: docs/RESULTS.md. PCE_TRAIN_ARGS replaces the run's
# options, e.g.
#   PCE_TRAIN_ARGS="" bash scripts/main.sh        # the whole schedule
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh

data=${PCE_DATA:-/usr/share/datasets/fashion-mnist}
out=build/examples
model=examples/fashion_pce_wide.yaml
run=$out/run
mkdir -p "$out"

echo "== 1. train $model (pce-train: pce-compile --training, then the phase schedule)"
# shellcheck disable=SC2086
build/bin/pce-train "$model" -o "$run" --force --data "$data" \
  ${PCE_TRAIN_ARGS---epochs 1}

# The last phase's artifact holds the trained network as one `forward`.
final=$(ls -d "$run"/compiled/phase* | sort -V | tail -1)
echo "== 2. standalone inference on the test set with $final (pce-run, no LibTorch)"
rm -rf "$out/routing"
build/bin/pce-run "$final" --weights "$run/weights.safetensors" \
  --idx-images "$data/t10k-images-idx3-ubyte.gz" --idx-labels "$data/t10k-labels-idx1-ubyte.gz" \
  --output "$out/logits.npy" --routing "$out/routing"

echo "== done: training log $run/log.jsonl, summary $run/summary.json,"
echo "   routing report $out/routing/report.md (and report.json, <layer>.routing.npy); open in a browser:"
echo "   $(cd "$out/routing" && pwd)/report.html"
