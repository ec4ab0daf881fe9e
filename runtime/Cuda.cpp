//===- Cuda.cpp - A CUDA driver backend loaded at run time ----------------===//
//
// The driver API is declared here by hand (only the handful of calls used,
// with their ABI names: the `_v2` entry points of the 64-bit API) and resolved
// with dlsym, so neither CUDA's headers nor its libraries are needed to build.
//
//===----------------------------------------------------------------------===//
#include "runtime/Cuda.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <sstream>
#include <utility>

namespace pce::rt::cuda {

namespace {
using CUresult = int;
using CUdevice = int;
using CUcontext = void *;
using CUmodule = void *;
using CUfunction = void *;
using CUdeviceptr = unsigned long long;
using CUstream = void *;

constexpr CUresult CUDA_SUCCESS = 0;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
constexpr int CU_JIT_ERROR_LOG_BUFFER = 5;
constexpr int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
constexpr unsigned CU_MEM_ATTACH_GLOBAL = 1;
constexpr unsigned CU_STREAM_NON_BLOCKING = 1;
} // namespace

/// Names for the errors seen when there is no usable driver, for when the
/// library cannot name them itself (the toolkit's stub cannot).
void knownError(CUresult r, const char *&name, const char *&text) {
  switch (r) {
  case 3: name = "CUDA_ERROR_NOT_INITIALIZED"; text = "initialization error"; break;
  case 34:
    name = "CUDA_ERROR_STUB_LIBRARY";
    text = "this libcuda is the CUDA toolkit's link-time stub, not a driver";
    break;
  case 35: name = "CUDA_ERROR_INSUFFICIENT_DRIVER"; text = "driver older than the runtime"; break;
  case 100: name = "CUDA_ERROR_NO_DEVICE"; text = "no CUDA-capable device is detected"; break;
  default: break;
  }
}

/// The driver's entry points and one device's primary context.
struct ContextImpl {
  std::string driverPath;
  void *library = nullptr;

  CUresult (*cuInit)(unsigned) = nullptr;
  CUresult (*cuDeviceGetCount)(int *) = nullptr;
  CUresult (*cuDeviceGet)(CUdevice *, int) = nullptr;
  CUresult (*cuDeviceGetName)(char *, int, CUdevice) = nullptr;
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice) = nullptr;
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice) = nullptr;
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice) = nullptr;
  CUresult (*cuCtxSetCurrent)(CUcontext) = nullptr;
  CUresult (*cuCtxSynchronize)() = nullptr;
  CUresult (*cuModuleLoadDataEx)(CUmodule *, const void *, unsigned, int *,
                                 void **) = nullptr;
  CUresult (*cuModuleUnload)(CUmodule) = nullptr;
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *) = nullptr;
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, unsigned, CUstream,
                             void **, void **) = nullptr;
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t) = nullptr;
  CUresult (*cuMemFree)(CUdeviceptr) = nullptr;
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t) = nullptr;
  CUresult (*cuMemcpyDtoH)(void *, CUdeviceptr, size_t) = nullptr;
  CUresult (*cuMemAllocManaged)(CUdeviceptr *, size_t, unsigned) = nullptr;
  CUresult (*cuStreamCreate)(CUstream *, unsigned) = nullptr;
  CUresult (*cuStreamSynchronize)(CUstream) = nullptr;
  CUresult (*cuStreamDestroy)(CUstream) = nullptr;
  CUresult (*cuGetErrorName)(CUresult, const char **) = nullptr;
  CUresult (*cuGetErrorString)(CUresult, const char **) = nullptr;

  CUdevice device = 0;
  int ordinal = 0;
  CUcontext context = nullptr;
  bool retained = false;

  ~ContextImpl() {
    // The library stays loaded: unloading a CUDA driver is not supported
    // well, and other contexts may share it.
    if (retained && cuDevicePrimaryCtxRelease)
      cuDevicePrimaryCtxRelease(device);
  }

  /// "cuMemAlloc(1024 bytes): CUDA_ERROR_OUT_OF_MEMORY (out of memory)".
  std::string describe(const std::string &call, CUresult result) const {
    const char *name = nullptr, *text = nullptr;
    if (cuGetErrorName && cuGetErrorName(result, &name) != CUDA_SUCCESS)
      name = nullptr;
    if (cuGetErrorString && cuGetErrorString(result, &text) != CUDA_SUCCESS)
      text = nullptr;
    if (!name) // the stub and old drivers cannot name their errors
      knownError(result, name, text);
    std::ostringstream os;
    os << call << ": " << (name ? name : "CUDA error " + std::to_string(result));
    if (text)
      os << " (" << text << ")";
    return os.str();
  }
  Status check(const std::string &call, CUresult result) const {
    if (result == CUDA_SUCCESS)
      return Status::success();
    return Status::error(describe(call, result));
  }
  Status makeCurrent() const {
    return check("cuCtxSetCurrent(device " + std::to_string(ordinal) + ")",
                 cuCtxSetCurrent(context));
  }
};

