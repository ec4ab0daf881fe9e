//===- PCEInterfaces.cpp - op interfaces of the pce dialect ---------------===//

#include "dialect/PCEInterfaces.h"

#include "mlir/IR/IRMapping.h"

using namespace mlir;
using namespace mlir::pce;

FailureOr<TrainingForward> mlir::pce::cloneForTraining(OpBuilder &b,
                                                       Operation *op,
                                                       ValueRange operands) {
  IRMapping mapping;
  mapping.map(op->getOperands(), operands);
  Operation *clone = b.clone(*op, mapping);
  TrainingForward forward;
  forward.results.assign(clone->result_begin(), clone->result_end());
  return forward;
}

#include "dialect/PCEInterfaces.cpp.inc"
