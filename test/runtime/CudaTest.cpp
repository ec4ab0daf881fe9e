//===- CudaTest.cpp - the dlopen'd CUDA driver backend --------------------===//
//
// Error paths run everywhere (no driver, a library that is not a driver, the
// link-time stub); the device tests run only where cudaAvailable() and SKIP
// with the reason otherwise.
//
//===----------------------------------------------------------------------===//
#include "runtime/Cuda.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <string>
#include <vector>

using namespace pce::rt::cuda;

namespace {

#define SKIP_WITHOUT_GPU()                                                     \
  do {                                                                         \
    if (!cudaAvailable())                                                      \
      GTEST_SKIP() << "no CUDA GPU here: " << cudaUnavailableReason();        \
  } while (0)

bool exists(const std::string &path) { return std::ifstream(path).good(); }

// c[i] = a[i] + b[i] for i < n, one thread per element. PTX 7.0 for sm_50 so
// that any driver of the last years JIT-compiles it for its device.
const char kAddPtx[] = R"(
.version 7.0
.target sm_50
.address_size 64

.visible .entry add(.param .u64 a, .param .u64 b, .param .u64 c, .param .u32 n)
{
  .reg .pred %p<2>;
  .reg .b32 %r<6>;
  .reg .f32 %f<4>;
  .reg .b64 %rd<11>;
  ld.param.u64 %rd1, [a];
  ld.param.u64 %rd2, [b];
  ld.param.u64 %rd3, [c];
  ld.param.u32 %r2, [n];
  mov.u32 %r3, %ctaid.x;
  mov.u32 %r4, %ntid.x;
  mov.u32 %r5, %tid.x;
  mad.lo.s32 %r1, %r3, %r4, %r5;
  setp.ge.s32 %p1, %r1, %r2;
  @%p1 bra DONE;
  cvta.to.global.u64 %rd4, %rd1;
  cvta.to.global.u64 %rd5, %rd2;
  cvta.to.global.u64 %rd6, %rd3;
  mul.wide.s32 %rd7, %r1, 4;
  add.s64 %rd8, %rd4, %rd7;
  add.s64 %rd9, %rd5, %rd7;
  add.s64 %rd10, %rd6, %rd7;
  ld.global.f32 %f1, [%rd8];
  ld.global.f32 %f2, [%rd9];
  add.f32 %f3, %f1, %f2;
  st.global.f32 [%rd10], %f3;
DONE:
  ret;
}
)";

} // namespace

TEST(Cuda, NoDriverIsAnErrorValue) {
  auto ctx = Context::create(0, "/nonexistent/libcuda.so.1");
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.error().find("CUDA driver not available"), std::string::npos) << ctx.error();
  EXPECT_NE(ctx.error().find("dlopen(/nonexistent/libcuda.so.1)"), std::string::npos)
      << ctx.error();
}

TEST(Cuda, LibraryThatIsNotADriver) {
  // Any shared object without the driver's entry points.
  auto ctx = Context::create(0, PCE_FAKE_MODEL_SO);
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.error().find("lacks entry points: cuInit"), std::string::npos) << ctx.error();
  EXPECT_NE(ctx.error().find(PCE_FAKE_MODEL_SO), std::string::npos) << ctx.error();
}

TEST(Cuda, LinkStubFailsInCuInit) {
  // Where a real driver works, leave the stub alone: its soname is also
  // libcuda.so.1, so once loaded a later dlopen("libcuda.so.1") may find it.
  if (cudaAvailable())
    GTEST_SKIP() << "a real CUDA driver is present";
  const std::string stub = "/usr/local/cuda/lib64/stubs/libcuda.so";
  if (!exists(stub))
    GTEST_SKIP() << "no CUDA toolkit stub at " << stub;
  auto ctx = Context::create(0, stub);
  ASSERT_FALSE(ctx.ok());
  // The stub has every entry point; each returns CUDA_ERROR_STUB_LIBRARY.
  EXPECT_EQ(ctx.error().rfind("cuInit: CUDA_ERROR_STUB_LIBRARY", 0), 0u) << ctx.error();
}

