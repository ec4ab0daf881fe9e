//===- FoldExpertNorm.h - the tutorial's example pass -----------*- C++ -*-===//

#ifndef PCE_EXAMPLES_FUSION_PASS_FOLDEXPERTNORM_H
#define PCE_EXAMPLES_FUSION_PASS_FOLDEXPERTNORM_H

#include "mlir/Pass/Pass.h"

namespace mlir::pce::example {

#define GEN_PASS_DECL
#include "examples/fusion-pass/FoldExpertNorm.h.inc"

#define GEN_PASS_REGISTRATION
#include "examples/fusion-pass/FoldExpertNorm.h.inc"

} // namespace mlir::pce::example

#endif // PCE_EXAMPLES_FUSION_PASS_FOLDEXPERTNORM_H
