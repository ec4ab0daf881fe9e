//===- Adjoint.cpp - registration and shared helpers of the adjoints ------===//

#include "passes/Autodiff/Adjoint.h"

#include "dialect/PCEDialect.h"
#include "passes/Builders/LinalgBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/IR/DialectRegistry.h"

using namespace mlir;
using namespace mlir::pce;
using namespace mlir::pce::adjoint;

void mlir::pce::registerAdjointInterfaceExternalModels(
    DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, PCEDialect *) {
    attachPatchingAdjoints(ctx);
    attachEmbedAdjoint(ctx);
    attachRouteAdjoint(ctx);
    attachExpertsAdjoint(ctx);
    attachMixAdjoints(ctx);
  });
}

Value mlir::pce::adjoint::add(OpBuilder &b, Location loc, Value x, Value y) {
  if (!x)
    return y;
  if (!y)
    return x;
  auto type = cast<RankedTensorType>(x.getType());
  return lowering::buildElementwise(
      b, loc, {x, y}, type, [](OpBuilder &b, Location loc, ValueRange a) {
        return ArithBuilder(b, loc).add(a[0], a[1]);
      });
}

Value mlir::pce::adjoint::zeros(OpBuilder &b, Location loc,
                                RankedTensorType type) {
  return lowering::filledTensor(b, loc, type.getShape(), type.getElementType(),
                                0.0);
}

Value mlir::pce::adjoint::orZeros(OpBuilder &b, Location loc, Value g,
                                  Type type) {
  return g ? g : zeros(b, loc, cast<RankedTensorType>(type));
}

Value mlir::pce::adjoint::multiplyAdd(OpBuilder &b, Location loc,
                                      ValueRange a) {
  ArithBuilder ab(b, loc);
  return ab.add(a[2], ab.mul(a[0], a[1]));
}
