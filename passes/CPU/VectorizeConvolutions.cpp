//===- VectorizeConvolutions.cpp - register-blocked NCHW convolutions -----===//
//
// Rewrites `linalg.conv_2d_nchw_fchw` on buffers (unit strides and
// dilations, static shapes, a float element type, unit innermost strides)
// into loops whose innermost body is a register-blocked vector kernel:
//
//   parallel n, f0 (step F): for h0 (step R), for w0 (step V):
//     acc[i][j] = out[n, f0+i, h0+j, w0:w0+V]          (F*R vectors)
//     for c:
//       for kh, kw (unrolled):
//         x[j] = in[n, c, h0+j+kh, w0+kw : w0+kw+V]    (R vector loads)
//         for i: acc[i][j] = fma(x[j], broadcast(k[f0+i, c, kh, kw]), acc[i][j])
//     out[n, f0+i, h0+j, w0:w0+V] = acc[i][j]
//
// The output row (NCHW: width is the contiguous dimension) is the vector;
// F output channels times R output rows are the register block. Blocks that
// do not divide a dimension get a tail kernel of the remaining static size,
// so every vector has a static shape and no masks are needed. Results
// narrower than half a vector under long filter rows (kernel gradients) use
// vectors along the filter rows instead (emitWideFilterKernel). Upstream's
// convolution vectorizer (linalg::vectorize after decomposition to 1-D convs)
// vectorizes NCHW convolutions along the channel dimensions, through
// transposes and a gather of the filter; see docs/Rationale.md.
//
//===----------------------------------------------------------------------===//

#include "passes/Builders/LinalgBuilders.h"
#include "passes/CPU/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::pce {
#define GEN_PASS_DEF_VECTORIZECONVOLUTIONS
#include "passes/CPU/Passes.h.inc"
} // namespace mlir::pce

using namespace mlir;
using namespace mlir::pce::lowering;

