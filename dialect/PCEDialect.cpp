//===- PCEDialect.cpp - the pce dialect -----------------------------------===//

#include "dialect/PCEDialect.h"
#include "dialect/PCEOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::pce;

#include "dialect/PCEDialect.cpp.inc"

void PCEDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialect/PCEOps.cpp.inc"
      >();
}

/// Folders (a uniform router, a single expert) produce dense constants.
Operation *PCEDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                           Type type, Location loc) {
  if (auto typed = dyn_cast<TypedAttr>(value))
    if (arith::ConstantOp::isBuildableWith(typed, type))
      return arith::ConstantOp::create(builder, loc, type, typed);
  return nullptr;
}