namespace {

/// dlopen + dlsym of every entry point; the error names what is missing.
Expected<std::shared_ptr<ContextImpl>> loadDriver(const std::string &path) {
  auto impl = std::make_shared<ContextImpl>();
  impl->driverPath = path;
  ::dlerror();
  impl->library = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!impl->library) {
    const char *e = ::dlerror();
    return Status::error("CUDA driver not available: dlopen(" + path +
                         ") failed: " + (e ? e : "unknown error") +
                         " (no NVIDIA driver installed?)");
  }
  std::string missing;
  auto resolve = [&](auto &fn, const char *symbol,
                     const char *fallback = nullptr) {
    void *p = ::dlsym(impl->library, symbol);
    if (!p && fallback)
      p = ::dlsym(impl->library, fallback);
    if (!p)
      missing += (missing.empty() ? "" : ", ") + std::string(symbol);
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(p);
  };
  resolve(impl->cuInit, "cuInit");
  resolve(impl->cuDeviceGetCount, "cuDeviceGetCount");
  resolve(impl->cuDeviceGet, "cuDeviceGet");
  resolve(impl->cuDeviceGetName, "cuDeviceGetName");
  resolve(impl->cuDeviceGetAttribute, "cuDeviceGetAttribute");
  resolve(impl->cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
  resolve(impl->cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2",
          "cuDevicePrimaryCtxRelease");
  resolve(impl->cuCtxSetCurrent, "cuCtxSetCurrent");
  resolve(impl->cuCtxSynchronize, "cuCtxSynchronize");
  resolve(impl->cuModuleLoadDataEx, "cuModuleLoadDataEx");
  resolve(impl->cuModuleUnload, "cuModuleUnload");
  resolve(impl->cuModuleGetFunction, "cuModuleGetFunction");
  resolve(impl->cuLaunchKernel, "cuLaunchKernel");
  resolve(impl->cuMemAlloc, "cuMemAlloc_v2");
  resolve(impl->cuMemFree, "cuMemFree_v2");
  resolve(impl->cuMemcpyHtoD, "cuMemcpyHtoD_v2");
  resolve(impl->cuMemcpyDtoH, "cuMemcpyDtoH_v2");
  resolve(impl->cuMemAllocManaged, "cuMemAllocManaged");
  resolve(impl->cuStreamCreate, "cuStreamCreate");
  resolve(impl->cuStreamSynchronize, "cuStreamSynchronize");
  resolve(impl->cuStreamDestroy, "cuStreamDestroy_v2", "cuStreamDestroy");
  resolve(impl->cuGetErrorName, "cuGetErrorName");
  resolve(impl->cuGetErrorString, "cuGetErrorString");
  if (!missing.empty())
    return Status::error("CUDA driver " + path +
                         " lacks entry points: " + missing);
  return impl;
}

/// Driver loaded and initialised, device `ordinal` exists.
Expected<std::shared_ptr<ContextImpl>> openDevice(int ordinal,
                                                  const std::string &path) {
  auto loaded = loadDriver(path);
  if (!loaded)
    return loaded.status();
  std::shared_ptr<ContextImpl> impl = std::move(*loaded);
  if (Status s = impl->check("cuInit", impl->cuInit(0)); !s)
    return s;
  int count = 0;
  if (Status s = impl->check("cuDeviceGetCount", impl->cuDeviceGetCount(&count)); !s)
    return s;
  if (ordinal < 0 || ordinal >= count)
    return Status::error("CUDA device " + std::to_string(ordinal) +
                         " does not exist (" + std::to_string(count) +
                         " device(s))");
  impl->ordinal = ordinal;
  if (Status s = impl->check("cuDeviceGet(" + std::to_string(ordinal) + ")",
                             impl->cuDeviceGet(&impl->device, ordinal));
      !s)
    return s;
  return impl;
}

struct Availability {
  bool available = false;
  std::string reason;
};

const Availability &availability() {
  static Availability a = [] {
    Availability r;
    auto opened = openDevice(0, driverPath());
    r.available = opened.ok();
    if (!r.available)
      r.reason = opened.error();
    return r;
  }();
  return a;
}

} // namespace

std::string driverPath() {
  const char *path = std::getenv("PCE_CUDA_DRIVER");
  return path && *path ? path : kDefaultDriver;
}

