//===- LinalgBuilders.cpp - generic builders of linalg ops on tensors -----===//

#include "passes/Builders/LinalgBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"

#include <limits>

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

Value reduceLastDim(OpBuilder &b, Location loc, Value x, double initial,
                    BodyFn combine) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  Value init = filledTensor(b, loc, type.getShape().drop_back(),
                            type.getElementType(), initial);
  AffineMap maps[] = {AffineMap::getMultiDimIdentityMap(rank, ctx),
                      loopsMap(ctx, rank, firstLoops(rank - 1))};
  return buildGeneric(b, loc, {x}, init, maps, {rank - 1}, combine);
}

Value combineWithRow(OpBuilder &b, Location loc, Value x, Value row,
                     BodyFn fn) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  Value init = tensor::EmptyOp::create(b, loc, type.getShape(),
                                       type.getElementType());
  AffineMap identity = AffineMap::getMultiDimIdentityMap(rank, ctx);
  AffineMap maps[] = {identity, loopsMap(ctx, rank, firstLoops(rank - 1)),
                      identity};
  return buildGeneric(b, loc, {x, row}, init, maps, {}, fn);
}

Value normalizeRows(OpBuilder &b, Location loc, Value x) {
  Value sum = reduceLastDim(b, loc, x, 0.0,
                            [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
                              return arith::AddFOp::create(nb, nloc, a[1], a[0]);
                            });
  return combineWithRow(b, loc, x, sum,
                        [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
                          return arith::DivFOp::create(nb, nloc, a[0], a[1]);
                        });
}

Value softmaxLastDim(OpBuilder &b, Location loc, Value logits) {
  Value rowMax =
      reduceLastDim(b, loc, logits, -INFINITY,
                    [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
                      return arith::MaximumFOp::create(nb, nloc, a[1], a[0]);
                    });
  Value shifted = combineWithRow(
      b, loc, logits, rowMax, [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        Value diff = arith::SubFOp::create(nb, nloc, a[0], a[1]);
        return math::ExpOp::create(nb, nloc, diff);
      });
  return normalizeRows(b, loc, shifted);
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

Value conv2d(OpBuilder &b, Location loc, Value images, Value filters) {
  ArrayRef<int64_t> in = typeOf(images).getShape();
  ArrayRef<int64_t> f = typeOf(filters).getShape();
  Value init = filledTensor(b, loc, {in[0], f[0], in[2] - f[2] + 1, in[3] - f[3] + 1},
                            typeOf(images).getElementType(), 0.0);
  return linalg::Conv2DNchwFchwOp::create(b, loc, TypeRange{init.getType()},
                                          ValueRange{images, filters},
                                          ValueRange{init})
      .getResult(0);
}

bool isSplatOne(Value v) {
  DenseElementsAttr attr;
  if (!matchPattern(v, m_Constant(&attr)) || !attr.isSplat())
    return false;
  auto element = dyn_cast<FloatAttr>(attr.getSplatValue<Attribute>());
  return element && element.getValueAsDouble() == 1.0;
}

Value IndexConstants::operator()(int64_t v) {
  Value &c = cache[v];
  if (!c)
    c = arith::ConstantIndexOp::create(b, loc, v);
  return c;
}

Value transposeTensor(OpBuilder &b, Location loc, Value x,
                      ArrayRef<int64_t> permutation) {
  ArrayRef<int64_t> s = typeOf(x).getShape();
  SmallVector<int64_t> shape =
      llvm::map_to_vector(permutation, [&](int64_t d) { return s[d]; });
  Value init =
      tensor::EmptyOp::create(b, loc, shape, typeOf(x).getElementType());
  return linalg::TransposeOp::create(b, loc, x, init, permutation)
      .getResult()[0];
}

Value padLastTwo(OpBuilder &b, Location loc, Value x, int64_t ph, int64_t pw) {
  if (ph == 0 && pw == 0)
    return x;
  SmallVector<int64_t> shape(typeOf(x).getShape());
  size_t rank = shape.size();
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)), sizes,
      strides(rank, b.getIndexAttr(1));
  for (int64_t d : shape)
    sizes.push_back(b.getIndexAttr(d));
  offsets[rank - 2] = b.getIndexAttr(ph);
  offsets[rank - 1] = b.getIndexAttr(pw);
  shape[rank - 2] += 2 * ph;
  shape[rank - 1] += 2 * pw;
  Value padded =
      filledTensor(b, loc, shape, typeOf(x).getElementType(), 0.0);
  return tensor::InsertSliceOp::create(b, loc, x, padded, offsets, sizes,
                                       strides);
}

} // namespace mlir::pce::lowering
