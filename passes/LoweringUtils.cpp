//===- LoweringUtils.cpp - builders shared by the pce lowerings -----------===//

#include "passes/LoweringUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::pce::lowering {

Value floatConstant(OpBuilder &b, Location loc, Type element, double value) {
  return arith::ConstantOp::create(b, loc, element,
                                   b.getFloatAttr(element, value));
}

/// A tensor of `shape` holding `value` everywhere (linalg.fill of
/// tensor.empty).
Value filledTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                   Type element, double value) {
  Value empty = tensor::EmptyOp::create(b, loc, shape, element);
  Value scalar = floatConstant(b, loc, element, value);
  return linalg::FillOp::create(b, loc, ValueRange{scalar}, ValueRange{empty})
      .getResult(0);
}

/// The indexing map reading loops `loops`, in order, of a `numLoops`-deep nest.
AffineMap loopsMap(MLIRContext *ctx, unsigned numLoops,
                   ArrayRef<unsigned> loops) {
  return AffineMap::getMultiDimMapWithTargets(numLoops, loops, ctx);
}

/// Loops 0 .. n-1.
SmallVector<unsigned> firstLoops(unsigned n) {
  SmallVector<unsigned> loops(n);
  for (unsigned i = 0; i < n; ++i)
    loops[i] = i;
  return loops;
}

/// A single-result linalg.generic writing into `init`: `maps` holds one map
/// per input then the init's; loops listed in `reduced` are reductions.
/// `body` gets the input elements then the current output element and
/// returns the value to yield.
Value buildGeneric(OpBuilder &b, Location loc, ValueRange inputs, Value init,
                   ArrayRef<AffineMap> maps, ArrayRef<unsigned> reduced,
                   BodyFn body) {
  unsigned numLoops = maps.front().getNumDims();
  SmallVector<utils::IteratorType> iterators(numLoops,
                                             utils::IteratorType::parallel);
  for (unsigned loop : reduced)
    iterators[loop] = utils::IteratorType::reduction;
  auto op = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps,
      iterators, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        linalg::YieldOp::create(nb, nloc, body(nb, nloc, args));
      });
  return op.getResult(0);
}

/// An elementwise linalg.generic: every input has the result's shape.
Value buildElementwise(OpBuilder &b, Location loc, ValueRange inputs,
                       RankedTensorType type, BodyFn body) {
  MLIRContext *ctx = b.getContext();
  unsigned rank = type.getRank();
  SmallVector<AffineMap> maps(inputs.size() + 1,
                              AffineMap::getMultiDimIdentityMap(rank, ctx));
  Value init =
      tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
  return buildGeneric(b, loc, inputs, init, maps, {}, body);
}

/// `y[..., o] = bias[o] + sum_k x[..., k] * w[o, k]` (no bias when null): the
/// dense layers of the MLP router and the cosine router's dot products.
Value contractLastDim(OpBuilder &b, Location loc, Value x, Value w,
                      Value bias) {
  MLIRContext *ctx = b.getContext();
  auto xType = cast<RankedTensorType>(x.getType());
  Type element = xType.getElementType();
  unsigned lead = xType.getRank() - 1;
  int64_t outWidth = cast<RankedTensorType>(w.getType()).getShape()[0];
  SmallVector<int64_t> shape(xType.getShape().drop_back());
  shape.push_back(outWidth);

  Value init;
  if (bias) {
    Value empty = tensor::EmptyOp::create(b, loc, shape, element);
    // The bias is broadcast along the leading dims.
    auto leadDims = llvm::to_vector(llvm::seq<int64_t>(0, lead));
    init = linalg::BroadcastOp::create(b, loc, bias, empty, leadDims)
               .getResult()[0];
  } else {
    init = filledTensor(b, loc, shape, element, 0.0);
  }
  // Loops: the leading dims of x, then o, then the contracted k.
  unsigned numLoops = lead + 2, o = lead, k = lead + 1;
  SmallVector<unsigned> xLoops = firstLoops(lead), outLoops = firstLoops(lead);
  xLoops.push_back(k);
  outLoops.push_back(o);
  AffineMap maps[] = {loopsMap(ctx, numLoops, xLoops),
                      loopsMap(ctx, numLoops, {o, k}),
                      loopsMap(ctx, numLoops, outLoops)};
  return buildGeneric(b, loc, {x, w}, init, maps, {k},
                      [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
                        Value prod =
                            arith::MulFOp::create(nb, nloc, a[0], a[1]);
                        return arith::AddFOp::create(nb, nloc, a[2], prod);
                      });
}

Value relu(OpBuilder &b, Location loc, Value x) {
  Value zero = floatConstant(b, loc, x.getType(), 0.0);
  return arith::MaximumFOp::create(b, loc, x, zero);
}

bool isStaticWithUnitInnerStride(Type t) {
  auto type = dyn_cast<MemRefType>(t);
  if (!type || !type.hasStaticShape())
    return false;
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)))
    return false;
  return strides.empty() || strides.back() == 1;
}

/// The per-(expert, channel) scale and shift of inference batch norm:
/// `scale = gamma / sqrt(var + eps)`, `shift = beta - mean * scale`.
std::pair<Value, Value> foldBatchNorm(OpBuilder &b, Location loc, ValueRange bn,
                                      double eps) {
  auto type = cast<RankedTensorType>(bn[0].getType());
  Type element = type.getElementType();
  Value scale = buildElementwise(
      b, loc, {bn[0], bn[3]}, type,
      [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        Value epsilon = floatConstant(nb, nloc, element, eps);
        Value var = arith::AddFOp::create(nb, nloc, a[1], epsilon);
        Value std = math::SqrtOp::create(nb, nloc, var);
        return arith::DivFOp::create(nb, nloc, a[0], std);
      });
  Value shift = buildElementwise(
      b, loc, {bn[1], bn[2], scale}, type,
      [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        Value centre = arith::MulFOp::create(nb, nloc, a[1], a[2]);
        return arith::SubFOp::create(nb, nloc, a[0], centre);
      });
  return {scale, shift};
}

} // namespace mlir::pce::lowering
