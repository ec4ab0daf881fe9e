//===- Cuda.h - A CUDA driver backend loaded at run time -------*- C++ -*-===//
//
// Runs kernels compiled by `--pce-gpu-pipeline` (docs/GPU.md) through the
// CUDA driver API, without linking CUDA: libcuda.so.1 is opened with dlopen
// when a Context is created, so the runtime builds and runs on machines with
// neither a GPU nor a driver, and reports that as an error value.
//
// Every error names the driver call that failed (and the module or kernel it
// was about) with CUDA's own error name and text, e.g.
//   "cuModuleGetFunction(kernel 'forward_kernel' in module 'k0'):
//    CUDA_ERROR_NOT_FOUND (named symbol not found)".
//
// Not thread-safe: one Context is used from one thread at a time (each call
// makes its primary context current on the calling thread).
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_CUDA_H
#define PCE_RUNTIME_CUDA_H

#include "runtime/Status.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace pce::rt::cuda {

/// The driver library opened by default.
inline constexpr const char *kDefaultDriver = "libcuda.so.1";
/// $PCE_CUDA_DRIVER when set (another driver, or a test's fake), else
/// kDefaultDriver: what cudaAvailable() and compiled CUDA artifacts use.
std::string driverPath();

/// True when the driver (driverPath()) loads, cuInit succeeds and there is at
/// least one device. Cached after the first call.
bool cudaAvailable();
/// Why cudaAvailable() is false ("" when it is true).
std::string cudaUnavailableReason();

struct ContextImpl; // the driver's function table, device and context

/// A block of device memory (cuMemAlloc), freed on destruction.
class DeviceBuffer {
public:
  DeviceBuffer() = default;
  DeviceBuffer(DeviceBuffer &&other) noexcept;
  DeviceBuffer &operator=(DeviceBuffer &&other) noexcept;
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  ~DeviceBuffer();

  /// The device address (a CUdeviceptr), as kernels receive it.
  std::uint64_t address() const { return address_; }
  std::size_t bytes() const { return bytes_; }

  /// Copies `bytes` (at most bytes()) to / from the start of the buffer.
  Status copyFromHost(const void *host, std::size_t bytes);
  Status copyToHost(void *host, std::size_t bytes) const;

private:
  friend class Context;
  std::shared_ptr<ContextImpl> ctx_;
  std::uint64_t address_ = 0;
  std::size_t bytes_ = 0;
};

/// A kernel of a loaded module (a CUfunction).
struct Kernel {
  std::string name;
  std::string module;
  void *handle = nullptr;
};

/// A loaded module (cuModuleLoadData of PTX text or a cubin), unloaded on
/// destruction.
class Module {
public:
  Module() = default;
  Module(Module &&other) noexcept;
  Module &operator=(Module &&other) noexcept;
  Module(const Module &) = delete;
  Module &operator=(const Module &) = delete;
  ~Module();

  const std::string &name() const { return name_; }
  /// cuModuleGetFunction; the error names the kernel and the module.
  Expected<Kernel> kernel(const std::string &kernelName) const;

private:
  friend class Context;
  std::shared_ptr<ContextImpl> ctx_;
  void *handle_ = nullptr;
  std::string name_;
};

struct LaunchDims {
  unsigned gridX = 1, gridY = 1, gridZ = 1;
  unsigned blockX = 1, blockY = 1, blockZ = 1;
  unsigned sharedBytes = 0;
};

/// The primary context of one device.
class Context {
public:
  /// Loads the driver (dlopen of `driverPath`), resolves its entry points,
  /// cuInit, picks device `ordinal` and retains its primary context.
  static Expected<Context> create(int ordinal = 0,
                                  const std::string &driverPath = kDefaultDriver);

  /// "NVIDIA H100 80GB HBM3, sm_90".
  std::string description() const;
  int computeCapabilityMajor() const;
  int computeCapabilityMinor() const;

  /// `image`: PTX text (the driver JIT-compiles it) or a cubin; `name` is
  /// for error messages.
  Expected<Module> loadModule(const std::string &image, const std::string &name);
  Expected<DeviceBuffer> allocate(std::size_t bytes);
  /// cuLaunchKernel; `args[i]` points to the value of kernel parameter i.
  /// Asynchronous: errors in the kernel itself appear at synchronize().
  Status launch(const Kernel &kernel, const LaunchDims &dims,
                const std::vector<void *> &args);
  /// cuCtxSynchronize.
  Status synchronize();

  // Raw handles for compiled host code (runtime/CompiledCuda.h), which owns
  // what it creates and calls these from generated code.

  /// cuLaunchKernel on `stream` (nullptr: the default stream) with the
  /// kernel's parameter array as the driver takes it.
  Status launch(const Kernel &kernel, const LaunchDims &dims, void **params,
                void *stream);
  /// cuMemAllocManaged (CU_MEM_ATTACH_GLOBAL): one address for the host and
  /// the device. 0 bytes gives nullptr.
  Expected<void *> allocateManaged(std::size_t bytes);
  Status freeManaged(void *address);
  /// cuStreamCreate (non-blocking), cuStreamSynchronize, cuStreamDestroy.
  /// `after` names what ran on the stream, for the error message.
  Expected<void *> createStream();
  Status synchronizeStream(void *stream, const std::string &after);
  Status destroyStream(void *stream);

private:
  std::shared_ptr<ContextImpl> impl_;
};

} // namespace pce::rt::cuda

#endif // PCE_RUNTIME_CUDA_H
