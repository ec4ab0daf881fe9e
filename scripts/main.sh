#!/usr/bin/env bash
# The main job: installs what is missing, builds, trains the example model on
# Fashion-MNIST through its compiled layers (a short run of a few minutes:
# one epoch per phase on 6400 training images), classifies the test set
# standalone with the trained weights, and writes the routing report.
#
# The full schedule of examples/fashion_pce.yaml and its results:
# docs/RESULTS.md. PCE_TRAIN_ARGS replaces the short run's options, e.g.
#   PCE_TRAIN_ARGS="" bash scripts/main.sh        # the whole schedule
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh

data=${PCE_DATA:-/usr/share/datasets/fashion-mnist}
out=build/examples
model=examples/fashion_pce.yaml
run=$out/run
mkdir -p "$out"

echo "== 1. train $model (pce-train: pce-compile --training, then the phase schedule)"
# shellcheck disable=SC2086
build/bin/pce-train "$model" -o "$run" --force --data "$data" \
  ${PCE_TRAIN_ARGS---epochs 1 --limit-train 6400}

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