bool cudaAvailable() { return availability().available; }
std::string cudaUnavailableReason() { return availability().reason; }

//===----------------------------------------------------------------------===//
// Context
//===----------------------------------------------------------------------===//

Expected<Context> Context::create(int ordinal, const std::string &driverPath) {
  auto opened = openDevice(ordinal, driverPath);
  if (!opened)
    return opened.status();
  std::shared_ptr<ContextImpl> impl = std::move(*opened);
  if (Status s = impl->check(
          "cuDevicePrimaryCtxRetain(device " + std::to_string(ordinal) + ")",
          impl->cuDevicePrimaryCtxRetain(&impl->context, impl->device));
      !s)
    return s;
  impl->retained = true;
  if (Status s = impl->makeCurrent(); !s)
    return s;
  Context c;
  c.impl_ = std::move(impl);
  return c;
}

int Context::computeCapabilityMajor() const {
  int v = 0;
  impl_->cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                              impl_->device);
  return v;
}

int Context::computeCapabilityMinor() const {
  int v = 0;
  impl_->cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                              impl_->device);
  return v;
}

std::string Context::description() const {
  char name[256] = {0};
  if (impl_->cuDeviceGetName(name, sizeof(name) - 1, impl_->device) != CUDA_SUCCESS)
    std::snprintf(name, sizeof(name), "CUDA device %d", impl_->ordinal);
  return std::string(name) + ", sm_" + std::to_string(computeCapabilityMajor()) +
         std::to_string(computeCapabilityMinor());
}

