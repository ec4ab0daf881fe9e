#!/usr/bin/env bash
# The main job: installs what is missing, builds, compiles the example model to
# an artifact, and runs it standalone on the Fashion-MNIST test set, writing
# the routing weights of every PCE layer.
#
# Training (pce-train, the phase schedule of the proposal) is not built yet:
# until it is, the weights are the initial ones from pce-init, so accuracy is
# chance level. The flow below is the one trained weights will take.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh

data=${PCE_DATA:-/usr/share/datasets/fashion-mnist}
out=build/examples
model=examples/fashion_pce.yaml
mkdir -p "$out"

echo "== 1. compile $model (pce-compile --target cpu)"
build/bin/pce-compile "$model" --target cpu -o "$out/fashion"

echo "== 2. initial weights (pce-init; trained weights replace them once pce-train exists)"
build/bin/pce-init "$out/fashion" -o "$out/fashion.init.safetensors" --seed 0

echo "== 3. standalone inference on the Fashion-MNIST test set (pce-run, no LibTorch)"
rm -rf "$out/routing"
build/bin/pce-run "$out/fashion" --weights "$out/fashion.init.safetensors" \
  --idx-images "$data/t10k-images-idx3-ubyte.gz" --idx-labels "$data/t10k-labels-idx1-ubyte.gz" \
  --output "$out/logits.npy" --routing "$out/routing"

echo "== 4. routing records: weights [images, patches, experts] per PCE layer"
for f in "$out"/routing/*.npy; do
  printf '  %s (%s bytes)\n' "$f" "$(stat -c %s "$f")"
done
echo "== artifact: $out/fashion (manifest.json, model.so); logits: $out/logits.npy"
