//===- CompiledCudaAbi.h - What CUDA artifacts import from the runtime ---===//
//
// The contract between `pce-compile --target cuda` (which writes the host
// code) and the runtime (which supplies the functions that host code calls).
// Header-only, no dependencies: both sides include it.
//
// A CUDA artifact's library does not link against any CUDA runtime. Each
// function F its host code calls is defined in the library as a jump through
// a pointer slot, `ptr @__pce_cuda_F`, which the runtime fills in after
// dlopen. The library also exports
//   const char pce_cuda_imports[]    the F it calls, each NUL-terminated,
//                                    then an empty name;
//   void pce_cuda_load_modules()     loads every kernel module (what
//                                    upstream does in global constructors,
//                                    which would run inside dlopen, before
//                                    the slots are filled and without a GPU);
//   void pce_cuda_unload_modules()   the reverse, before dlclose.
//
// The functions, with C signatures:
//   void *pceCudaModuleLoad(const void *image, int64_t bytes, const char *name)
//       PTX (bytes == 0: NUL-terminated text) or a cubin of `bytes`;
//       `name` is the gpu.module's, for messages.
//   void  mgpuModuleUnload(void *module)
//   void *mgpuModuleGetFunction(void *module, const char *kernel)
//   void  mgpuLaunchKernel(void *kernel, int64_t gridX, gridY, gridZ,
//                          int64_t blockX, blockY, blockZ, int32_t smem,
//                          void *stream, void **params, void **extra,
//                          int64_t paramCount)
//   void *mgpuStreamCreate()
//   void  mgpuStreamSynchronize(void *stream)
//   void  mgpuStreamDestroy(void *stream)
//   void *pceCudaAlloc(int64_t bytes)     every host allocation (the
//   void  pceCudaFree(void *address)      lowering's malloc/free): managed
//                                         memory, so kernels and host code
//                                         both reach every buffer
// The mgpu* ones have the signatures MLIR's gpu-to-llvm calls.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_COMPILEDCUDAABI_H
#define PCE_RUNTIME_COMPILEDCUDAABI_H

namespace pce::cuda_abi {

inline constexpr const char *kSlotPrefix = "__pce_cuda_";
inline constexpr const char *kImportsSymbol = "pce_cuda_imports";
inline constexpr const char *kLoadModulesSymbol = "pce_cuda_load_modules";
inline constexpr const char *kUnloadModulesSymbol = "pce_cuda_unload_modules";

inline constexpr const char *kModuleLoad = "pceCudaModuleLoad";
inline constexpr const char *kAlloc = "pceCudaAlloc";
inline constexpr const char *kFree = "pceCudaFree";

/// Every function a CUDA artifact may import.
inline constexpr const char *kImports[] = {
    kModuleLoad,           "mgpuModuleUnload",      "mgpuModuleGetFunction",
    "mgpuLaunchKernel",    "mgpuStreamCreate",      "mgpuStreamSynchronize",
    "mgpuStreamDestroy",   kAlloc,                  kFree,
};

} // namespace pce::cuda_abi

#endif // PCE_RUNTIME_COMPILEDCUDAABI_H
