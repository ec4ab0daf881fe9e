//===- OrdinaryLayers.cpp - upstream ops for a model's ordinary layers ----===//

#include "frontend/OrdinaryLayers.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>
#include <limits>

using namespace mlir;

namespace {

RankedTensorType tensorOf(Value v) { return cast<RankedTensorType>(v.getType()); }

Value constant(OpBuilder &b, Location loc, Type type, double value) {
  return arith::ConstantOp::create(b, loc, b.getFloatAttr(type, value));
}

/// A tensor of `shape` holding `value` everywhere.
Value filled(OpBuilder &b, Location loc, ArrayRef<int64_t> shape, Type elem,
             double value) {
  Value empty = tensor::EmptyOp::create(b, loc, shape, elem);
  return linalg::FillOp::create(b, loc, ValueRange{constant(b, loc, elem, value)},
                                ValueRange{empty})
      .getResult(0);
}

/// An accumulator of `shape`: the bias broadcast along every dimension but
/// `biasDim`, or zeros.
Value accumulator(OpBuilder &b, Location loc, ArrayRef<int64_t> shape, Type elem,
                  Value bias, int64_t biasDim) {
  if (!bias)
    return filled(b, loc, shape, elem, 0.0);
  Value empty = tensor::EmptyOp::create(b, loc, shape, elem);
  SmallVector<int64_t> dims;
  for (int64_t d = 0, e = shape.size(); d < e; ++d)
    if (d != biasDim)
      dims.push_back(d);
  return linalg::BroadcastOp::create(b, loc, bias, empty, dims).getResult()[0];
}

/// A linalg.generic over the loops of `resultType`, reading `inputs` through
/// `maps` (one per input) and writing with the identity map.
Value elementwise(OpBuilder &b, Location loc, ValueRange inputs,
                  ArrayRef<AffineMap> maps, RankedTensorType resultType,
                  function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  unsigned rank = resultType.getRank();
  SmallVector<AffineMap> allMaps(maps);
  allMaps.push_back(b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iterators(rank, utils::IteratorType::parallel);
  Value init = tensor::EmptyOp::create(b, loc, resultType.getShape(),
                                       resultType.getElementType());
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{resultType}, inputs, ValueRange{init}, allMaps, iterators,
      [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
        linalg::YieldOp::create(nested, nestedLoc,
                                body(nested, nestedLoc, args.drop_back()));
      });
  return generic.getResult(0);
}

} // namespace

namespace pce::frontend::layers {

Value conv2d(OpBuilder &b, Location loc, Value input,
                                    Value weight, Value bias, IntPair stride,
                                    IntPair padding) {
  RankedTensorType inType = tensorOf(input);
  Type elem = inType.getElementType();
  ArrayRef<int64_t> in = inType.getShape(), w = tensorOf(weight).getShape();
  // Zero padding: the input copied into the middle of a zero tensor.
  if (padding[0] > 0 || padding[1] > 0) {
    SmallVector<int64_t> padded = {in[0], in[1], in[2] + 2 * padding[0],
                                   in[3] + 2 * padding[1]};
    Value zeros = filled(b, loc, padded, elem, 0.0);
    SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), b.getIndexAttr(0),
                                         b.getIndexAttr(padding[0]),
                                         b.getIndexAttr(padding[1])};
    SmallVector<OpFoldResult> sizes, strides(4, b.getIndexAttr(1));
    for (int64_t s : in)
      sizes.push_back(b.getIndexAttr(s));
    input = tensor::InsertSliceOp::create(b, loc, input, zeros, offsets, sizes,
                                          strides);
  }
  SmallVector<int64_t> out = {in[0], w[0],
                              windowedSize(in[2], w[2], stride[0], padding[0]),
                              windowedSize(in[3], w[3], stride[1], padding[1])};
  Value init = accumulator(b, loc, out, elem, bias, 1);
  auto type = RankedTensorType::get(out, elem);
  return linalg::Conv2DNchwFchwOp::create(
             b, loc, TypeRange{type}, ValueRange{input, weight}, ValueRange{init},
             b.getI64TensorAttr({stride[0], stride[1]}), b.getI64TensorAttr({1, 1}))
      .getResult(0);
}

Value batchNorm(OpBuilder &b, Location loc, Value input,
                                       Value gamma, Value beta, Value mean,
                                       Value var, double eps) {
  RankedTensorType type = tensorOf(input);
  unsigned rank = type.getRank();
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  AffineMap channel = AffineMap::get(rank, 0, b.getAffineDimExpr(1));
  return elementwise(
      b, loc, {input, gamma, beta, mean, var},
      {identity, channel, channel, channel, channel}, type,
      [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
        Value epsilon = constant(nb, l, type.getElementType(), eps);
        Value stddev = math::SqrtOp::create(
            nb, l, arith::AddFOp::create(nb, l, a[4], epsilon));
        Value centred = arith::SubFOp::create(nb, l, a[0], a[3]);
        Value scaled = arith::MulFOp::create(
            nb, l, centred, arith::DivFOp::create(nb, l, a[1], stddev));
        return arith::AddFOp::create(nb, l, scaled, a[2]);
      });
}

