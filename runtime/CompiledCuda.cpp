//===- CompiledCuda.cpp - The functions CUDA artifacts import -------------===//

#include "runtime/CompiledCuda.h"
#include "runtime/CompiledCudaAbi.h"

#include <dlfcn.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>

namespace pce::rt::cuda {
namespace {

/// The process's context: created by the first bound library, kept once it
/// exists (a failure is not kept: a later artifact tries again).
Context *context(std::string *error = nullptr) {
  static std::mutex mutex;
  static std::optional<Context> shared;
  std::lock_guard<std::mutex> lock(mutex);
  if (!shared) {
    auto created = Context::create(0, driverPath());
    if (!created.ok()) {
      if (error)
        *error = created.error();
      return nullptr;
    }
    shared.emplace(std::move(*created));
  }
  return &*shared;
}

//===----------------------------------------------------------------------===//
// Errors: the first one per thread, until taken.
//===----------------------------------------------------------------------===//

thread_local std::string pendingError;

void record(const std::string &message) {
  if (pendingError.empty())
    pendingError = message;
}

bool failed() { return !pendingError.empty(); }

//===----------------------------------------------------------------------===//
// Modules and kernels
//===----------------------------------------------------------------------===//

/// What pceCudaModuleLoad returns: the module (unloaded when the record is
/// deleted) and the kernels looked up in it, each looked up once.
struct LoadedModule {
  std::string name;
  Module module;
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<Kernel>> kernels;
  Kernel missing; // what a failed look-up returns (never launched)
};

void *moduleLoad(const void *image, int64_t bytes, const char *name) {
  auto *loaded = new LoadedModule;
  loaded->name = name ? name : "(unnamed)";
  if (failed())
    return loaded;
  std::string error;
  Context *ctx = context(&error);
  if (!ctx) {
    record(error);
    return loaded;
  }
  const char *text = static_cast<const char *>(image);
  std::string data = bytes > 0 ? std::string(text, static_cast<size_t>(bytes))
                               : std::string(text);
  auto module = ctx->loadModule(data, loaded->name);
  if (module.ok())
    loaded->module = std::move(*module);
  else
    record(module.error());
  return loaded;
}

void moduleUnload(void *module) { delete static_cast<LoadedModule *>(module); }

void *moduleGetFunction(void *module, const char *name) {
  auto *loaded = static_cast<LoadedModule *>(module);
  std::lock_guard<std::mutex> lock(loaded->mutex);
  auto it = loaded->kernels.find(name);
  if (it != loaded->kernels.end())
    return it->second.get();
  // Looked up even after an error (cheap, and nothing stale is kept); only
  // kernels that were found are cached.
  auto kernel = loaded->module.kernel(name);
  if (!kernel.ok()) {
    record(kernel.error());
    loaded->missing = Kernel{name, loaded->name, nullptr};
    return &loaded->missing;
  }
  std::unique_ptr<Kernel> &slot = loaded->kernels[name];
  slot = std::make_unique<Kernel>(*kernel);
  return slot.get();
}

/// The kernels launched on each live stream, for synchronisation errors.
thread_local std::unordered_map<void *, std::string> launchedOn;

void launchKernel(void *kernel, int64_t gridX, int64_t gridY, int64_t gridZ,
                  int64_t blockX, int64_t blockY, int64_t blockZ, int32_t smem,
                  void *stream, void **params, void ** /*extra*/,
                  int64_t /*paramCount*/) {
  if (failed())
    return;
  const Kernel &k = *static_cast<Kernel *>(kernel);
  LaunchDims dims;
  dims.gridX = static_cast<unsigned>(gridX);
  dims.gridY = static_cast<unsigned>(gridY);
  dims.gridZ = static_cast<unsigned>(gridZ);
  dims.blockX = static_cast<unsigned>(blockX);
  dims.blockY = static_cast<unsigned>(blockY);
  dims.blockZ = static_cast<unsigned>(blockZ);
  dims.sharedBytes = static_cast<unsigned>(smem);
  if (Status s = context()->launch(k, dims, params, stream); !s) {
    record(s.message());
    return;
  }
  std::string &names = launchedOn[stream];
  names = "after kernel '" + k.name + "' in module '" + k.module + "'";
}

void *streamCreate() {
  if (failed())
    return nullptr;
  auto stream = context()->createStream();
  if (!stream.ok()) {
    record(stream.error());
    return nullptr;
  }
  return *stream;
}

void streamSynchronize(void *stream) {
  if (failed())
    return;
  auto it = launchedOn.find(stream);
  std::string after = it != launchedOn.end() ? it->second : "nothing launched";
  if (Status s = context()->synchronizeStream(stream, after); !s)
    record(s.message());
}

void streamDestroy(void *stream) {
  launchedOn.erase(stream);
  if (stream && context())
    if (Status s = context()->destroyStream(stream); !s)
      record(s.message());
}

//===----------------------------------------------------------------------===//
// Memory: managed, with host memory as the fallback after an error.
//===----------------------------------------------------------------------===//

std::mutex hostFallbackMutex;
std::unordered_set<void *> hostFallback;

void *alloc(int64_t bytes) {
  if (bytes <= 0)
    bytes = 1;
  std::string error;
  Context *ctx = context(&error);
  if (!ctx) {
    record(error);
  } else if (!failed()) {
    auto p = ctx->allocateManaged(static_cast<size_t>(bytes));
    if (p.ok())
      return *p;
    record(p.error());
  }
  // The host code goes on (its kernels are no longer launched) and must not
  // write through a null pointer; the error is reported when the call ends.
  void *p = std::malloc(static_cast<size_t>(bytes));
  std::lock_guard<std::mutex> lock(hostFallbackMutex);
  hostFallback.insert(p);
  return p;
}

void release(void *address) {
  if (!address)
    return;
  {
    std::lock_guard<std::mutex> lock(hostFallbackMutex);
    if (hostFallback.erase(address)) {
      std::free(address);
      return;
    }
  }
  if (Context *ctx = context())
    if (Status s = ctx->freeManaged(address); !s)
      record(s.message());
}

/// The runtime's side of every import (runtime/CompiledCudaAbi.h).
void *implementation(const std::string &name) {
  static const std::map<std::string, void *> table = {
      {cuda_abi::kModuleLoad, reinterpret_cast<void *>(&moduleLoad)},
      {"mgpuModuleUnload", reinterpret_cast<void *>(&moduleUnload)},
      {"mgpuModuleGetFunction", reinterpret_cast<void *>(&moduleGetFunction)},
      {"mgpuLaunchKernel", reinterpret_cast<void *>(&launchKernel)},
      {"mgpuStreamCreate", reinterpret_cast<void *>(&streamCreate)},
      {"mgpuStreamSynchronize", reinterpret_cast<void *>(&streamSynchronize)},
      {"mgpuStreamDestroy", reinterpret_cast<void *>(&streamDestroy)},
      {cuda_abi::kAlloc, reinterpret_cast<void *>(&alloc)},
      {cuda_abi::kFree, reinterpret_cast<void *>(&release)},
  };
  auto it = table.find(name);
  return it == table.end() ? nullptr : it->second;
}

} // namespace

bool isCompiledCudaLibrary(void *library) {
  return library && ::dlsym(library, cuda_abi::kLoadModulesSymbol);
}

Expected<Context *> compiledCodeContext() {
  std::string error;
  if (Context *ctx = context(&error))
    return ctx;
  return Status::error(error);
}

Status bindCompiledLibrary(void *library, const std::string &what) {
  const char *imports =
      static_cast<const char *>(::dlsym(library, cuda_abi::kImportsSymbol));
  auto load = reinterpret_cast<void (*)()>(::dlsym(library, cuda_abi::kLoadModulesSymbol));
  if (!imports || !load)
    return Status::error(what + " is not a CUDA artifact's library (no " +
                         cuda_abi::kImportsSymbol + " / " +
                         cuda_abi::kLoadModulesSymbol + ")");
  // Fill every slot before anything runs, so no call goes through a null one.
  for (const char *name = imports; *name; name += std::strlen(name) + 1) {
    void *fn = implementation(name);
    if (!fn)
      return Status::error(what + " calls '" + std::string(name) +
                           "', which this runtime does not provide");
    std::string slotName = std::string(cuda_abi::kSlotPrefix) + name;
    auto *slot = static_cast<void **>(::dlsym(library, slotName.c_str()));
    if (!slot)
      return Status::error(what + " imports '" + std::string(name) +
                           "' but has no slot '" + slotName + "'");
    *slot = fn;
  }
  Expected<Context *> ctx = compiledCodeContext();
  if (!ctx)
    return Status::error(what + " was compiled for CUDA, but " + ctx.error());
  takeCompiledCodeError();
  load();
  std::string error = takeCompiledCodeError();
  if (!error.empty()) {
    unbindCompiledLibrary(library);
    return Status::error(what + ": loading its kernels failed: " + error);
  }
  return Status::success();
}

void unbindCompiledLibrary(void *library) {
  if (auto unload = reinterpret_cast<void (*)()>(
          ::dlsym(library, cuda_abi::kUnloadModulesSymbol)))
    unload();
}

std::string takeCompiledCodeError() {
  std::string e = std::move(pendingError);
  pendingError.clear();
  return e;
}

} // namespace pce::rt::cuda
