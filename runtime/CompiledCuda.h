//===- CompiledCuda.h - Running `pce-compile --target cuda` artifacts -*- C++ -*-===//
//
// A CUDA artifact's host code launches its kernels through functions the
// runtime supplies (the ABI in runtime/CompiledCudaAbi.h). This file binds a
// loaded library to those functions, which run on one process-wide primary
// context of device 0 (runtime/Cuda.h), with the driver library
// $PCE_CUDA_DRIVER if set, else libcuda.so.1.
//
// The functions cannot return errors to generated code, so each one records
// the first failure of the calling thread and turns the calls after it into
// no-ops (allocations still succeed, in host memory, so the host code runs to
// its end without touching a null pointer); Artifact::run then reports it,
// e.g. "cuStreamSynchronize(after kernel 'forward_kernel' in module
// 'forward_kernel_3'): CUDA_ERROR_ILLEGAL_ADDRESS (...)".
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_COMPILEDCUDA_H
#define PCE_RUNTIME_COMPILEDCUDA_H

#include "runtime/Cuda.h"
#include "runtime/Status.h"

#include <string>

namespace pce::rt::cuda {

/// True when the dlopen handle is a CUDA artifact's library (it exports
/// pce_cuda_load_modules).
bool isCompiledCudaLibrary(void *library);

/// Creates the process's context if needed, fills every slot the library
/// imports and loads its kernel modules. `what` names the library in errors.
Status bindCompiledLibrary(void *library, const std::string &what);

/// Unloads the library's kernel modules; call before dlclose.
void unbindCompiledLibrary(void *library);

/// The context compiled code runs on (created by bindCompiledLibrary).
Expected<Context *> compiledCodeContext();

/// The first error the calling thread's compiled code met since the last
/// call, and clears it; "" when there was none.
std::string takeCompiledCodeError();

} // namespace pce::rt::cuda

#endif // PCE_RUNTIME_COMPILEDCUDA_H
