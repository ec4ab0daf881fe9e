//===- LowerPatching.cpp - pce.patchify / pce.unpatchify to linalg --------===//
//
// patchify is one linalg.generic that only writes its output: each element
// computes its source pixel (or coordinate) from its own indices. unpatchify
// is a pure data movement: expand P into the grid, transpose, collapse.
// docs/SEMANTICS.md §1 and §4 define both.
//
//===----------------------------------------------------------------------===//

#include "dialect/PCEOps.h"
#include "passes/Conversion/PCEToLinalg.h"
#include "passes/Builders/PCEMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/bit.h"

using namespace mlir;
using namespace mlir::pce;

namespace {

/// Constants of one linalg body, each built once at its first use (the body
/// is a single block, so the first use dominates the others).
class BodyConstants {
public:
  BodyConstants(OpBuilder &b, Location loc, FloatType type)
      : b(b), loc(loc), type(type) {}

  Value index(int64_t v) {
    Value &c = indices[v];
    if (!c)
      c = arith::ConstantIndexOp::create(b, loc, v);
    return c;
  }

  Value real(double v) {
    Value &c = reals[llvm::bit_cast<uint64_t>(v)];
    if (!c)
      c = arith::ConstantOp::create(b, loc, type, b.getFloatAttr(type, v));
    return c;
  }

  FloatType floatType() const { return type; }

private:
  OpBuilder &b;
  Location loc;
  FloatType type;
  llvm::DenseMap<int64_t, Value> indices;
  llvm::DenseMap<uint64_t, Value> reals;
};

/// `lin(n, i) = 2*i/(n-1) - 1` (0 when n == 1) in the element type, for an
/// index `i` that may be negative on the halo. Evaluated in the formula's own
/// order so that f64 matches the float64 reference exactly.
Value linCoordinate(OpBuilder &b, Location loc, BodyConstants &k, int64_t n,
                    Value i) {
  if (n <= 1)
    return k.real(0.0);
  Value asInt = arith::IndexCastOp::create(b, loc, b.getI64Type(), i);
  Value f = arith::SIToFPOp::create(b, loc, k.floatType(), asInt);
  Value twice = arith::MulFOp::create(b, loc, f, k.real(2.0));
  Value scaled =
      arith::DivFOp::create(b, loc, twice, k.real(static_cast<double>(n - 1)));
  return arith::SubFOp::create(b, loc, scaled, k.real(1.0));
}

/// `lo <= v < hi` for signed index values.
Value inRange(OpBuilder &b, Location loc, BodyConstants &k, Value v, int64_t lo,
              int64_t hi) {
  Value geLo =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, v, k.index(lo));
  Value ltHi =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, v, k.index(hi));
  return arith::AndIOp::create(b, loc, geLo, ltHi);
}

/// `v` clamped to `[0, hi)` so that a read never leaves the tensor.
Value clampIndex(OpBuilder &b, Location loc, BodyConstants &k, Value v,
                 int64_t hi) {
  Value lo = arith::MaxSIOp::create(b, loc, v, k.index(0));
  return arith::MinSIOp::create(b, loc, lo, k.index(hi - 1));
}

