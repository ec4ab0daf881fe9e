//===- RoutedConvolution.cpp - expert convolutions of routed patches only -===//
//
// With N = B*P patches (collapsed) and the routing mask as [N, E]:
//
//   forward    for n, e with routed[n, e]:
//                out[n, e] = conv2d(patches[n] : [1,Cin,Hp,Wp], K[e])
//   gpatches   for n, e with routed[n, e]:
//                gpatches[n] += conv2d(pad(gconv[n, e]), flip(K[e])^T)
//   gkernels   for n, e with routed[n, e]:
//                gK^T[e] += conv2d(patches[n]^T : [Cin,1,Hp,Wp],
//                                  gconv[n, e]^T : [Co,1,ph,pw])
//
// The adjoint convolutions are those of AdjointExperts.cpp's dense form, one
// (patch, expert) pair at a time.
//
//===----------------------------------------------------------------------===//

#include "passes/Builders/RoutedConvolution.h"

#include "passes/Builders/LinalgBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::pce;
using namespace mlir::pce::lowering;

namespace {

ArrayRef<int64_t> shapeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getShape();
}
Type elementOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getElementType();
}

/// Offsets, sizes and strides of the slice of a tensor of `shape` at `lead`
/// in its leading dimensions (size 1 there) and whole in the others.
struct LeadingSlice {
  SmallVector<OpFoldResult> offsets, sizes, strides;
  LeadingSlice(OpBuilder &b, ArrayRef<int64_t> shape, ArrayRef<Value> lead) {
    for (auto [i, d] : llvm::enumerate(shape)) {
      offsets.push_back(i < lead.size() ? OpFoldResult(lead[i])
                                        : OpFoldResult(b.getIndexAttr(0)));
      sizes.push_back(b.getIndexAttr(i < lead.size() ? 1 : d));
      strides.push_back(b.getIndexAttr(1));
    }
  }
};

/// The slice of `source` at `lead`, of type `shape` (rank-reducing where
/// `shape` has fewer dimensions than `source`).
Value slice(OpBuilder &b, Location loc, Value source, ArrayRef<Value> lead,
            ArrayRef<int64_t> shape) {
  LeadingSlice at(b, shapeOf(source), lead);
  auto type = RankedTensorType::get(shape, elementOf(source));
  return tensor::ExtractSliceOp::create(b, loc, type, source, at.offsets,
                                        at.sizes, at.strides);
}

/// Writes `value` back into `dest` where `slice` read it.
Value insert(OpBuilder &b, Location loc, Value value, Value dest,
             ArrayRef<Value> lead) {
  LeadingSlice at(b, shapeOf(dest), lead);
  return tensor::InsertSliceOp::create(b, loc, value, dest, at.offsets,
                                       at.sizes, at.strides);
}

/// `conv_2d_nchw_fchw(images, filters)` accumulated into `acc`.
Value convInto(OpBuilder &b, Location loc, Value images, Value filters,
               Value acc) {
  return linalg::Conv2DNchwFchwOp::create(b, loc, TypeRange{acc.getType()},
                                          ValueRange{images, filters},
                                          ValueRange{acc})
      .getResult(0);
}

using PairBody =
    function_ref<Value(OpBuilder &, Location, Value n, Value e, Value acc)>;

/// Loops over n < N and e < E carrying `init`; where `routed[n, e] != 0`,
/// `body` returns the updated value.
Value forEachRoutedPair(OpBuilder &b, Location loc, Value routed, Value init,
                        PairBody body) {
  ArrayRef<int64_t> r = shapeOf(routed); // [N, E]
  Value zero = floatConstant(b, loc, elementOf(routed), 0.0);
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value patches = arith::ConstantIndexOp::create(b, loc, r[0]);
  Value experts = arith::ConstantIndexOp::create(b, loc, r[1]);
  auto nLoop = scf::ForOp::create(
      b, loc, c0, patches, c1, ValueRange{init},
      [&](OpBuilder &nb, Location nl, Value n, ValueRange nArgs) {
        auto eLoop = scf::ForOp::create(
            nb, nl, c0, experts, c1, nArgs,
            [&](OpBuilder &eb, Location el, Value e, ValueRange eArgs) {
              Value w = tensor::ExtractOp::create(eb, el, routed, ValueRange{n, e});
              Value isRouted = arith::CmpFOp::create(
                  eb, el, arith::CmpFPredicate::UNE, w, zero);
              auto ifOp = scf::IfOp::create(
                  eb, el, isRouted,
                  [&](OpBuilder &tb, Location tl) {
                    scf::YieldOp::create(tb, tl, body(tb, tl, n, e, eArgs[0]));
                  },
                  [&](OpBuilder &fb, Location fl) {
                    scf::YieldOp::create(fb, fl, eArgs[0]);
                  });
              scf::YieldOp::create(eb, el, ifOp.getResult(0));
            });
        scf::YieldOp::create(nb, nl, eLoop.getResult(0));
      });
  return nLoop.getResult(0);
}

Value collapseLeadingTwo(OpBuilder &b, Location loc, Value x) {
  SmallVector<ReassociationIndices> groups = {{0, 1}};
  for (int64_t i = 2, e = shapeOf(x).size(); i < e; ++i)
    groups.push_back({i});
  return tensor::CollapseShapeOp::create(b, loc, x, groups);
}