namespace {

bool allOnes(DenseIntElementsAttr attr) {
  return llvm::all_of(attr.getValues<int64_t>(), [](int64_t v) { return v == 1; });
}

/// Why `op` is left alone, or nothing when it can be vectorized.
std::optional<StringRef> unsupported(linalg::Conv2DNchwFchwOp op) {
  if (!op.hasPureBufferSemantics())
    return StringRef("not on buffers");
  auto in = dyn_cast<MemRefType>(op.getDpsInputs()[0].getType());
  auto filter = dyn_cast<MemRefType>(op.getDpsInputs()[1].getType());
  auto out = dyn_cast<MemRefType>(op.getDpsInits()[0].getType());
  if (!isStaticWithUnitInnerStride(in) || !isStaticWithUnitInnerStride(out) ||
      !filter || !filter.hasStaticShape())
    return StringRef("dynamic shape or strided rows");
  Type element = out.getElementType();
  if (!isa<FloatType>(element) || in.getElementType() != element ||
      filter.getElementType() != element)
    return StringRef("not one float type");
  if (!allOnes(op.getStrides()) || !allOnes(op.getDilations()))
    return StringRef("strided or dilated");
  return std::nullopt;
}

struct Kernel {
  Value in, filter, out;
  int64_t channels, kh, kw;
  Type element;
};

Value index(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

/// `base + offset` (folded when offset is 0).
Value plus(OpBuilder &b, Location loc, Value base, int64_t offset) {
  if (offset == 0)
    return base;
  return arith::AddIOp::create(b, loc, base, index(b, loc, offset));
}

/// Calls `body(offset, size)` for blocks of `block` covering [0, extent): an
/// scf.for over the full blocks (a constant offset when there is one), then
/// the tail block of static size `extent % block`.
void forEachBlock(OpBuilder &b, Location loc, int64_t extent, int64_t block,
                  function_ref<void(OpBuilder &, Value, int64_t)> body) {
  block = std::max<int64_t>(1, std::min(block, extent));
  int64_t full = extent / block, tail = extent % block;
  if (full == 1) {
    body(b, index(b, loc, 0), block);
  } else if (full > 1) {
    auto loop = scf::ForOp::create(b, loc, index(b, loc, 0),
                                   index(b, loc, full * block), index(b, loc, block));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    body(b, loop.getInductionVar(), block);
  }
  if (tail)
    body(b, index(b, loc, full * block), tail);
}

/// The register block: `filters` x `rows` accumulators of `width` lanes at
/// out[n, f0.., h0.., w0..].
void emitKernel(OpBuilder &b, Location loc, const Kernel &k, Value n, Value f0,
                int64_t filters, Value h0, int64_t rows, Value w0, int64_t width) {
  auto vecType = VectorType::get({width}, k.element);
  SmallVector<Value> fIdx, hIdx;
  for (int64_t i = 0; i < filters; ++i)
    fIdx.push_back(plus(b, loc, f0, i));
  for (int64_t j = 0; j < rows; ++j)
    hIdx.push_back(plus(b, loc, h0, j));

  SmallVector<Value> init;
  for (int64_t i = 0; i < filters; ++i)
    for (int64_t j = 0; j < rows; ++j)
      init.push_back(vector::LoadOp::create(b, loc, vecType, k.out,
                                            ValueRange{n, fIdx[i], hIdx[j], w0}));

  auto channelLoop = scf::ForOp::create(
      b, loc, index(b, loc, 0), index(b, loc, k.channels), index(b, loc, 1), init,
      [&](OpBuilder &lb, Location lloc, Value c, ValueRange accs) {
        SmallVector<Value> acc(accs.begin(), accs.end());
        for (int64_t kh = 0; kh < k.kh; ++kh) {
          for (int64_t kw = 0; kw < k.kw; ++kw) {
            Value col = plus(lb, lloc, w0, kw);
            SmallVector<Value> x;
            for (int64_t j = 0; j < rows; ++j)
              x.push_back(vector::LoadOp::create(
                  lb, lloc, vecType, k.in,
                  ValueRange{n, c, plus(lb, lloc, h0, j + kh), col}));
            Value khIdx = index(lb, lloc, kh), kwIdx = index(lb, lloc, kw);
            for (int64_t i = 0; i < filters; ++i) {
              Value w = memref::LoadOp::create(lb, lloc, k.filter,
                                               ValueRange{fIdx[i], c, khIdx, kwIdx});
              Value wv = vector::BroadcastOp::create(lb, lloc, vecType, w);
              for (int64_t j = 0; j < rows; ++j) {
                Value &a = acc[i * rows + j];
                a = vector::FMAOp::create(lb, lloc, x[j], wv, a);
              }
            }
          }
        }
        scf::YieldOp::create(lb, lloc, acc);
      });

  for (int64_t i = 0; i < filters; ++i)
    for (int64_t j = 0; j < rows; ++j)
      vector::StoreOp::create(b, loc, channelLoop.getResult(i * rows + j), k.out,
                              ValueRange{n, fIdx[i], hIdx[j], w0});
}

/// The kernel for results narrower than half a vector with filter rows of a
/// few lanes (a kernel gradient: a 3x3 result, 7x7 "filters"): vectors run
/// along the filter row instead of the result row. `filters` x `cols`
/// accumulators of `kw` lanes, one per result element of out[n, f0.., h,
/// 0..cols), gather products over channels and filter rows; each is summed
/// across its lanes at the end and added to the result.
void emitWideFilterKernel(OpBuilder &b, Location loc, const Kernel &k, Value n, Value f0,
                          int64_t filters, Value h, int64_t cols) {
  auto vecType = VectorType::get({k.kw}, k.element);
  SmallVector<Value> fIdx, cIdx;
  for (int64_t i = 0; i < filters; ++i)
    fIdx.push_back(plus(b, loc, f0, i));
  for (int64_t j = 0; j < cols; ++j)
    cIdx.push_back(index(b, loc, j));
  Value zeroVec = arith::ConstantOp::create(
      b, loc, vecType, DenseElementsAttr::get(vecType, b.getFloatAttr(k.element, 0.0)));
  SmallVector<Value> init(filters * cols, zeroVec);
  Value c0 = index(b, loc, 0);
  auto channelLoop = scf::ForOp::create(
      b, loc, c0, index(b, loc, k.channels), index(b, loc, 1), init,
      [&](OpBuilder &lb, Location lloc, Value c, ValueRange accs) {
        SmallVector<Value> acc(accs.begin(), accs.end());
        for (int64_t r = 0; r < k.kh; ++r) {
          Value row = plus(lb, lloc, h, r), rIdx = index(lb, lloc, r);
          SmallVector<Value> x, w;
          for (int64_t j = 0; j < cols; ++j)
            x.push_back(vector::LoadOp::create(lb, lloc, vecType, k.in,
                                               ValueRange{n, c, row, cIdx[j]}));
          for (int64_t i = 0; i < filters; ++i)
            w.push_back(vector::LoadOp::create(lb, lloc, vecType, k.filter,
                                               ValueRange{fIdx[i], c, rIdx, c0}));
          for (int64_t i = 0; i < filters; ++i)
            for (int64_t j = 0; j < cols; ++j) {
              Value &a = acc[i * cols + j];
              a = vector::FMAOp::create(lb, lloc, x[j], w[i], a);
            }
        }
        scf::YieldOp::create(lb, lloc, acc);
      });
  for (int64_t i = 0; i < filters; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      Value sum = vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD,
                                              channelLoop.getResult(i * cols + j));
      ValueRange at{n, fIdx[i], h, cIdx[j]};
      Value old = memref::LoadOp::create(b, loc, k.out, at);
      memref::StoreOp::create(b, loc, arith::AddFOp::create(b, loc, old, sum), k.out, at);
    }
}

struct VectorizeConvolutions
    : pce::impl::VectorizeConvolutionsBase<VectorizeConvolutions> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<linalg::Conv2DNchwFchwOp> convs;
    getOperation()->walk([&](linalg::Conv2DNchwFchwOp op) {
      if (!unsupported(op))
        convs.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::Conv2DNchwFchwOp op : convs) {
      rewriter.setInsertionPoint(op);
      rewrite(rewriter, op);
      rewriter.eraseOp(op);
    }
  }

