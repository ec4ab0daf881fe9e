#!/usr/bin/python3
"""Numeric check of the pce.patchify / pce.unpatchify / pce.embed lowerings.

Each case embeds its input (exact bits, as hex) and a float64 NumPy reference
of docs/SEMANTICS.md §1, §2, §4 as constants in one MLIR function, which
computes max|out - ref| itself; the function is lowered with
-pce-lower-to-linalg and the CPU sequence of docs/TOOLCHAIN.md and run with
mlir-runner, with runtime bounds checks on every memref access. A case
passes when max|out - ref| / max(1, max|ref|) is below 1e-6 for f32 (the
lowering's own rounding only) and 1e-12 for f64.

Usage: check_patching_embed.py [path/to/pce-opt]   (default build/bin/pce-opt)
"""

import math
import os
import subprocess
import sys
import tempfile

import numpy as np

LLVM_BIN = "/usr/lib/llvm-22/bin"
LLVM_LIB = "/usr/lib/llvm-22/lib"
PIPELINE = [
    "--pce-lower-to-linalg",
    "--one-shot-bufferize=bufferize-function-boundaries",
    "--convert-linalg-to-loops",
    # Every load and store asserts its indices are in bounds ("never read out
    # of bounds" is checked, not assumed).
    "--generate-runtime-verification",
    "--convert-scf-to-cf",
    "--expand-strided-metadata", "--lower-affine",
    "--finalize-memref-to-llvm", "--convert-math-to-llvm",
    "--convert-to-llvm", "--reconcile-unrealized-casts",
]
MLIR_TYPE = {np.float32: "f32", np.float64: "f64"}


# ---- float64 reference (SEMANTICS.md) --------------------------------------

def lin(n, i):
    return 0.0 if n == 1 else 2.0 * i / (n - 1) - 1.0


def patchify_ref(x, ph, pw, r, isolated):
    b, c, h, w = x.shape
    nph, npw = h // ph, w // pw
    out = np.zeros((b, nph * npw, c + 4, ph + 2 * r, pw + 2 * r))
    for a in range(nph):
        for bc in range(npw):
            p = a * npw + bc
            for i in range(-r, ph + r):
                for j in range(-r, pw + r):
                    row, col = a * ph + i, bc * pw + j
                    inside = (0 <= i < ph and 0 <= j < pw) if isolated else \
                        (0 <= row < h and 0 <= col < w)
                    if inside:
                        out[:, p, :c, i + r, j + r] = x[:, :, row, col]
                    out[:, p, c + 0, i + r, j + r] = lin(ph, i)
                    out[:, p, c + 1, i + r, j + r] = lin(pw, j)
                    out[:, p, c + 2, i + r, j + r] = lin(nph, a)
                    out[:, p, c + 3, i + r, j + r] = lin(npw, bc)
    return out


def unpatchify_ref(y, nph, npw):
    b, p, co, ph, pw = y.shape
    out = np.zeros((b, co, nph * ph, npw * pw))
    for a in range(nph):
        for bc in range(npw):
            out[:, :, a * ph:(a + 1) * ph, bc * pw:(bc + 1) * pw] = y[:, a * npw + bc]
    return out


def embed_ref(patches, weight, bias, r, levels):
    b, p, cin, hp, wp = patches.shape
    ph, pw = hp - 2 * r, wp - 2 * r
    core = patches[:, :, :, r:r + ph, r:r + pw]
    z = np.einsum("dc,bpcij->bpdij", weight, core) + bias[None, None, :, None, None]
    feats = []
    for l in levels:
        pooled = np.empty((b, p, weight.shape[0], l, l))
        for u in range(l):
            r0, r1 = (u * ph) // l, -(-((u + 1) * ph) // l)
            for v in range(l):
                c0, c1 = (v * pw) // l, -(-((v + 1) * pw) // l)
                pooled[..., u, v] = z[..., r0:r1, c0:c1].max(axis=(-2, -1))
        feats.append(pooled.reshape(b, p, -1))
    return np.concatenate(feats, axis=-1)


# ---- MLIR generation ---------------------------------------------------------