Value expandLeading(OpBuilder &b, Location loc, Value x, Type type) {
  SmallVector<ReassociationIndices> groups = {{0, 1}};
  for (int64_t i = 2, e = cast<RankedTensorType>(type).getRank(); i < e; ++i)
    groups.push_back({i});
  return tensor::ExpandShapeOp::create(b, loc, type, x, groups);
}

} // namespace

Value mlir::pce::lowering::routedExpertsConvolution(OpBuilder &b, Location loc,
                                                    Value patches,
                                                    Value kernels,
                                                    Value routed) {
  ArrayRef<int64_t> p = shapeOf(patches), k = shapeOf(kernels);
  int64_t height = p[3] - k[3] + 1, width = p[4] - k[4] + 1;
  Value images = collapseLeadingTwo(b, loc, patches); // [N,Cin,Hp,Wp]
  Value mask = collapseLeadingTwo(b, loc, routed);    // [N,E]
  Type element = elementOf(patches);
  Value init = filledTensor(b, loc, {p[0] * p[1], k[0], k[1], height, width},
                            element, 0.0);
  Value out = forEachRoutedPair(
      b, loc, mask, init,
      [&](OpBuilder &tb, Location tl, Value n, Value e, Value acc) -> Value {
        Value image = slice(tb, tl, images, {n}, {1, p[2], p[3], p[4]});
        Value filter = slice(tb, tl, kernels, {e}, {k[1], k[2], k[3], k[4]});
        Value target = slice(tb, tl, acc, {n, e}, {1, k[1], height, width});
        Value conv = convInto(tb, tl, image, filter, target);
        return insert(tb, tl, conv, acc, {n, e});
      });
  auto type =
      RankedTensorType::get({p[0], p[1], k[0], k[1], height, width}, element);
  return expandLeading(b, loc, out, type);
}

std::pair<Value, Value> mlir::pce::lowering::routedConvolutionAdjoint(
    OpBuilder &b, Location loc, Value patches, Value kernels, Value routed,
    Value gconv) {
  MLIRContext *ctx = b.getContext();
  ArrayRef<int64_t> p = shapeOf(patches), k = shapeOf(kernels);
  int64_t experts = k[0], co = k[1], cin = k[2], kh = k[3], kw = k[4];
  int64_t height = p[3] - kh + 1, width = p[4] - kw + 1;
  Type element = elementOf(patches);
  Value images = collapseLeadingTwo(b, loc, patches); // [N,Cin,Hp,Wp]
  Value mask = collapseLeadingTwo(b, loc, routed);    // [N,E]
  Value grad = collapseLeadingTwo(b, loc, gconv);     // [N,E,Co,ph,pw]
  int64_t n = p[0] * p[1];

  // gpatches[n] += the padded gradient convolved with the flipped kernels,
  // input and output channels swapped: flipped[e] is [Cin,Co,kh,kw].
  Value flippedInit =
      tensor::EmptyOp::create(b, loc, {experts, cin, co, kh, kw}, element);
  AffineExpr e, ci, f, a, c;
  bindDims(ctx, e, ci, f, a, c);
  AffineMap flippedRead =
      AffineMap::get(5, 0, {e, f, ci, kh - 1 - a, kw - 1 - c}, ctx);
  Value flipped = buildGeneric(
      b, loc, {kernels}, flippedInit,
      {flippedRead, AffineMap::getMultiDimIdentityMap(5, ctx)}, {},
      [](OpBuilder &, Location, ValueRange v) { return v[0]; });
  // Each routed pair's gradient is padded on its own: padding all of them
  // first would write every expert's gradient, routed or not.
  Value gimages = forEachRoutedPair(
      b, loc, mask, filledTensor(b, loc, {n, cin, p[3], p[4]}, element, 0.0),
      [&](OpBuilder &tb, Location tl, Value i, Value x, Value acc) -> Value {
        Value g = padLastTwo(tb, tl, slice(tb, tl, grad, {i, x}, {1, co, height, width}),
                             kh - 1, kw - 1);
        Value filter = slice(tb, tl, flipped, {x}, {cin, co, kh, kw});
        Value target = slice(tb, tl, acc, {i}, {1, cin, p[3], p[4]});
        return insert(tb, tl, convInto(tb, tl, g, filter, target), acc, {i});
      });

  // gK^T[e] += patches[n] (channels as images) correlated with gconv[n, e]
  // (channels as filters): [Cin,Co,kh,kw].
  Value gkernelsT = forEachRoutedPair(
      b, loc, mask,
      filledTensor(b, loc, {experts, cin, co, kh, kw}, element, 0.0),
      [&](OpBuilder &tb, Location tl, Value i, Value x, Value acc) -> Value {
        Value image = tensor::ExpandShapeOp::create(
            tb, tl, RankedTensorType::get({cin, 1, p[3], p[4]}, element),
            slice(tb, tl, images, {i}, {cin, p[3], p[4]}),
            SmallVector<ReassociationIndices>{{0, 1}, {2}, {3}});
        Value filter = tensor::ExpandShapeOp::create(
            tb, tl, RankedTensorType::get({co, 1, height, width}, element),
            slice(tb, tl, grad, {i, x}, {co, height, width}),
            SmallVector<ReassociationIndices>{{0, 1}, {2}, {3}});
        Value target = slice(tb, tl, acc, {x}, {cin, co, kh, kw});
        return insert(tb, tl, convInto(tb, tl, image, filter, target), acc,
                      {x});
      });

  Value gpatches = expandLeading(b, loc, gimages, patches.getType());
  Value gkernels = transposeTensor(b, loc, gkernelsT, {0, 2, 1, 3, 4});
  return {gpatches, gkernels};
}
