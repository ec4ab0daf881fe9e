//===- CudaArtifactTest.cpp - `pce-compile --target cuda` artifacts -------===//
//
// Three kinds of test, each ctest entry in its own process (the runtime keeps
// one CUDA context per process):
//  - everywhere: the artifact compiles and links here, and opening it without
//    a driver says why;
//  - everywhere, on fake_cuda_driver.c (a driver that runs no kernels): the
//    host side — module loads, kernel look-ups, one launch and one
//    synchronisation per kernel, managed memory all freed, streams all
//    destroyed, modules unloaded — and every error path, whose message must
//    name the kernel or module;
//  - on a machine with an NVIDIA GPU only (SKIP with the reason elsewhere):
//    the results against the float64 reference, as the CPU tests do.
//
//===----------------------------------------------------------------------===//
#include "test/agreement/Harness.h"
#include "runtime/reference/Layers.h"
#include "runtime/reference/Reference.h"
#include "runtime/Cuda.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

using namespace pce;
using namespace pce::agree;

namespace {

auto f64 = torch::kFloat64;

struct FakeStats {
  int modulesLoaded, modulesUnloaded;
  int functionsFound, launches, badLaunches;
  int managedLive, managedTotal, foreignFrees;
  int streamsLive, synchronizations;
};

/// The fake driver, opened by path: the runtime's dlopen of the same path
/// gets the same library and so the same counters.
struct FakeDriver {
  void *handle = nullptr;
  FakeStats (*stats)() = nullptr;
  void (*reset)() = nullptr;
  void (*fail)(const char *, int) = nullptr;

