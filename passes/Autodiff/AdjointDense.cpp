//===- AdjointDense.cpp - the adjoint of a per-patch dense layer ----------===//

#include "passes/Autodiff/AdjointDense.h"

#include "passes/Autodiff/Adjoint.h"
#include "passes/Builders/LinalgBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"

using namespace mlir;
using namespace mlir::pce;
using namespace mlir::pce::adjoint;
using namespace mlir::pce::lowering;

namespace {

/// The loops of the contractions, in patch-major order.
enum Loop : unsigned { LoopB, LoopP, LoopO, LoopK };

/// A nest over `loops` (in patch-major order) summing over `summed`, laid
/// out in the requested order; maps operands by the loops they read.
class Nest {
public:
  Nest(MLIRContext *ctx, ArrayRef<unsigned> loops, ArrayRef<unsigned> summed,
       DenseLoops order)
      : ctx(ctx) {
    for (unsigned l : loops)
      if (order == DenseLoops::PatchMajor || !llvm::is_contained(summed, l))
        nest.push_back(l);
    if (order == DenseLoops::SumsInnermost)
      llvm::append_range(nest, summed);
    for (unsigned l : summed)
      reduced.push_back(position(l));
  }

  AffineMap map(ArrayRef<unsigned> loops) const {
    SmallVector<unsigned> positions =
        llvm::map_to_vector(loops, [&](unsigned l) { return position(l); });
    return loopsMap(ctx, nest.size(), positions);
  }

  SmallVector<unsigned> reduced;

private:
  unsigned position(unsigned loop) const {
    return llvm::find(nest, loop) - nest.begin();
  }

  MLIRContext *ctx;
  SmallVector<unsigned> nest;
};

Type elementOf(Value v) { return typeOf(v).getElementType(); }

} // namespace

Value mlir::pce::adjoint::denseBiasGrad(OpBuilder &b, Location loc, Value gy,
                                        DenseLoops loops) {
  Nest nest(b.getContext(), {LoopB, LoopP, LoopO}, {LoopB, LoopP}, loops);
  Value init = filledTensor(b, loc, typeOf(gy).getShape().take_back(),
                            elementOf(gy), 0.0);
  AffineMap maps[] = {nest.map({LoopB, LoopP, LoopO}), nest.map({LoopO})};
  return buildGeneric(b, loc, {gy}, init, maps, nest.reduced,
                      [](OpBuilder &nb, Location nloc, ValueRange a) {
                        return ArithBuilder(nb, nloc).add(a[1], a[0]);
                      });
}

Value mlir::pce::adjoint::denseWeightGrad(OpBuilder &b, Location loc,
                                          Value gy, Value x,
                                          DenseLoops loops) {
  Nest nest(b.getContext(), {LoopB, LoopP, LoopO, LoopK}, {LoopB, LoopP},
            loops);
  int64_t rows = typeOf(gy).getShape()[2], cols = typeOf(x).getShape()[2];
  Value init = filledTensor(b, loc, {rows, cols}, elementOf(gy), 0.0);
  AffineMap maps[] = {nest.map({LoopB, LoopP, LoopO}),
                      nest.map({LoopB, LoopP, LoopK}),
                      nest.map({LoopO, LoopK})};
  return buildGeneric(b, loc, {gy, x}, init, maps, nest.reduced, multiplyAdd);
}

Value mlir::pce::adjoint::denseInputGrad(OpBuilder &b, Location loc, Value gy,
                                         Value weight, Value gate,
                                         DenseLoops loops) {
  Nest nest(b.getContext(), {LoopB, LoopP, LoopO, LoopK}, {LoopO}, loops);
  ArrayRef<int64_t> shape = typeOf(gy).getShape();
  int64_t width = typeOf(weight).getShape()[1];
  Type element = elementOf(gy);
  Value init = filledTensor(b, loc, {shape[0], shape[1], width}, element, 0.0);
  SmallVector<Value> inputs = {gy, weight};
  SmallVector<AffineMap> maps = {nest.map({LoopB, LoopP, LoopO}),
                                 nest.map({LoopO, LoopK})};
  if (gate) {
    inputs.push_back(gate);
    maps.push_back(nest.map({LoopB, LoopP, LoopK}));
  }
  maps.push_back(nest.map({LoopB, LoopP, LoopK}));
  return buildGeneric(
      b, loc, inputs, init, maps, nest.reduced,
      [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        ArithBuilder ab(nb, nloc);
        Value term = ab.mul(a[0], a[1]);
        if (gate) {
          Value zero = floatConstant(nb, nloc, element, 0.0);
          Value open = arith::CmpFOp::create(
              nb, nloc, arith::CmpFPredicate::OGT, a[2], zero);
          term = ab.select(open, term, zero);
        }
        return ab.add(a.back(), term);
      });
}
