//===- PatchFusion.h - experts that read the feature map --------*- C++ -*-===//
//
// What pce-fuse-patches and pce-sparse-dispatch share to let the experts'
// convolution read the zero-padded feature map instead of the patches of a
// context-halo `pce.patchify` (the derivation is in FusePatches.cpp):
//
//   conv(patch(a, b), K_e) = conv(padded image around (a, b), K_e[:, 0:C])
//                          + coordinates[a*npw + b, e]     (input-independent)
//
//===----------------------------------------------------------------------===//
#ifndef PCE_PASSES_TRANSFORMS_PATCHFUSION_H
#define PCE_PASSES_TRANSFORMS_PATCHFUSION_H

#include "dialect/PCEOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::pce::patchfusion {

/// The patchify whose image `experts` can read instead of its patches, or
/// null: a context halo, static shapes, at least one image channel, and a
/// square kernel of 2r+1 (so each result covers its patch's core exactly).
PatchifyOp imagePatchify(ExpertsOp experts);

/// Static index attributes, for slices.
SmallVector<OpFoldResult> indexAttrs(OpBuilder &b, ArrayRef<int64_t> values);

/// `x [B, C, H, W]` zero-padded by `r` on each side of H and W.
Value padImage(OpBuilder &b, Location loc, Value x, int64_t r);

/// Channels [first, first+count) of `kernels [E,Co,Cin,k,k]`,
/// `[E, Co, count, k, k]`: a strided view, which the convolution kernel reads
/// one scalar at a time anyway.
Value kernelChannels(OpBuilder &b, Location loc, Value kernels, int64_t first,
                     int64_t count);

/// The coordinate channels' contribution to every expert's convolution,
/// `[P, E*Co, ph, pw]`: the coordinate planes of every patch convolved with
/// the kernels' last four channels, computed as the sum of a per-row, a
/// per-column and a per-patch term (each plane varies along one index only)
/// from small constant tables of `lin` values: a few generics, no
/// convolution kernels to generate.
Value coordinateTerm(OpBuilder &b, Location loc, PatchifyOp patchify,
                     Value kernels);

/// Once no experts read `patchify`, what else reads it (the embedding, which
/// reads the patch cores, and routers that only read B and P) reads a
/// patchify without a halo instead, `[B, P, C+4, ph, pw]`, and `patchify` is
/// erased. Other users keep it as it is; so does a radius of 0.
void shrinkToCores(RewriterBase &rewriter, PatchifyOp patchify);

} // namespace mlir::pce::patchfusion

#endif // PCE_PASSES_TRANSFORMS_PATCHFUSION_H