TEST(Cuda, AvailabilityAgreesWithCreate) {
  auto ctx = Context::create();
  EXPECT_EQ(ctx.ok(), cudaAvailable());
  if (!cudaAvailable()) {
    // Not necessarily the same text: another test may have loaded the
    // toolkit's stub (soname libcuda.so.1) in between.
    EXPECT_FALSE(cudaUnavailableReason().empty());
    EXPECT_FALSE(ctx.error().empty());
  } else {
    EXPECT_TRUE(cudaUnavailableReason().empty());
  }
}

TEST(Cuda, BadDeviceOrdinal) {
  SKIP_WITHOUT_GPU();
  auto ctx = Context::create(1 << 20);
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.error().find("does not exist"), std::string::npos) << ctx.error();
}

TEST(Cuda, AddsVectors) {
  SKIP_WITHOUT_GPU();
  auto ctx = Context::create();
  ASSERT_TRUE(ctx.ok()) << ctx.error();
  std::cout << "device: " << ctx->description() << "\n";
  auto module = ctx->loadModule(kAddPtx, "add.ptx");
  ASSERT_TRUE(module.ok()) << module.error();
  auto kernel = module->kernel("add");
  ASSERT_TRUE(kernel.ok()) << kernel.error();

  const unsigned n = 1000;
  std::vector<float> a(n), b(n), c(n, -1.0f);
  for (unsigned i = 0; i < n; ++i) {
    a[i] = float(i);
    b[i] = 0.5f * float(i);
  }
  auto da = ctx->allocate(n * sizeof(float));
  auto db = ctx->allocate(n * sizeof(float));
  auto dc = ctx->allocate(n * sizeof(float));
  ASSERT_TRUE(da.ok() && db.ok() && dc.ok());
  ASSERT_TRUE(da->copyFromHost(a.data(), n * sizeof(float)).ok());
  ASSERT_TRUE(db->copyFromHost(b.data(), n * sizeof(float)).ok());
  std::uint64_t pa = da->address(), pb = db->address(), pc = dc->address();
  unsigned count = n;
  LaunchDims dims;
  dims.gridX = (n + 255) / 256;
  dims.blockX = 256;
  pce::rt::Status launched = ctx->launch(*kernel, dims, {&pa, &pb, &pc, &count});
  ASSERT_TRUE(launched.ok()) << launched.message();
  pce::rt::Status synced = ctx->synchronize();
  ASSERT_TRUE(synced.ok()) << synced.message();
  ASSERT_TRUE(dc->copyToHost(c.data(), n * sizeof(float)).ok());
  for (unsigned i = 0; i < n; ++i)
    ASSERT_EQ(c[i], 1.5f * float(i)) << "at " << i;
}

TEST(Cuda, ErrorsNameTheCallAndKernel) {
  SKIP_WITHOUT_GPU();
  auto ctx = Context::create();
  ASSERT_TRUE(ctx.ok()) << ctx.error();
  auto bad = ctx->loadModule(".version 7.0\n.target sm_50\nthis is not ptx\n", "broken.ptx");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("cuModuleLoadData(module 'broken.ptx')"), std::string::npos)
      << bad.error();
  auto module = ctx->loadModule(kAddPtx, "add.ptx");
  ASSERT_TRUE(module.ok()) << module.error();
  auto missing = module->kernel("forward_kernel");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("cuModuleGetFunction(kernel 'forward_kernel' in module 'add.ptx')"),
            std::string::npos)
      << missing.error();
  auto tooBig = ctx->allocate(std::size_t(1) << 62);
  ASSERT_FALSE(tooBig.ok());
  EXPECT_NE(tooBig.error().find("cuMemAlloc("), std::string::npos) << tooBig.error();
}