def ttype(shape, dtype):
    return "tensor<%s%s>" % ("".join("%dx" % d for d in shape), MLIR_TYPE[dtype])


def const(name, array, dtype):
    data = np.ascontiguousarray(array, dtype=dtype)
    return '  %%%s = arith.constant dense<"0x%s"> : %s\n' % (
        name, data.tobytes().hex().upper(), ttype(array.shape, dtype))


def max_abs_diff(out, ref, shape, dtype):
    """IR that prints max|out - ref| (ref is f64) with printF64."""
    rank = len(shape)
    dims = ", ".join("d%d" % i for i in range(rank))
    # f32 outputs are widened exactly; f64 outputs are compared as they are.
    ext = "%o = arith.extf %a : f32 to f64" if dtype == np.float32 else \
        "%o = arith.addf %a, %zero : f64"
    return f"""  %zero = arith.constant 0.0 : f64
  %init0 = tensor.empty() : tensor<f64>
  %init = linalg.fill ins(%zero : f64) outs(%init0 : tensor<f64>) -> tensor<f64>
  %err = linalg.generic {{indexing_maps = [affine_map<({dims}) -> ({dims})>,
      affine_map<({dims}) -> ({dims})>, affine_map<({dims}) -> ()>],
      iterator_types = [{", ".join(['"reduction"'] * rank)}]}}
      ins(%{out}, %{ref} : {ttype(shape, dtype)}, {ttype(shape, np.float64)})
      outs(%init : tensor<f64>) {{
  ^bb0(%a: {MLIR_TYPE[dtype]}, %r: f64, %acc: f64):
    {ext}
    %d = arith.subf %o, %r : f64
    %m = math.absf %d : f64
    %n = arith.maximumf %acc, %m : f64
    linalg.yield %n : f64
  }} -> tensor<f64>
  %e = tensor.extract %err[] : tensor<f64>
  func.call @printF64(%e) : (f64) -> ()
  func.call @printNewline() : () -> ()
"""


def wavy(shape, seed):
    """A non-trivial, sign-changing input: sin of a scrambled linear index."""
    n = int(np.prod(shape))
    idx = np.arange(n, dtype=np.float64)
    return (np.sin(0.731 * idx + seed) * 1.7 + 0.3 * np.cos(0.173 * idx * idx)).reshape(shape)


