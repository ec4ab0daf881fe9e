//===- ParameterRoles.h - each parameter's role, for the manifest -*- C++ -*-===//
//
// The manifest records what each parameter is and how it starts
// (runtime/ParameterRole.h). A parameter's role is its `pce.role` (the
// importer writes one on every parameter of a description), else what the
// pce op that reads it makes of that operand (the keys of a pce.route, the
// kernels of pce.experts, ...); its initialiser follows from the role, the
// shape and what the op says (the router's tau, the number of experts).
// A parameter of hand-written IR read only by other dialects' ops has no
// role (pce-init then asks for one).
//
//===----------------------------------------------------------------------===//

#ifndef PCE_PASSES_ARTIFACT_PARAMETERROLES_H
#define PCE_PASSES_ARTIFACT_PARAMETERROLES_H

#include "runtime/Manifest.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringMap.h"

namespace pce::compile {

struct ParameterRole {
  rt::ParamRole role;
  rt::InitContext context;
};

/// The roles of the `pce.param` arguments of every function of `module`, by
/// parameter name, read before the layers are decomposed. Fails with a
/// diagnostic when one parameter is given two roles.
mlir::FailureOr<llvm::StringMap<ParameterRole>>
collectParameterRoles(mlir::ModuleOp module);

/// Sets the role and initialiser of each parameter `roles` knows; fails with
/// a diagnostic on `module` when a role does not fit the parameter's shape.
mlir::LogicalResult assignRoles(std::vector<rt::ParameterSpec> &parameters,
                                const llvm::StringMap<ParameterRole> &roles,
                                mlir::ModuleOp module);

} // namespace pce::compile

#endif // PCE_PASSES_ARTIFACT_PARAMETERROLES_H
