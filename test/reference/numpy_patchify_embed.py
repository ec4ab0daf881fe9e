"""Independent NumPy patchify + embed (SEMANTICS.md §1-§2), for pce_reference_test.

usage: numpy_patchify_embed.py DIR PH PW R HALO LEVELS
  reads DIR/x.npy [B,C,H,W], DIR/We.npy [De,C+4], DIR/be.npy [De] (float64);
  writes DIR/patches_np.npy [B,P,C+4,PH+2R,PW+2R] and DIR/emb_np.npy [B,P,D].
  HALO is 'context' or 'isolated'; LEVELS a comma-separated list such as 1,2,4.
Written from the spec with plain loops; shares nothing with the C++ reference.
"""
import os
import sys

import numpy as np


def lin(n, i):
    return 0.0 if n == 1 else 2.0 * i / (n - 1) - 1.0


def main():
    d, ph, pw, r, halo, levels = sys.argv[1], *map(int, sys.argv[2:5]), sys.argv[5], sys.argv[6]
    levels = [int(l) for l in levels.split(",")]
    x = np.load(os.path.join(d, "x.npy"))
    We = np.load(os.path.join(d, "We.npy"))
    be = np.load(os.path.join(d, "be.npy"))
    B, C, H, W = x.shape
    nph, npw = H // ph, W // pw
    P = nph * npw
    patches = np.zeros((B, P, C + 4, ph + 2 * r, pw + 2 * r))
    for a in range(nph):
        for b in range(npw):
            p = a * npw + b
            for i in range(-r, ph + r):
                for j in range(-r, pw + r):
                    row, col = a * ph + i, b * pw + j
                    inside = 0 <= row < H and 0 <= col < W
                    core = 0 <= i < ph and 0 <= j < pw
                    if inside and (halo == "context" or core):
                        patches[:, p, :C, i + r, j + r] = x[:, :, row, col]
                    patches[:, p, C + 0, i + r, j + r] = lin(ph, i)
                    patches[:, p, C + 1, i + r, j + r] = lin(pw, j)
                    patches[:, p, C + 2, i + r, j + r] = lin(nph, a)
                    patches[:, p, C + 3, i + r, j + r] = lin(npw, b)

    core = patches[:, :, :, r:r + ph, r:r + pw]
    De = We.shape[0]
    z = np.zeros((B, P, De, ph, pw))
    for dd in range(De):
        z[:, :, dd] = be[dd]
        for c in range(C + 4):
            z[:, :, dd] += We[dd, c] * core[:, :, c]
    feats = []
    for l in levels:
        pooled = np.zeros((B, P, De, l, l))
        for u in range(l):
            r0, r1 = (u * ph) // l, -((-(u + 1) * ph) // l)
            for v in range(l):
                c0, c1 = (v * pw) // l, -((-(v + 1) * pw) // l)
                pooled[:, :, :, u, v] = z[:, :, :, r0:r1, c0:c1].max(axis=(3, 4))
        feats.append(pooled.reshape(B, P, De * l * l))
    emb = np.concatenate(feats, axis=2)
    np.save(os.path.join(d, "patches_np.npy"), patches)
    np.save(os.path.join(d, "emb_np.npy"), emb)


if __name__ == "__main__":
    main()