class Suite:
    def __init__(self):
        self.funcs, self.cases = [], []

    def add(self, name, dtype, inputs, op_ir, out_shape, ref):
        body = "".join(const(k, v, dtype) for k, v in inputs.items())
        body += const("ref", ref, np.float64)
        body += "  %out = " + op_ir + "\n"
        body += max_abs_diff("out", "ref", out_shape, dtype)
        fn = "case%d" % len(self.cases)
        self.funcs.append("func.func @%s() {\n%s  return\n}\n" % (fn, body))
        self.cases.append((name, dtype, float(np.abs(ref).max())))

    def patchify(self, shape, ph, pw, r, isolated, dtype, seed):
        x = wavy(shape, seed).astype(dtype)
        ref = patchify_ref(x.astype(np.float64), ph, pw, r, isolated)
        halo = " halo isolated" if isolated else ""
        self.add("patchify %s patch [%d,%d] r=%d%s %s" % (shape, ph, pw, r, halo, MLIR_TYPE[dtype]),
                 dtype, {"x": x},
                 "pce.patchify %%x patch [%d, %d] radius %d%s : %s"
                 % (ph, pw, r, halo, ttype(shape, dtype)), ref.shape, ref)

    def unpatchify(self, shape, nph, npw, dtype, seed):
        y = wavy(shape, seed).astype(dtype)
        ref = unpatchify_ref(y.astype(np.float64), nph, npw)
        self.add("unpatchify %s grid [%d,%d] %s" % (shape, nph, npw, MLIR_TYPE[dtype]),
                 dtype, {"y": y},
                 "pce.unpatchify %%y grid [%d, %d] : %s" % (nph, npw, ttype(shape, dtype)),
                 ref.shape, ref)

    def embed(self, shape, de, r, levels, dtype, seed):
        p = wavy(shape, seed).astype(dtype)
        w = (wavy((de, shape[2]), seed + 1) * 0.5).astype(dtype)
        b = (wavy((de,), seed + 2) - 1.0).astype(dtype)  # pushes z negative
        ref = embed_ref(p.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                        r, levels or [1, 2, 4])
        lv = "" if levels is None else " levels [%s]" % ", ".join(map(str, levels))
        self.add("embed %s De=%d r=%d levels %s %s" % (shape, de, r, levels or [1, 2, 4], MLIR_TYPE[dtype]),
                 dtype, {"p": p, "w": w, "b": b},
                 "pce.embed %%p, %%w, %%b radius %d%s : %s, %s, %s"
                 % (r, lv, ttype(shape, dtype), ttype(w.shape, dtype), ttype(b.shape, dtype)),
                 ref.shape, ref)

    def module(self):
        calls = "".join("  func.call @case%d() : () -> ()\n" % i for i in range(len(self.cases)))
        return ("func.func private @printF64(f64)\nfunc.func private @printNewline()\n"
                + "".join(self.funcs) + "func.func @main() {\n" + calls + "  return\n}\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    pce_opt = sys.argv[1] if len(sys.argv) > 1 else \
        os.path.join(here, "..", "..", "..", "build", "bin", "pce-opt")
    s = Suite()
    f32, f64 = np.float32, np.float64
    s.patchify((2, 3, 8, 12), 4, 3, 1, False, f32, 0.1)   # ph != pw, context
    s.patchify((2, 3, 8, 12), 4, 3, 1, True, f32, 0.2)    # isolated
    s.patchify((1, 2, 8, 12), 4, 6, 2, False, f64, 0.3)   # r = 2, f64
    s.patchify((1, 2, 8, 12), 4, 6, 2, True, f64, 0.4)
    s.patchify((2, 1, 5, 5), 5, 5, 1, False, f32, 0.5)    # a single patch
    s.patchify((1, 2, 6, 4), 2, 2, 0, False, f32, 0.6)    # no halo
    s.patchify((1, 1, 3, 8), 1, 4, 1, False, f32, 0.7)    # ph = 1: lin(1, .) = 0
    s.unpatchify((2, 6, 3, 4, 2), 2, 3, f32, 0.8)
    s.unpatchify((1, 4, 2, 3, 5), 4, 1, f64, 0.9)
    s.embed((2, 3, 5, 9, 9), 5, 1, None, f32, 1.0)        # ph = 7, levels [1, 2, 4]
    s.embed((1, 2, 3, 5, 7), 4, 0, [1, 3], f64, 1.1)      # ph != pw, custom levels
    s.embed((1, 2, 2, 7, 5), 3, 2, [1, 2, 4], f32, 1.2)   # ph = 3 < 4 bins, pw = 1
    s.embed((1, 1, 6, 18, 18), 6, 2, None, f32, 1.3)      # ph = 14
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "check.mlir")
        with open(src, "w") as f:
            f.write(s.module())
        llvm = subprocess.run([pce_opt, src] + PIPELINE, capture_output=True, text=True)
        if llvm.returncode:
            sys.exit("lowering failed:\n" + llvm.stderr)
        run = subprocess.run(
            [os.path.join(LLVM_BIN, "mlir-runner"), "-e", "main", "-entry-point-result=void",
             "-shared-libs=%s/libmlir_runner_utils.so,%s/libmlir_c_runner_utils.so"
             % (LLVM_LIB, LLVM_LIB)],
            input=llvm.stdout, capture_output=True, text=True)
        if run.returncode:
            sys.exit("mlir-runner failed:\n" + run.stderr)
    errors = [float(t) for t in run.stdout.split()]
    assert len(errors) == len(s.cases), run.stdout
    ok = True
    for (name, dtype, ref_max), err in zip(s.cases, errors):
        rel = err / max(1.0, ref_max)
        tol = 1e-6 if dtype == np.float32 else 1e-12
        good = math.isfinite(rel) and rel <= tol
        ok &= good
        print("%-4s %-60s max|err| %.3g  rel %.3g" % ("ok" if good else "FAIL", name, err, rel))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