struct PatchifyLowering : OpConversionPattern<PatchifyOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(PatchifyOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = adaptor.getInput();
    auto inputType = cast<RankedTensorType>(input.getType());
    auto resultType = cast<RankedTensorType>(op.getType());
    auto elemType = cast<FloatType>(resultType.getElementType());
    int64_t channels = inputType.getDimSize(1);
    int64_t height = inputType.getDimSize(2), width = inputType.getDimSize(3);
    int64_t ph = op.getPatch()[0], pw = op.getPatch()[1];
    int64_t nph = height / ph, npw = width / pw;
    int64_t r = op.getRadius();
    bool isolated = op.getHalo() == HaloMode::isolated;

    auto buildBody = [&](OpBuilder &b, Location loc, ValueRange) {
      BodyConstants k(b, loc, elemType);
      Value n = linalg::IndexOp::create(b, loc, 0);
      Value p = linalg::IndexOp::create(b, loc, 1);
      Value c = linalg::IndexOp::create(b, loc, 2);
      Value i = linalg::IndexOp::create(b, loc, 3);
      Value j = linalg::IndexOp::create(b, loc, 4);
      // Patch p = a*npw + bcol.
      Value a = arith::DivUIOp::create(b, loc, p, k.index(npw));
      Value bcol = arith::RemUIOp::create(b, loc, p, k.index(npw));
      // Offsets relative to the patch core; negative on the top/left halo.
      Value di = r ? arith::SubIOp::create(b, loc, i, k.index(r)) : i;
      Value dj = r ? arith::SubIOp::create(b, loc, j, k.index(r)) : j;

      // Coordinate channels C+0..C+3, selected from the last one backwards.
      Value coord = linCoordinate(b, loc, k, npw, bcol);
      auto selectChannel = [&](int64_t channel, Value value, Value otherwise) {
        Value is = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, c,
                                         k.index(channel));
        return arith::SelectOp::create(b, loc, is, value, otherwise);
      };
      coord =
          selectChannel(channels + 2, linCoordinate(b, loc, k, nph, a), coord);
      coord =
          selectChannel(channels + 1, linCoordinate(b, loc, k, pw, dj), coord);
      coord = selectChannel(channels, linCoordinate(b, loc, k, ph, di), coord);
      if (channels == 0) {
        linalg::YieldOp::create(b, loc, coord);
        return;
      }

      // Pixel channels 0..C-1: read at clamped indices (coordinate channels
      // read too and discard the value), then zero what lies outside the
      // image (context) or outside the core (isolated).
      Value row = arith::AddIOp::create(
          b, loc, arith::MulIOp::create(b, loc, a, k.index(ph)), di);
      Value col = arith::AddIOp::create(
          b, loc, arith::MulIOp::create(b, loc, bcol, k.index(pw)), dj);
      Value channel = arith::MinUIOp::create(b, loc, c, k.index(channels - 1));
      Value pixel;
      if (r == 0) {
        // No halo: every index is inside the image already.
        pixel = tensor::ExtractOp::create(b, loc, input,
                                          ValueRange{n, channel, row, col});
      } else {
        Value read = tensor::ExtractOp::create(
            b, loc, input,
            ValueRange{n, channel, clampIndex(b, loc, k, row, height),
                       clampIndex(b, loc, k, col, width)});
        Value inside =
            isolated
                ? arith::AndIOp::create(b, loc, inRange(b, loc, k, di, 0, ph),
                                        inRange(b, loc, k, dj, 0, pw))
                : arith::AndIOp::create(b, loc,
                                        inRange(b, loc, k, row, 0, height),
                                        inRange(b, loc, k, col, 0, width));
        pixel = arith::SelectOp::create(b, loc, inside, read, k.real(0.0));
      }
      Value isPixel = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                            c, k.index(channels));
      linalg::YieldOp::create(
          b, loc,
          ValueRange{arith::SelectOp::create(b, loc, isPixel, pixel, coord)});
    };

    Value init =
        tensor::EmptyOp::create(rewriter, loc, resultType.getShape(), elemType);
    AffineMap identity = rewriter.getMultiDimIdentityMap(resultType.getRank());
    SmallVector<utils::IteratorType> iterators(resultType.getRank(),
                                               utils::IteratorType::parallel);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{resultType}, ValueRange{}, ValueRange{init},
        ArrayRef<AffineMap>{identity}, iterators, buildBody);
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

struct UnpatchifyLowering : OpConversionPattern<UnpatchifyOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(UnpatchifyOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(
        op, lowering::unpatchifyGrid(rewriter, op.getLoc(), adaptor.getInput(),
                                     op.getGrid()[0], op.getGrid()[1]));
    return success();
  }
};

} // namespace

void mlir::pce::populateLowerPatchingPatterns(RewritePatternSet &patterns) {
  patterns.add<PatchifyLowering, UnpatchifyLowering>(patterns.getContext());
}
