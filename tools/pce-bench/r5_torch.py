#!/usr/bin/env python3
"""R5's PyTorch side (docs/BENCHMARKS.md): the PCE layer of pce-bench written in
PyTorch, timed eager and under torch.compile, and the dense convolution of the
same FLOPs, on a GPU.

    python3 tools/pce-bench/r5_torch.py                  # cuda when visible
    python3 tools/pce-bench/r5_torch.py --compiled-ms 1.9 # + the R5 ratios
    python3 tools/pce-bench/r5_torch.py --device cpu --batch 4 --check  # smoke run

The layer is docs/SEMANTICS.md with inference semantics, pce-bench's shape by
default (B=64, C=32, 32x32, 8x8 patches, E=4, Co=32, k=3, float32, cosine
router, top-1): context-halo patches with the 4 coordinate channels, 1x1
embedding + SPP (1, 2, 4) max pooling, cosine router with softmax(s / tau) and
top-k (ties: lower index, not renormalised), every expert's Conv-BN-ReLU over
every patch (what an eager implementation does), the weighted sum and the
patches put back. `--compiled-ms` is the compiled layer's time on the same
device and shape (pce-bench's R5 line once the GPU path runs); without it the
script prints the baselines only.

`--check` compares the float32 eager layer with the same code in float64, and
torch.compile's output with eager's, and exits 1 when either differs by more
than SEMANTICS.md §6's 1e-4 (relative to max(1, max|ref|)).
"""

import argparse
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # ctest treats 77 as "skipped" (tools/pce-bench/CMakeLists.txt)
    print("r5_torch: this Python has no PyTorch (Debian: python3-torch)", file=sys.stderr)
    sys.exit(77)


def lin(n, i):
    """lin(n, i) = 2i/(n-1) - 1, 0 when n == 1 (SEMANTICS.md §1)."""
    return 2.0 * i / (n - 1) - 1.0 if n > 1 else 0.0


class PceLayer(torch.nn.Module):
    def __init__(self, c, h, w, ph, pw, experts, co, k, top_k, tau, seed):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.c, self.h, self.w, self.ph, self.pw = c, h, w, ph, pw
        self.e, self.co, self.k, self.r = experts, co, k, k // 2
        self.top_k, self.tau = top_k, tau
        self.nph, self.npw = h // ph, w // pw
        cin, de = c + 4, c + 4
        self.levels = (1, 2, 4)
        d = de * sum(l * l for l in self.levels)
        hp, wp = ph + 2 * self.r, pw + 2 * self.r

        def randn(*shape, scale=1.0):
            return torch.nn.Parameter(torch.randn(*shape, generator=g) * scale,
                                      requires_grad=False)

        self.we = randn(de, cin, scale=cin ** -0.5)
        self.be = randn(de, scale=0.1)
        self.keys = randn(experts, d)
        self.kernels = randn(experts * co, cin, k, k, scale=(cin * k * k) ** -0.5)
        gamma = 1 + 0.3 * torch.randn(experts * co, generator=g)
        beta = 0.2 * torch.randn(experts * co, generator=g)
        mean = 0.2 * torch.randn(experts * co, generator=g)
        var = 0.5 + torch.rand(experts * co, generator=g)
        scale = gamma / torch.sqrt(var + 1e-5)
        self.register_buffer("scale", scale)
        self.register_buffer("shift", beta - mean * scale)
        # The coordinate planes of every patch, [P, 4, hp, wp].
        coords = torch.zeros(self.nph * self.npw, 4, hp, wp)
        for a in range(self.nph):
            for b in range(self.npw):
                p = a * self.npw + b
                for i in range(hp):
                    coords[p, 0, i, :] = lin(ph, i - self.r)
                for j in range(wp):
                    coords[p, 1, :, j] = lin(pw, j - self.r)
                coords[p, 2] = lin(self.nph, a)
                coords[p, 3] = lin(self.npw, b)
        self.register_buffer("coords", coords)

    def forward(self, x):
        bsz, r, ph, pw = x.shape[0], self.r, self.ph, self.pw
        hp, wp, n = ph + 2 * r, pw + 2 * r, x.shape[0] * self.nph * self.npw
        # patchify: [B, C, nph, npw, hp, wp] windows of the zero-padded image
        win = F.pad(x, (r, r, r, r)).unfold(2, hp, ph).unfold(3, wp, pw)
        win = win.permute(0, 2, 3, 1, 4, 5).reshape(n, self.c, hp, wp)
        coords = self.coords.to(x.dtype).repeat(bsz, 1, 1, 1)
        patches = torch.cat([win, coords], dim=1)  # [N, C+4, hp, wp]
        # embed: 1x1 conv of the core, SPP max pooling
        core = patches[:, :, r:r + ph, r:r + pw]
        z = F.conv2d(core, self.we[:, :, None, None], self.be)
        emb = torch.cat([F.adaptive_max_pool2d(z, l).flatten(1) for l in self.levels], 1)
        # cosine router, top-k
        dots = emb @ self.keys.t()
        norms = emb.norm(dim=1, keepdim=True) * self.keys.norm(dim=1)[None, :]
        wts = torch.softmax(dots / torch.clamp(norms, min=1e-12) / self.tau, dim=1)
        if 0 < self.top_k < self.e:
            # Stable order: the larger weight first, the lower index on ties.
            order = torch.sort(-wts, dim=1, stable=True).indices
            keep = torch.zeros_like(wts).scatter(1, order[:, :self.top_k], 1.0)
            wts = wts * keep
        # experts: every expert on every patch, BN (running statistics), ReLU
        y = F.conv2d(patches, self.kernels)  # [N, E*Co, ph, pw]
        y = torch.relu(y * self.scale[None, :, None, None] + self.shift[None, :, None, None])
        y = y.view(n, self.e, self.co, ph, pw)
        out = (wts[:, :, None, None, None] * y).sum(1)  # [N, Co, ph, pw]
        # unpatchify
        out = out.view(bsz, self.nph, self.npw, self.co, ph, pw)
        return out.permute(0, 3, 1, 4, 2, 5).reshape(bsz, self.co, self.h, self.w)


