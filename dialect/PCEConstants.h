//===- PCEConstants.h - numeric constants of the pce semantics --*- C++ -*-===//
//
// Constants that docs/SEMANTICS.md fixes and that several builders must
// agree on (a lowering and the adjoint that differentiates it), named once.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_DIALECT_PCECONSTANTS_H
#define PCE_DIALECT_PCECONSTANTS_H

namespace mlir::pce {

/// The cosine router's floor on the norms' product:
/// `s_e = <emb, k_e> / max(|emb| |k_e|, kCosineNormFloor)` (SEMANTICS.md §3).
/// The forward (lowering::cosineLogits) and the route adjoint, which tests
/// whether the floor was hit, must use the same value.
inline constexpr double kCosineNormFloor = 1e-12;

} // namespace mlir::pce

#endif // PCE_DIALECT_PCECONSTANTS_H
