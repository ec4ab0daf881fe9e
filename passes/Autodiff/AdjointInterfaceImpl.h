//===- AdjointInterfaceImpl.h - the pce ops' adjoints -----------*- C++ -*-===//
//
// Attaches AdjointOpInterface (dialect/PCEInterfaces.td) to the pce ops, as
// upstream attaches BufferizableOpInterface: `pce-generate-backward` registers
// it as a dependent, and a tool may register it up front.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_PASSES_AUTODIFF_ADJOINTINTERFACEIMPL_H
#define PCE_PASSES_AUTODIFF_ADJOINTINTERFACEIMPL_H

namespace mlir {
class DialectRegistry;
namespace pce {
void registerAdjointInterfaceExternalModels(DialectRegistry &registry);
} // namespace pce
} // namespace mlir

#endif // PCE_PASSES_AUTODIFF_ADJOINTINTERFACEIMPL_H
