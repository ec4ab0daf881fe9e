//===- RoutedConvolution.h - expert convolutions of routed patches only -*- C++ -*-===//
//
// The experts' convolution and its two adjoint convolutions restricted to
// the (patch, expert) pairs that a top-k router kept: loops over the patches
// and experts that convolve one patch with one expert's kernels only where
// the routing weight is non-zero. Training under a top-1 router over E
// experts then costs 1/E of the dense computation (docs/Training.md §5).
//
// Every loop carries its result tensor and updates one contiguous slice of
// it, so bufferization works in place and pce-vectorize-convolutions still
// vectorizes the per-pair convolutions.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_PASSES_BUILDERS_ROUTEDCONVOLUTION_H
#define PCE_PASSES_BUILDERS_ROUTEDCONVOLUTION_H

#include "mlir/IR/Builders.h"

namespace mlir::pce::lowering {

/// `conv[b,p,e] = conv2d(patches[b,p], kernels[e])` where `routed[b,p,e] !=
/// 0`, else 0: [B,P,E,Co,ph,pw] from patches [B,P,Cin,Hp,Wp], kernels
/// [E,Co,Cin,k,k] and routed [B,P,E].
Value routedExpertsConvolution(OpBuilder &b, Location loc, Value patches,
                               Value kernels, Value routed);

/// The gradients of `patches` and `kernels` of routedExpertsConvolution
/// from the gradient `gconv` [B,P,E,Co,ph,pw] of its result, which must be
/// zero where `routed` is (the pairs not computed contribute nothing).
std::pair<Value, Value>
routedConvolutionAdjoint(OpBuilder &b, Location loc, Value patches,
                         Value kernels, Value routed, Value gconv);

} // namespace mlir::pce::lowering

#endif // PCE_PASSES_BUILDERS_ROUTEDCONVOLUTION_H
