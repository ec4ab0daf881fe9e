#!/usr/bin/env bash
# The pruning / reinforcement table of docs/RESULTS.md: for each seed's run of
# the study's `cosine-learnable` variant (examples/study/fashion-routers.yaml,
# run first with pce-study), one more epoch of its last phase from its weights
# three ways: unchanged (the control), after pruning the experts used by fewer
# than PRUNE of the patches, and after splitting those used by more than
# SPLIT; then pce-run's test accuracy and images/s of each.
#   bash scripts/reshape-experiment.sh [STUDY_DIR] [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
study=${1:-build/study/fashion-routers}
out=${2:-build/reshape-experiment}
prune=${PRUNE:-0.10}
split=${SPLIT:-0.40}
data=${PCE_DATA:-/usr/share/datasets/fashion-mnist}
model=$study/models/cosine-learnable.yaml
train_args=(--epochs 1 --limit-train 6400 --threads 1 --force)
mkdir -p "$out"
for seed in 1 2 3; do
  run=$study/runs/cosine-learnable/seed$seed
  [[ -f $run/summary.json ]] || { echo "reshape-experiment: no finished run $run (run pce-study first)" >&2; exit 1; }
  dir=$out/seed$seed
  rm -rf "$dir/pruned" "$dir/split"
  mkdir -p "$dir"
  build/bin/pce-reshape "$run" -o "$dir/pruned" --model "$model" --prune-usage-below "$prune" | tee "$dir/pruned.txt"
  build/bin/pce-reshape "$run" -o "$dir/split" --model "$model" --split-usage-above "$split" --seed "$seed" |
    tee "$dir/split.txt"
  build/bin/pce-train "$model" -o "$dir/control-ft" --finetune "$run" --seed "$seed" "${train_args[@]}" > "$dir/control-ft.log"
  for kind in pruned split; do
    build/bin/pce-train "$dir/$kind/model.yaml" -o "$dir/$kind-ft" --finetune "$dir/$kind" --seed "$seed" \
      "${train_args[@]}" > "$dir/$kind-ft.log"
  done
  for r in "$run" "$dir/control-ft" "$dir/pruned-ft" "$dir/split-ft"; do
    art=$(ls -d "$r"/compiled/phase* | sort -V | tail -1)
    echo "== $r"
    build/bin/pce-run "$art" --weights "$r/weights.safetensors" --threads 1 \
      --idx-images "$data/t10k-images-idx3-ubyte.gz" --idx-labels "$data/t10k-labels-idx1-ubyte.gz" \
      --output "$r/test-logits.npy" | grep -E "top-1|images/s"
  done > "$dir/pce-run.txt"
done
echo "reshape-experiment: results in $out/seed*/ (pce-run.txt, */summary.json)"