  void rewrite(OpBuilder &b, linalg::Conv2DNchwFchwOp op) {
    Location loc = op.getLoc();
    Value in = op.getDpsInputs()[0], filter = op.getDpsInputs()[1];
    Value out = op.getDpsInits()[0];
    auto outType = cast<MemRefType>(out.getType());
    auto filterType = cast<MemRefType>(filter.getType());
    ArrayRef<int64_t> o = outType.getShape(), f = filterType.getShape();
    Kernel k{in, filter, out, f[1], f[2], f[3], outType.getElementType()};
    int64_t lanes = std::max<int64_t>(
        1, vectorBits / k.element.getIntOrFloatBitWidth());

    // A result row shorter than half a vector under filter rows of at least
    // 4 lanes: vectors along the filter rows (3/8 of the lanes would be used
    // along a result row of 3).
    // Its block keeps filters x columns accumulators at about 12 vector
    // registers, leaving room for the rows and filter rows it loads.
    bool wideFilter = o[3] > 0 && 2 * o[3] <= lanes && k.kw >= 4 && k.kw <= lanes;
    int64_t blockLimit = wideFilter ? std::max<int64_t>(1, 12 / o[3]) : filterBlock.getValue();

    // Items and blocks of output channels are independent (each writes its
    // own part of the result): one scf.parallel over both, and one over the
    // items for the tail block of channels.
    int64_t fBlock = std::max<int64_t>(1, std::min(blockLimit, o[1]));
    int64_t fFull = o[1] / fBlock, fTail = o[1] % fBlock;
    auto spatial = [&](OpBuilder &b1, Value n, Value f0, int64_t fs) {
      if (wideFilter) {
        auto rows = scf::ForOp::create(b1, loc, index(b1, loc, 0), index(b1, loc, o[2]),
                                       index(b1, loc, 1));
        OpBuilder::InsertionGuard guard(b1);
        b1.setInsertionPointToStart(rows.getBody());
        emitWideFilterKernel(b1, loc, k, n, f0, fs, rows.getInductionVar(), o[3]);
        return;
      }
      forEachBlock(b1, loc, o[2], rowBlock, [&](OpBuilder &b2, Value h0, int64_t hs) {
        forEachBlock(b2, loc, o[3], lanes, [&](OpBuilder &b3, Value w0, int64_t ws) {
          emitKernel(b3, loc, k, n, f0, fs, h0, hs, w0, ws);
        });
      });
    };
    Value zero = index(b, loc, 0), one = index(b, loc, 1);
    if (fFull > 0)
      scf::ParallelOp::create(
          b, loc, ValueRange{zero, zero}, ValueRange{index(b, loc, o[0]), index(b, loc, o[1] - fTail)},
          ValueRange{one, index(b, loc, fBlock)},
          [&](OpBuilder &pb, Location, ValueRange ivs) { spatial(pb, ivs[0], ivs[1], fBlock); });
    if (fTail > 0)
      scf::ParallelOp::create(b, loc, ValueRange{zero}, ValueRange{index(b, loc, o[0])},
                              ValueRange{one}, [&](OpBuilder &pb, Location, ValueRange ivs) {
                                spatial(pb, ivs[0], index(pb, loc, fFull * fBlock), fTail);
                              });
  }
};

} // namespace