  FakeDriver() {
    ::setenv("PCE_CUDA_DRIVER", PCE_FAKE_CUDA_DRIVER, 1);
    handle = ::dlopen(PCE_FAKE_CUDA_DRIVER, RTLD_NOW | RTLD_LOCAL);
    if (!handle)
      return;
    stats = reinterpret_cast<FakeStats (*)()>(::dlsym(handle, "fake_cuda_stats"));
    reset = reinterpret_cast<void (*)()>(::dlsym(handle, "fake_cuda_reset"));
    fail = reinterpret_cast<void (*)(const char *, int)>(::dlsym(handle, "fake_cuda_fail"));
  }
  bool ok() const { return stats && reset && fail; }
};

/// A dense PCE layer (every expert runs) or a top-1 one, on 2 images.
struct TestLayer {
  ModelText model;
  BuiltLayer layer;
};

TestLayer makeLayer(int64_t topK) {
  TestLayer t;
  std::vector<int64_t> xs = {2, 3, 12, 8};
  std::string x = t.model.input("x", torch::randn(xs, f64));
  LayerSpec s;
  s.router = ref::RouterKind::Cosine;
  s.topK = topK;
  s.outChannels = 6;
  t.layer = addLayer(t.model, "layer0", x, xs, s);
  t.model.output("y", t.layer.ssa, t.layer.shape);
  return t;
}

rt::TensorMap hostInputs(const ModelText &model) {
  rt::TensorMap inputs;
  for (const auto &[name, value] : model.values())
    inputs[name] = toHost(value);
  return inputs;
}

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST(CudaArtifact, CompilesHereAndExportsTheRuntimeAbi) {
  freshSeed();
  TestLayer t = makeLayer(0);
  ASSERT_TRUE(writeArtifact(t.model, "cuda_abi", "--target cuda"));
  std::string lib = artifactDir("cuda_abi") + "/model.so";
  void *handle = ::dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_TRUE(handle) << ::dlerror();
  // Nothing ran at dlopen (no constructors), and the loads are exported.
  EXPECT_TRUE(::dlsym(handle, "pce_cuda_load_modules"));
  EXPECT_TRUE(::dlsym(handle, "pce_cuda_unload_modules"));
  EXPECT_TRUE(::dlsym(handle, "__pce_cuda_mgpuLaunchKernel"));
  EXPECT_TRUE(::dlsym(handle, "__pce_cuda_pceCudaAlloc"));
  const char *imports = static_cast<const char *>(::dlsym(handle, "pce_cuda_imports"));
  ASSERT_TRUE(imports);
  std::vector<std::string> names;
  for (const char *n = imports; *n; n += std::strlen(n) + 1)
    names.push_back(n);
  EXPECT_NE(std::find(names.begin(), names.end(), "pceCudaModuleLoad"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "mgpuStreamSynchronize"), names.end());
  ::dlclose(handle);
}

TEST(CudaArtifact, WithoutADriverOpeningSaysWhy) {
  freshSeed();
  TestLayer t = makeLayer(0);
  ASSERT_TRUE(writeArtifact(t.model, "cuda_nodriver", "--target cuda"));
  ::setenv("PCE_CUDA_DRIVER", "/nonexistent/libcuda.so.1", 1);
  auto artifact = rt::Artifact::open(artifactDir("cuda_nodriver"));
  ASSERT_FALSE(artifact.ok());
  EXPECT_TRUE(contains(artifact.error(), "library model.so was compiled for CUDA, but CUDA "
                                         "driver not available: dlopen(/nonexistent/libcuda.so.1)"))
      << artifact.error();
}

TEST(CudaArtifact, HostSideOnAFakeDriver) {
  freshSeed();
  FakeDriver fake;
  ASSERT_TRUE(fake.ok()) << ::dlerror();
  for (int64_t topK : {0, 1}) {
    fake.reset();
    TestLayer t = makeLayer(topK);
    std::string tag = "cuda_fake_top" + std::to_string(topK);
    ASSERT_TRUE(writeArtifact(t.model, tag, "--target cuda"));
    {
      auto artifact = rt::Artifact::open(artifactDir(tag));
      ASSERT_TRUE(artifact.ok()) << artifact.error();
      FakeStats opened = fake.stats();
      EXPECT_GT(opened.modulesLoaded, 5) << "one module per kernel";
      EXPECT_EQ(opened.launches, 0);
      for (int call = 1; call <= 2; ++call) {
        FakeStats before = fake.stats();
        auto out = artifact->run("forward", hostInputs(t.model));
        ASSERT_TRUE(out.ok()) << out.error();
        EXPECT_EQ(out->at("y").shape, t.layer.shape);
        FakeStats after = fake.stats();
        // Every module's kernel once per call, each followed by a wait.
        EXPECT_EQ(after.launches - before.launches, opened.modulesLoaded) << "call " << call;
        EXPECT_EQ(after.synchronizations - before.synchronizations, opened.modulesLoaded);
        EXPECT_EQ(after.badLaunches, 0);
        // Arguments, results and every temporary were managed memory, all freed.
        EXPECT_GT(after.managedTotal - before.managedTotal, 2);
        EXPECT_EQ(after.managedLive, 0);
        EXPECT_EQ(after.foreignFrees, 0);
        EXPECT_EQ(after.streamsLive, 0);
      }
      // Each kernel looked up once, then cached.
      EXPECT_EQ(fake.stats().functionsFound, opened.modulesLoaded);
    }
    EXPECT_EQ(fake.stats().modulesUnloaded, fake.stats().modulesLoaded) << "closing unloads";
  }
}

// The training functions (<f>_train, <f>_backward) compile for CUDA too; on
// the fake driver every entry point runs and launches kernels (some inside
// host loops, so launches outnumber modules), waits for each, and frees
// everything.
TEST(CudaArtifact, TrainingEntryPointsOnAFakeDriver) {
  freshSeed();
  FakeDriver fake;
  ASSERT_TRUE(fake.ok()) << ::dlerror();
  fake.reset();
  TestLayer t = makeLayer(1);
  t.model.setDifferentiable();
  ASSERT_TRUE(writeArtifact(t.model, "cuda_fake_training", "--target cuda"));
  auto artifact = rt::Artifact::open(artifactDir("cuda_fake_training"));
  ASSERT_TRUE(artifact.ok()) << artifact.error();
  int modules = fake.stats().modulesLoaded;
  std::vector<std::string> entries;
  for (const rt::EntryPoint &ep : artifact->manifest().entryPoints) {
    entries.push_back(ep.name);
    // The kernels do not run here: any values of the right types do.
    rt::TensorMap inputs;
    for (const rt::BufferSpec &a : ep.arguments) {
      auto h = rt::HostTensor::create(a.dtype, a.shape);
      ASSERT_TRUE(h.ok()) << h.error();
      if (a.dtype == rt::DType::F32) {
        auto values = torch::randn({static_cast<int64_t>(h->numel())}, torch::kFloat32);
        std::memcpy(h->data.data(), values.data_ptr(), h->nbytes());
      }
      inputs[a.name] = std::move(*h);
    }
    int before = fake.stats().launches;
    auto out = artifact->run(ep.name, inputs);
    ASSERT_TRUE(out.ok()) << ep.name << ": " << out.error();
    EXPECT_EQ(out->size(), ep.results.size()) << ep.name;
    EXPECT_GT(fake.stats().launches, before) << ep.name;
  }
  EXPECT_NE(std::find(entries.begin(), entries.end(), "forward_backward"), entries.end());
  FakeStats after = fake.stats();
  EXPECT_LE(after.functionsFound, modules);
  EXPECT_GE(after.launches, after.functionsFound);
  EXPECT_EQ(after.synchronizations, after.launches);
  EXPECT_EQ(after.badLaunches, 0);
  EXPECT_EQ(after.managedLive, 0);
  EXPECT_EQ(after.streamsLive, 0);
}

TEST(CudaArtifact, ErrorsNameTheKernelOrModuleAndLoseNothing) {
  freshSeed();
  FakeDriver fake;
  ASSERT_TRUE(fake.ok()) << ::dlerror();
  TestLayer t = makeLayer(0);
  ASSERT_TRUE(writeArtifact(t.model, "cuda_errors", "--target cuda"));

  // A module the driver refuses: open fails and names it.
  fake.reset();
  fake.fail("load", 3);
  auto refused = rt::Artifact::open(artifactDir("cuda_errors"));
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(contains(refused.error(), "loading its kernels failed: cuModuleLoadData(module "
                                        "'forward_kernel_1'): CUDA_ERROR_INVALID_VALUE"))
      << refused.error();
  EXPECT_EQ(fake.stats().modulesUnloaded, fake.stats().modulesLoaded);

  fake.reset();
  auto artifact = rt::Artifact::open(artifactDir("cuda_errors"));
  ASSERT_TRUE(artifact.ok()) << artifact.error();

  // A launch the driver refuses: the call fails naming the kernel, the
  // kernels after it are skipped, nothing leaks.
  fake.fail("launch", 2);
  auto failed = artifact->run("forward", hostInputs(t.model));
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(contains(failed.error(), "entry point 'forward': cuLaunchKernel(kernel "
                                       "'forward_kernel' in module 'forward_kernel_0', grid "))
      << failed.error();
  EXPECT_TRUE(contains(failed.error(), "CUDA_ERROR_LAUNCH_FAILED")) << failed.error();
  EXPECT_EQ(fake.stats().launches, 1);
  EXPECT_EQ(fake.stats().managedLive, 0);
  EXPECT_EQ(fake.stats().streamsLive, 0);

  // A kernel that faults shows at the wait after it.
  fake.reset();
  fake.fail("sync", 3);
  failed = artifact->run("forward", hostInputs(t.model));
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(contains(failed.error(), "cuStreamSynchronize(after kernel 'forward_kernel' in "
                                       "module 'forward_kernel_1'): CUDA_ERROR_ILLEGAL_ADDRESS"))
      << failed.error();
  EXPECT_EQ(fake.stats().managedLive, 0);

  // The error does not stick: the next call runs.
  fake.reset();
  EXPECT_TRUE(artifact->run("forward", hostInputs(t.model)).ok());
}

TEST(CudaArtifact, MatchesTheReferenceOnAGpu) {
  ::unsetenv("PCE_CUDA_DRIVER");
  if (!rt::cuda::cudaAvailable())
    GTEST_SKIP() << "no CUDA GPU here: " << rt::cuda::cudaUnavailableReason();
  freshSeed();
  for (int64_t topK : {0, 1}) {
    TestLayer t = makeLayer(topK);
    std::string tag = "cuda_gpu_top" + std::to_string(topK);
    auto artifact = compile(t.model, tag, "--target cuda");
    ASSERT_TRUE(artifact);
    auto got = run(*artifact, t.model);
    ASSERT_TRUE(got.count("y"));
    auto ref = ref::layer(t.model.value("x"), t.layer.config, t.layer.params);
    double error = relativeError(got.at("y"), ref.out);
    report("layer on the GPU, top_k " + std::to_string(topK), error);
    EXPECT_LE(error, kTolerance) << "top_k " << topK;
  }
}
