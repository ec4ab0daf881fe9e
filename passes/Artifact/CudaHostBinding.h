//===- CudaHostBinding.h - CUDA host code onto the runtime's ABI -*- C++ -*-===//
//
// `--pce-gpu-pipeline` leaves host code that calls MLIR's CUDA runtime
// wrappers (mgpu*) and loads every kernel module in a global constructor.
// Neither works in an artifact: there is no libmlir_cuda_runtime, and a
// constructor runs inside dlopen, on machines without a GPU too. This step,
// on the translated LLVM IR, rewrites the host code to the ABI of
// runtime/CompiledCudaAbi.h: module loads move into the exported
// pce_cuda_load_modules, malloc/free become pceCudaAlloc/pceCudaFree
// (managed memory), and every imported function jumps through a slot the
// runtime fills in.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_PASSES_ARTIFACT_CUDAHOSTBINDING_H
#define PCE_PASSES_ARTIFACT_CUDAHOSTBINDING_H

#include "llvm/Support/Error.h"

namespace llvm {
class Module;
} // namespace llvm

namespace pce::compile {

/// Rewrites `module` in place; fails (naming the function) when its host code
/// calls a GPU runtime function the PCE runtime does not provide.
llvm::Error bindCudaHostCode(llvm::Module &module);

} // namespace pce::compile

#endif // PCE_PASSES_ARTIFACT_CUDAHOSTBINDING_H
