//===- PCEOps.h - operations of the pce dialect -----------------*- C++ -*-===//

#ifndef PCE_DIALECT_PCEOPS_H
#define PCE_DIALECT_PCEOPS_H

#include "dialect/PCEDialect.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialect/PCEEnums.h.inc"

#define GET_OP_CLASSES
#include "dialect/PCEOps.h.inc"

namespace mlir::pce {
/// Whether routers of this kind read patch embeddings (and so need
/// `pce.embed`).
inline bool routerReadsEmbeddings(RouterKind kind) {
  return kind == RouterKind::cosine || kind == RouterKind::mlp ||
         kind == RouterKind::gumbel;
}
} // namespace mlir::pce

#endif // PCE_DIALECT_PCEOPS_H
