#!/usr/bin/env python3
"""A classification task where an item's position matters, as .npy pairs.

Each 56x56 grayscale image holds two Fashion-MNIST items: the target in one
of the two top 28x28 cells, a distractor of another class in one of the two
bottom cells, each shifted by up to --jitter pixels (clipped to the image).
The label is the target's class: the same item means something different
at the top than at the bottom, so routing by position is meaningful. Train
images use Fashion-MNIST's training items only, test images its test items.

  scripts/make-position-task.py --out build/topitem --train 20000 --test 5000 --seed 1

Writes OUT/{train,test}/{images,labels}.npy (u8 [N,1,56,56], u8 [N]:
Fashion-MNIST's class indices); pce-train reads the directory as
`format: npy` (docs/Data.md). The output is the same for the same options.
"""
import argparse
import gzip
import os

import numpy as np

CELL = 28


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def place(canvas, item, row, col, jitter, rng):
    dy, dx = rng.integers(-jitter, jitter + 1, size=2)
    y0, x0 = row * CELL + dy, col * CELL + dx
    # Clip the item to the canvas; overlapping pixels keep the brighter one.
    ys, xs = max(0, -y0), max(0, -x0)
    ye, xe = min(CELL, canvas.shape[0] - y0), min(CELL, canvas.shape[1] - x0)
    region = canvas[y0 + ys:y0 + ye, x0 + xs:x0 + xe]
    np.maximum(region, item[ys:ye, xs:xe], out=region)


def make(images, labels, n, jitter, rng):
    out = np.zeros((n, 1, 2 * CELL, 2 * CELL), dtype=np.uint8)
    target = rng.integers(0, len(images), size=n)
    y = labels[target].astype(np.uint8)
    for i in range(n):
        # A distractor of another class.
        while True:
            d = rng.integers(0, len(images))
            if labels[d] != y[i]:
                break
        place(out[i, 0], images[target[i]], 0, rng.integers(0, 2), jitter, rng)
        place(out[i, 0], images[d], 1, rng.integers(0, 2), jitter, rng)
    return out, y


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--fashion", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--train", type=int, default=20000)
    ap.add_argument("--test", type=int, default=5000)
    ap.add_argument("--jitter", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.train < 1 or a.test < 1 or not 0 <= a.jitter < CELL // 2:
        ap.error("--train and --test must be positive, --jitter in [0, 13]")
    rng = np.random.default_rng(a.seed)
    for split, prefix, n in (("train", "train", a.train), ("test", "t10k", a.test)):
        items = read_idx(os.path.join(a.fashion, prefix + "-images-idx3-ubyte.gz"))
        item_labels = read_idx(os.path.join(a.fashion, prefix + "-labels-idx1-ubyte.gz"))
        x, y = make(items, item_labels, n, a.jitter, rng)
        os.makedirs(os.path.join(a.out, split), exist_ok=True)
        np.save(os.path.join(a.out, split, "images.npy"), x)
        np.save(os.path.join(a.out, split, "labels.npy"), y)


if __name__ == "__main__":
    main()