Expected<Module> Context::loadModule(const std::string &image,
                                     const std::string &name) {
  if (Status s = impl_->makeCurrent(); !s)
    return s;
  // PTX must be NUL-terminated: std::string's buffer is.
  std::vector<char> log(8192, '\0');
  int options[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {log.data(), reinterpret_cast<void *>(log.size() - 1)};
  CUmodule handle = nullptr;
  CUresult r = impl_->cuModuleLoadDataEx(&handle, image.c_str(), 2, options, values);
  if (r != CUDA_SUCCESS) {
    std::string message = impl_->describe("cuModuleLoadData(module '" + name + "')", r);
    if (log[0])
      message += ": " + std::string(log.data());
    return Status::error(message);
  }
  Module m;
  m.ctx_ = impl_;
  m.handle_ = handle;
  m.name_ = name;
  return m;
}

Expected<DeviceBuffer> Context::allocate(std::size_t bytes) {
  if (Status s = impl_->makeCurrent(); !s)
    return s;
  CUdeviceptr p = 0;
  // cuMemAlloc rejects 0 bytes; an empty buffer needs no memory.
  if (bytes)
    if (Status s = impl_->check("cuMemAlloc(" + std::to_string(bytes) + " bytes)",
                                impl_->cuMemAlloc(&p, bytes));
        !s)
      return s;
  DeviceBuffer b;
  b.ctx_ = impl_;
  b.address_ = p;
  b.bytes_ = bytes;
  return b;
}

Status Context::launch(const Kernel &kernel, const LaunchDims &d,
                       const std::vector<void *> &args) {
  std::vector<void *> params(args);
  return launch(kernel, d, params.empty() ? nullptr : params.data(), nullptr);
}

Status Context::launch(const Kernel &kernel, const LaunchDims &d, void **params,
                       void *stream) {
  if (!kernel.handle)
    return Status::error("cuLaunchKernel: kernel '" + kernel.name +
                         "' was not loaded");
  if (Status s = impl_->makeCurrent(); !s)
    return s;
  CUresult r = impl_->cuLaunchKernel(kernel.handle, d.gridX, d.gridY, d.gridZ,
                                     d.blockX, d.blockY, d.blockZ, d.sharedBytes,
                                     stream, params, nullptr);
  if (r == CUDA_SUCCESS)
    return Status::success();
  std::ostringstream call;
  call << "cuLaunchKernel(kernel '" << kernel.name << "' in module '"
       << kernel.module << "', grid " << d.gridX << "x" << d.gridY << "x"
       << d.gridZ << ", block " << d.blockX << "x" << d.blockY << "x"
       << d.blockZ << ")";
  return Status::error(impl_->describe(call.str(), r));
}

Expected<void *> Context::allocateManaged(std::size_t bytes) {
  if (!bytes)
    return static_cast<void *>(nullptr);
  if (Status s = impl_->makeCurrent(); !s)
    return s;
  CUdeviceptr p = 0;
  if (Status s = impl_->check("cuMemAllocManaged(" + std::to_string(bytes) + " bytes)",
                              impl_->cuMemAllocManaged(&p, bytes, CU_MEM_ATTACH_GLOBAL));
      !s)
    return s;
  return reinterpret_cast<void *>(static_cast<std::uintptr_t>(p));
}

Status Context::freeManaged(void *address) {
  if (!address)
    return Status::success();
  if (Status s = impl_->makeCurrent(); !s)
    return s;
  return impl_->check("cuMemFree(managed memory)",
                      impl_->cuMemFree(reinterpret_cast<std::uintptr_t>(address)));
}

Expected<void *> Context::createStream() {
  if (Status s = impl_->makeCurrent(); !s)
    return s;
  CUstream stream = nullptr;
  if (Status s = impl_->check("cuStreamCreate",
                              impl_->cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
      !s)
    return s;
  return stream;
}

Status Context::synchronizeStream(void *stream, const std::string &after) {
  if (Status s = impl_->makeCurrent(); !s)
    return s;
  return impl_->check("cuStreamSynchronize(" + after + ")",
                      impl_->cuStreamSynchronize(stream));
}

Status Context::destroyStream(void *stream) {
  if (!stream)
    return Status::success();
  if (Status s = impl_->makeCurrent(); !s)
    return s;
  return impl_->check("cuStreamDestroy", impl_->cuStreamDestroy(stream));
}

Status Context::synchronize() {
  if (Status s = impl_->makeCurrent(); !s)
    return s;
  return impl_->check("cuCtxSynchronize", impl_->cuCtxSynchronize());
}

//===----------------------------------------------------------------------===//
// Module
//===----------------------------------------------------------------------===//

Module::Module(Module &&o) noexcept
    : ctx_(std::move(o.ctx_)), handle_(std::exchange(o.handle_, nullptr)),
      name_(std::move(o.name_)) {}

Module &Module::operator=(Module &&o) noexcept {
  if (this != &o) {
    Module dying(std::move(*this));
    ctx_ = std::move(o.ctx_);
    handle_ = std::exchange(o.handle_, nullptr);
    name_ = std::move(o.name_);
  }
  return *this;
}

Module::~Module() {
  if (handle_ && ctx_ && ctx_->makeCurrent().ok())
    ctx_->cuModuleUnload(handle_);
}

Expected<Kernel> Module::kernel(const std::string &kernelName) const {
  if (!handle_)
    return Status::error("cuModuleGetFunction(kernel '" + kernelName +
                         "'): no module loaded");
  if (Status s = ctx_->makeCurrent(); !s)
    return s;
  CUfunction f = nullptr;
  if (Status s = ctx_->check("cuModuleGetFunction(kernel '" + kernelName +
                                 "' in module '" + name_ + "')",
                             ctx_->cuModuleGetFunction(&f, handle_,
                                                       kernelName.c_str()));
      !s)
    return s;
  return Kernel{kernelName, name_, f};
}

//===----------------------------------------------------------------------===//
// DeviceBuffer
//===----------------------------------------------------------------------===//

DeviceBuffer::DeviceBuffer(DeviceBuffer &&o) noexcept
    : ctx_(std::move(o.ctx_)), address_(std::exchange(o.address_, 0)),
      bytes_(std::exchange(o.bytes_, 0)) {}

DeviceBuffer &DeviceBuffer::operator=(DeviceBuffer &&o) noexcept {
  if (this != &o) {
    DeviceBuffer dying(std::move(*this));
    ctx_ = std::move(o.ctx_);
    address_ = std::exchange(o.address_, 0);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

DeviceBuffer::~DeviceBuffer() {
  if (address_ && ctx_ && ctx_->makeCurrent().ok())
    ctx_->cuMemFree(address_);
}

Status DeviceBuffer::copyFromHost(const void *host, std::size_t bytes) {
  if (bytes > bytes_)
    return Status::error("cuMemcpyHtoD: " + std::to_string(bytes) +
                         " bytes into a buffer of " + std::to_string(bytes_));
  if (!bytes)
    return Status::success();
  if (Status s = ctx_->makeCurrent(); !s)
    return s;
  return ctx_->check("cuMemcpyHtoD(" + std::to_string(bytes) + " bytes)",
                     ctx_->cuMemcpyHtoD(address_, host, bytes));
}

Status DeviceBuffer::copyToHost(void *host, std::size_t bytes) const {
  if (bytes > bytes_)
    return Status::error("cuMemcpyDtoH: " + std::to_string(bytes) +
                         " bytes from a buffer of " + std::to_string(bytes_));
  if (!bytes)
    return Status::success();
  if (Status s = ctx_->makeCurrent(); !s)
    return s;
  return ctx_->check("cuMemcpyDtoH(" + std::to_string(bytes) + " bytes)",
                     ctx_->cuMemcpyDtoH(host, address_, bytes));
}

} // namespace pce::rt::cuda
