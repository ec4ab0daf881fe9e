//===- PCEDialect.h - the pce dialect ---------------------------*- C++ -*-===//

#ifndef PCE_DIALECT_PCEDIALECT_H
#define PCE_DIALECT_PCEDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Dialect.h"

#include "dialect/PCEDialect.h.inc"

#include "dialect/PCEAttributes.h"

#endif // PCE_DIALECT_PCEDIALECT_H