Value relu(OpBuilder &b, Location loc, Value input) {
  RankedTensorType type = tensorOf(input);
  return elementwise(b, loc, {input}, {b.getMultiDimIdentityMap(type.getRank())},
                     type, [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                       Value zero = constant(nb, l, type.getElementType(), 0.0);
                       return arith::MaximumFOp::create(nb, l, a[0], zero);
                     });
}

Value pool2d(OpBuilder &b, Location loc, Value input,
                                    bool max, IntPair kernel, IntPair stride) {
  RankedTensorType inType = tensorOf(input);
  Type elem = inType.getElementType();
  ArrayRef<int64_t> in = inType.getShape();
  SmallVector<int64_t> out = {in[0], in[1],
                              windowedSize(in[2], kernel[0], stride[0], 0),
                              windowedSize(in[3], kernel[1], stride[1], 0)};
  auto type = RankedTensorType::get(out, elem);
  // The window operand only carries the kernel's shape.
  Value window = tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>(kernel), elem);
  Attribute strides = b.getI64TensorAttr({stride[0], stride[1]});
  Attribute dilations = b.getI64TensorAttr({1, 1});
  if (max) {
    Value init = filled(b, loc, out, elem, -std::numeric_limits<double>::infinity());
    return linalg::PoolingNchwMaxOp::create(b, loc, TypeRange{type},
                                            ValueRange{input, window},
                                            ValueRange{init}, strides, dilations)
        .getResult(0);
  }
  Value init = filled(b, loc, out, elem, 0.0);
  Value sum = linalg::PoolingNchwSumOp::create(b, loc, TypeRange{type},
                                               ValueRange{input, window},
                                               ValueRange{init}, strides, dilations)
                  .getResult(0);
  double scale = 1.0 / static_cast<double>(kernel[0] * kernel[1]);
  return elementwise(b, loc, {sum}, {b.getMultiDimIdentityMap(4)}, type,
                     [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                       return arith::MulFOp::create(nb, l, a[0],
                                                    constant(nb, l, elem, scale));
                     });
}

Value globalAvgPool(OpBuilder &b, Location loc,
                                           Value input) {
  RankedTensorType inType = tensorOf(input);
  Type elem = inType.getElementType();
  ArrayRef<int64_t> in = inType.getShape();
  SmallVector<int64_t> out = {in[0], in[1]};
  Value zeros = filled(b, loc, out, elem, 0.0);
  Value sum = linalg::ReduceOp::create(
                  b, loc, ValueRange{input}, ValueRange{zeros}, {2, 3},
                  [&](OpBuilder &nb, Location l, ValueRange a) {
                    linalg::YieldOp::create(
                        nb, l, ValueRange{arith::AddFOp::create(nb, l, a[0], a[1])});
                  })
                  .getResult(0);
  double scale = 1.0 / static_cast<double>(in[2] * in[3]);
  return elementwise(b, loc, {sum}, {b.getMultiDimIdentityMap(2)},
                     RankedTensorType::get(out, elem),
                     [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                       return arith::MulFOp::create(nb, l, a[0],
                                                    constant(nb, l, elem, scale));
                     });
}

Value flatten(OpBuilder &b, Location loc, Value input) {
  RankedTensorType inType = tensorOf(input);
  ArrayRef<int64_t> in = inType.getShape();
  auto type = RankedTensorType::get({in[0], in[1] * in[2] * in[3]},
                                    inType.getElementType());
  SmallVector<ReassociationIndices> groups = {{0}, {1, 2, 3}};
  return tensor::CollapseShapeOp::create(b, loc, type, input, groups);
}

Value linear(OpBuilder &b, Location loc, Value input,
                                    Value weight, Value bias) {
  RankedTensorType inType = tensorOf(input);
  SmallVector<int64_t> out = {inType.getShape()[0], tensorOf(weight).getShape()[1]};
  Value init = accumulator(b, loc, out, inType.getElementType(), bias, 1);
  return linalg::MatmulOp::create(b, loc, ValueRange{input, weight},
                                  ValueRange{init})
      .getResult(0);
}

Value add(OpBuilder &b, Location loc, Value x, Value y) {
  RankedTensorType type = tensorOf(x);
  AffineMap identity = b.getMultiDimIdentityMap(type.getRank());
  return elementwise(b, loc, {x, y}, {identity, identity}, type,
                     [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                       return arith::AddFOp::create(nb, l, a[0], a[1]);
                     });
}

Value concatChannels(OpBuilder &b, Location loc, Value x, Value y) {
  ArrayRef<int64_t> xs = tensorOf(x).getShape(), ys = tensorOf(y).getShape();
  SmallVector<int64_t> out = {xs[0], xs[1] + ys[1], xs[2], xs[3]};
  Value result = tensor::EmptyOp::create(b, loc, out, tensorOf(x).getElementType());
  int64_t channel = 0;
  for (Value part : {x, y}) {
    ArrayRef<int64_t> shape = tensorOf(part).getShape();
    SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), b.getIndexAttr(channel),
                                         b.getIndexAttr(0), b.getIndexAttr(0)};
    SmallVector<OpFoldResult> sizes, strides(4, b.getIndexAttr(1));
    for (int64_t d : shape)
      sizes.push_back(b.getIndexAttr(d));
    result = tensor::InsertSliceOp::create(b, loc, part, result, offsets, sizes, strides);
    channel += shape[1];
  }
  return result;
}

