//===- LoweringUtils.h - builders shared by the pce lowerings ---*- C++ -*-===//
//
// Small builders of linalg ops on tensors that several op families' lowerings
// use (LowerRoute.cpp, LowerExperts.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef PCE_PASSES_LOWERINGUTILS_H
#define PCE_PASSES_LOWERINGUTILS_H

#include "mlir/IR/AffineMap.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

namespace mlir::pce::lowering {

/// Builds a generic op's body: gets the inputs' elements then the current
/// output element, returns the value to yield.
using BodyFn = function_ref<Value(OpBuilder &, Location, ValueRange)>;

/// A scalar constant of float type `element`.
Value floatConstant(OpBuilder &b, Location loc, Type element, double value);

/// A tensor of `shape` holding `value` everywhere (linalg.fill of
/// tensor.empty).
Value filledTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                   Type element, double value);

/// The indexing map reading loops `loops`, in order, of a `numLoops`-deep nest.
AffineMap loopsMap(MLIRContext *ctx, unsigned numLoops,
                   ArrayRef<unsigned> loops);

/// Loops 0 .. n-1.
SmallVector<unsigned> firstLoops(unsigned n);

/// A single-result linalg.generic writing into `init`: `maps` holds one map
/// per input then the init's; loops listed in `reduced` are reductions.
Value buildGeneric(OpBuilder &b, Location loc, ValueRange inputs, Value init,
                   ArrayRef<AffineMap> maps, ArrayRef<unsigned> reduced,
                   BodyFn body);

/// An elementwise linalg.generic: every input has the result's shape.
Value buildElementwise(OpBuilder &b, Location loc, ValueRange inputs,
                       RankedTensorType type, BodyFn body);

/// `y[..., o] = bias[o] + sum_k x[..., k] * w[o, k]` (no bias when null): a
/// dense layer over the last dimension (MLP router, squeeze-excitation) or
/// plain dot products (cosine router).
Value contractLastDim(OpBuilder &b, Location loc, Value x, Value w, Value bias);

/// True when `t` is a memref with a static shape and a unit innermost stride
/// (rows that vector loads and stores can read contiguously).
bool isStaticWithUnitInnerStride(Type t);

/// The per-(expert, channel) scale and shift of inference batch norm from
/// `bn = (gamma, beta, mean, var)`: `scale = gamma / sqrt(var + eps)`,
/// `shift = beta - mean * scale`.
std::pair<Value, Value> foldBatchNorm(OpBuilder &b, Location loc, ValueRange bn,
                                      double eps);

/// `max(x, 0)` on a scalar.
Value relu(OpBuilder &b, Location loc, Value x);

} // namespace mlir::pce::lowering

#endif // PCE_PASSES_LOWERINGUTILS_H
