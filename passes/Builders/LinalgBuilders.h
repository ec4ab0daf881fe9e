//===- LinalgBuilders.h - generic builders of linalg ops --------*- C++ -*-===//
//
// Small builders of linalg, tensor and arith ops on tensors that know nothing
// of PCE: generics from a body, elementwise maps, reductions and
// contractions over the last dimension, convolutions, transposes, padding.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_PASSES_BUILDERS_LINALGBUILDERS_H
#define PCE_PASSES_BUILDERS_LINALGBUILDERS_H

#include "mlir/IR/AffineMap.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/DenseMap.h"

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

/// Reduces the last dimension of `x` with `combine`, starting from `initial`.
Value reduceLastDim(OpBuilder &b, Location loc, Value x, double initial,
                    BodyFn combine);

/// `fn(x[..., e], row[...])` at every element of `x`, for a `row` holding one
/// value per last-dim row of `x`.
Value combineWithRow(OpBuilder &b, Location loc, Value x, Value row, BodyFn fn);

/// Divides each last-dim row of `x` by its sum.
Value normalizeRows(OpBuilder &b, Location loc, Value x);

/// Softmax over the last dimension, stable: `exp(x - max) / sum exp(x - max)`.
Value softmaxLastDim(OpBuilder &b, Location loc, Value logits);

/// True when `t` is a memref with a static shape and a unit innermost stride
/// (rows that vector loads and stores can read contiguously).
bool isStaticWithUnitInnerStride(Type t);

/// True when `v` is a constant tensor of 1.0 everywhere: the scale that
/// pce-fold-batch-norm leaves once it has moved the scale into the kernels,
/// so the experts' epilogue skips the multiply.
bool isSplatOne(Value v);

/// The ranked tensor type of `v` (every value the builders handle has one).
inline RankedTensorType typeOf(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// `max(x, 0)` on a scalar.
Value relu(OpBuilder &b, Location loc, Value x);

/// linalg.conv_2d_nchw_fchw of `images [N,C,Hin,Win]` with `filters
/// [F,C,k,k]` into a zero-filled `[N, F, Hin-k+1, Win-k+1]`.
Value conv2d(OpBuilder &b, Location loc, Value images, Value filters);

/// `x` with its dimensions permuted: result dim i is `x`'s dim
/// `permutation[i]` (linalg.transpose).
Value transposeTensor(OpBuilder &b, Location loc, Value x,
                      ArrayRef<int64_t> permutation);

/// `[..., H, W]` zero-padded by `ph` rows and `pw` columns on each side.
Value padLastTwo(OpBuilder &b, Location loc, Value x, int64_t ph, int64_t pw);

/// Index constants of one linalg body, each built once at its first use (the
/// body is a single block, so the first use dominates the others).
class IndexConstants {
public:
  IndexConstants(OpBuilder &b, Location loc) : b(b), loc(loc) {}
  Value operator()(int64_t v);

private:
  OpBuilder &b;
  Location loc;
  llvm::DenseMap<int64_t, Value> cache;
};

} // namespace mlir::pce::lowering

#endif // PCE_PASSES_BUILDERS_LINALGBUILDERS_H