Value sigmoid(OpBuilder &b, Location loc, Value input) {
  RankedTensorType type = tensorOf(input);
  return elementwise(b, loc, {input}, {b.getMultiDimIdentityMap(type.getRank())},
                     type, [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                       Type elem = type.getElementType();
                       Value one = constant(nb, l, elem, 1.0);
                       Value e = math::ExpOp::create(nb, l, arith::NegFOp::create(nb, l, a[0]));
                       return arith::DivFOp::create(nb, l, one,
                                                    arith::AddFOp::create(nb, l, one, e));
                     });
}

std::vector<float> interpolationRow(int64_t in, int64_t out, int64_t i, bool bilinear) {
  std::vector<float> row(static_cast<size_t>(in), 0.0f);
  // PyTorch's arithmetic, in float: scale = in / out.
  float scale = static_cast<float>(in) / static_cast<float>(out);
  if (!bilinear) {
    int64_t src = in == out ? i : static_cast<int64_t>(std::floor(static_cast<float>(i) * scale));
    row[static_cast<size_t>(std::min(src, in - 1))] = 1.0f;
    return row;
  }
  float src = std::max(scale * (static_cast<float>(i) + 0.5f) - 0.5f, 0.0f);
  int64_t i0 = static_cast<int64_t>(src);
  int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
  float lambda1 = src - static_cast<float>(i0), lambda0 = 1.0f - lambda1;
  row[static_cast<size_t>(i0)] += lambda0;
  row[static_cast<size_t>(i1)] += lambda1;
  return row;
}

Value resize(OpBuilder &b, Location loc, Value input, bool bilinear, int64_t height,
             int64_t width) {
  RankedTensorType inType = tensorOf(input);
  Type elem = inType.getElementType();
  ArrayRef<int64_t> in = inType.getShape();
  auto matrix = [&](int64_t from, int64_t to) -> Value {
    std::vector<float> values;
    for (int64_t i = 0; i < to; ++i) {
      std::vector<float> row = interpolationRow(from, to, i, bilinear);
      values.insert(values.end(), row.begin(), row.end());
    }
    auto type = RankedTensorType::get({to, from}, elem);
    return arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(type, ArrayRef<float>(values)));
  };
  // One contraction per axis: t[b,c,i,w] = sum_h A[i,h] x[b,c,h,w], then
  // y[b,c,i,j] = sum_w t[b,c,i,w] A'[j,w]. An axis already of its size is
  // left alone (PyTorch copies it).
  auto contract = [&](Value x, Value a, int64_t axis, int64_t size) -> Value {
    ArrayRef<int64_t> xs = tensorOf(x).getShape();
    SmallVector<int64_t> out(xs.begin(), xs.end());
    out[axis] = size;
    // Loops (b, c, i, j, k): the output's four, then the reduced input index.
    MLIRContext *ctx = b.getContext();
    AffineExpr d0 = getAffineDimExpr(0, ctx), d1 = getAffineDimExpr(1, ctx),
               d2 = getAffineDimExpr(2, ctx), d3 = getAffineDimExpr(3, ctx),
               k = getAffineDimExpr(4, ctx);
    AffineExpr reduced = axis == 2 ? d2 : d3;
    AffineMap xMap = axis == 2 ? AffineMap::get(5, 0, {d0, d1, k, d3}, ctx)
                               : AffineMap::get(5, 0, {d0, d1, d2, k}, ctx);
    AffineMap aMap = AffineMap::get(5, 0, {reduced, k}, ctx);
    AffineMap outMap = AffineMap::get(5, 0, {d0, d1, d2, d3}, ctx);
    SmallVector<utils::IteratorType> iterators(4, utils::IteratorType::parallel);
    iterators.push_back(utils::IteratorType::reduction);
    Value init = filled(b, loc, out, elem, 0.0);
    return linalg::GenericOp::create(
               b, loc, TypeRange{RankedTensorType::get(out, elem)}, ValueRange{x, a},
               ValueRange{init}, ArrayRef<AffineMap>{xMap, aMap, outMap}, iterators,
               [&](OpBuilder &nb, Location l, ValueRange args) {
                 Value p = arith::MulFOp::create(nb, l, args[1], args[0]);
                 linalg::YieldOp::create(nb, l,
                                         ValueRange{arith::AddFOp::create(nb, l, args[2], p)});
               })
        .getResult(0);
  };
  Value x = input;
  if (height != in[2])
    x = contract(x, matrix(in[2], height), 2, height);
  if (width != in[3])
    x = contract(x, matrix(in[3], width), 3, width);
  return x;
}

} // namespace pce::frontend::layers