def time_ms(fn, device, warmup, repeats):
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def relative_error(out, ref):
    out, ref = out.double(), ref.double()
    return ((out - ref).abs().max() / max(1.0, ref.abs().max().item())).item()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--image", type=int, default=32)
    ap.add_argument("--patch", type=int, default=8)
    ap.add_argument("--experts", type=int, default=4)
    ap.add_argument("--out-channels", type=int, default=32)
    ap.add_argument("--kernel", type=int, default=3)
    ap.add_argument("--top-k", type=int, default=1)
    ap.add_argument("--tau", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--compiled-ms", type=float, default=None,
                    help="the compiled PCE layer's time on this device and shape")
    ap.add_argument("--check", action="store_true",
                    help="verify float32 against float64 and torch.compile against eager")
    args = ap.parse_args()
    if args.image % args.patch or args.kernel % 2 == 0:
        ap.error("--image must be a multiple of --patch and --kernel odd")

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda, but no CUDA device is visible to this PyTorch")
    torch.backends.cudnn.benchmark = True
    layer = PceLayer(args.channels, args.image, args.image, args.patch, args.patch,
                     args.experts, args.out_channels, args.kernel, args.top_k,
                     args.tau, args.seed).to(device).eval()
    gen = torch.Generator().manual_seed(args.seed + 1)
    x = torch.randn(args.batch, args.channels, args.image, args.image, generator=gen).to(device)
    dense_filters = torch.randn(args.experts * args.out_channels, args.channels,
                                args.kernel, args.kernel, generator=gen).to(device)
    what = (f"B={args.batch} C={args.channels} {args.image}x{args.image} "
            f"{args.patch}x{args.patch} patches E={args.experts} Co={args.out_channels} "
            f"k={args.kernel} top_k={args.top_k} float32")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"r5_torch: torch {torch.__version__} on {device} ({name}); {what}")

    failed = False
    with torch.no_grad():
        eager = layer(x)
        if args.check:
            ref = layer.double()(x.double())
            layer.float()
            err = relative_error(eager, ref)
            print(f"check  eager float32 vs float64: relative error {err:.2e}")
            failed |= err > 1e-4

        if args.check:
            # SEMANTICS.md §1 (b): identical experts with zero coordinate
            # weights and a dense router give one Conv-BN-ReLU with padding r
            # over the image (checks patches, halo, mixing and unpatchify).
            same = PceLayer(args.channels, args.image, args.image, args.patch,
                            args.patch, args.experts, args.out_channels, args.kernel,
                            0, args.tau, args.seed + 2).to(device).eval()
            co, cin = args.out_channels, args.channels
            k0 = same.kernels[:co].clone()
            k0[:, cin:] = 0
            same.kernels.copy_(k0.repeat(args.experts, 1, 1, 1))
            same.scale.copy_(same.scale[:co].repeat(args.experts))
            same.shift.copy_(same.shift[:co].repeat(args.experts))
            want = torch.relu(F.conv2d(x, k0[:, :cin], padding=args.kernel // 2)
                              * same.scale[None, :co, None, None]
                              + same.shift[None, :co, None, None])
            err = relative_error(same(x), want)
            print(f"check  identical experts, zero coordinate weights vs one "
                  f"Conv-BN-ReLU: relative error {err:.2e}")
            failed |= err > 1e-4

        compiled = None
        if hasattr(torch, "compile"):
            compiled = torch.compile(layer)
            out = compiled(x)
            if args.check:
                err = relative_error(out, eager)
                print(f"check  torch.compile vs eager: relative error {err:.2e}")
                failed |= err > 1e-4
        else:
            print(f"torch.compile: not in torch {torch.__version__} (PyTorch 2 has it)")

        eager_ms = time_ms(lambda: layer(x), device, args.warmup, args.repeats)
        pad = args.kernel // 2
        dense_ms = time_ms(lambda: F.conv2d(x, dense_filters, padding=pad), device,
                           args.warmup, args.repeats)
        compile_ms = (time_ms(lambda: compiled(x), device, args.warmup, args.repeats)
                      if compiled is not None else None)

    flops = (2.0 * args.batch * args.experts * args.out_channels * args.channels
             * args.kernel ** 2 * args.image ** 2)
    print(f"eager PCE layer          {eager_ms:9.3f} ms")
    if compile_ms is not None:
        print(f"torch.compile PCE layer  {compile_ms:9.3f} ms")
    print(f"dense conv, equal FLOPs  {dense_ms:9.3f} ms  ({args.channels} -> "
          f"{args.experts * args.out_channels} channels, {flops / dense_ms / 1e6:.1f} GFLOP/s)")
    if args.compiled_ms is not None:
        line = f"R5  compiled {args.compiled_ms:.3f} ms / eager {eager_ms:.3f} ms = " \
               f"{args.compiled_ms / eager_ms:.2f}"
        if compile_ms is not None:
            ratio = args.compiled_ms / compile_ms
            line += (f"; / torch.compile {compile_ms:.3f} ms = {ratio:.2f} "
                     f"(target < 1: {'met' if ratio < 1 else 'missed'})")
        print(line)
        print(f"    compiled / dense conv at equal FLOPs = {args.compiled_ms / dense_ms:.2f}")
    if failed:
        print("r5_torch: check failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
