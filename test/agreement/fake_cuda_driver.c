/*===- fake_cuda_driver.c - a CUDA driver that runs nothing ----------------===
 *
 * For CudaArtifactTest: the driver API entry points the runtime resolves,
 * implemented on the host so that the host side of a `--target cuda`
 * artifact (module loads, kernel look-ups, launches, streams, managed
 * memory, error paths) runs without a GPU. Kernels are not executed, so
 * results are meaningless; the counters below and the failure switches are
 * what the test looks at. Managed memory is malloc'd.
 *
 *===----------------------------------------------------------------------===*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;

enum {
  OK = 0,
  INVALID_VALUE = 1,
  NOT_FOUND = 500,
  ILLEGAL_ADDRESS = 700,
  LAUNCH_FAILED = 719,
};

struct FakeStats {
  int modulesLoaded, modulesUnloaded;
  int functionsFound, launches, badLaunches;
  int managedLive, managedTotal, foreignFrees;
  int streamsLive, synchronizations;
};

static struct FakeStats stats;
/* 1-based index of the call to fail, 0 for none. */
static int failLoad, failLaunch, failSync;

struct FakeModule {
  char *image;
};
struct FakeFunction {
  struct FakeModule *module;
};

#define MAX_LIVE 4096
static void *live[MAX_LIVE];

void fake_cuda_reset(void) {
  memset(&stats, 0, sizeof stats);
  failLoad = failLaunch = failSync = 0;
}
void fake_cuda_fail(const char *call, int nth) {
  if (!strcmp(call, "load")) failLoad = nth;
  if (!strcmp(call, "launch")) failLaunch = nth;
  if (!strcmp(call, "sync")) failSync = nth;
}
struct FakeStats fake_cuda_stats(void) { return stats; }

CUresult cuInit(unsigned flags) { (void)flags; return OK; }
CUresult cuDeviceGetCount(int *n) { *n = 1; return OK; }
CUresult cuDeviceGet(int *d, int ordinal) { *d = ordinal; return OK; }
CUresult cuDeviceGetName(char *name, int len, int d) {
  (void)d;
  strncpy(name, "fake CUDA device", (size_t)len);
  return OK;
}
CUresult cuDeviceGetAttribute(int *v, int attribute, int d) {
  (void)d;
  *v = attribute == 75 ? 9 : 0; /* sm_90 */
  return OK;
}
static int fakeContext;
CUresult cuDevicePrimaryCtxRetain(void **ctx, int d) { (void)d; *ctx = &fakeContext; return OK; }
CUresult cuDevicePrimaryCtxRelease_v2(int d) { (void)d; return OK; }
CUresult cuCtxSetCurrent(void *ctx) { return ctx == &fakeContext ? OK : INVALID_VALUE; }
CUresult cuCtxSynchronize(void) { return OK; }

CUresult cuModuleLoadDataEx(void **module, const void *image, unsigned n, int *options,
                            void **values) {
  (void)n; (void)options; (void)values;
  if (failLoad && stats.modulesLoaded + 1 == failLoad)
    return INVALID_VALUE;
  /* The runtime passes PTX text; every kernel module has an entry. */
  if (!strstr((const char *)image, ".entry"))
    return INVALID_VALUE;
  struct FakeModule *m = malloc(sizeof *m);
  m->image = strdup((const char *)image);
  *module = m;
  ++stats.modulesLoaded;
  return OK;
}
CUresult cuModuleUnload(void *module) {
  struct FakeModule *m = module;
  free(m->image);
  free(m);
  ++stats.modulesUnloaded;
  return OK;
}
CUresult cuModuleGetFunction(void **fn, void *module, const char *name) {
  struct FakeModule *m = module;
  char entry[512];
  snprintf(entry, sizeof entry, ".entry %s(", name);
  if (!strstr(m->image, entry))
    return NOT_FOUND;
  struct FakeFunction *f = malloc(sizeof *f); /* one per look-up; the runtime caches */
  f->module = m;
  *fn = f;
  ++stats.functionsFound;
  return OK;
}
CUresult cuLaunchKernel(void *fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                        unsigned by, unsigned bz, unsigned smem, void *stream,
                        void **params, void **extra) {
  (void)smem; (void)stream; (void)extra;
  if (failLaunch && stats.launches + 1 == failLaunch)
    return LAUNCH_FAILED;
  ++stats.launches;
  if (!fn || !params || !gx || !gy || !gz || !bx || !by || !bz || bx * by * bz > 1024)
    ++stats.badLaunches;
  return OK;
}

static int track(void *p) {
  for (int i = 0; i < MAX_LIVE; ++i)
    if (!live[i]) { live[i] = p; return 1; }
  return 0;
}
static int untrack(void *p) {
  for (int i = 0; i < MAX_LIVE; ++i)
    if (live[i] == p) { live[i] = NULL; return 1; }
  return 0;
}
CUresult cuMemAllocManaged(unsigned long long *p, size_t bytes, unsigned flags) {
  (void)flags;
  void *m = malloc(bytes);
  if (!m || !track(m)) { free(m); return 2; /* CUDA_ERROR_OUT_OF_MEMORY */ }
  *p = (unsigned long long)(uintptr_t)m;
  ++stats.managedLive;
  ++stats.managedTotal;
  return OK;
}
CUresult cuMemAlloc_v2(unsigned long long *p, size_t bytes) { return cuMemAllocManaged(p, bytes, 1); }
CUresult cuMemFree_v2(unsigned long long p) {
  void *m = (void *)(uintptr_t)p;
  if (!untrack(m)) { ++stats.foreignFrees; return INVALID_VALUE; }
  free(m);
  --stats.managedLive;
  return OK;
}
CUresult cuMemcpyHtoD_v2(unsigned long long d, const void *h, size_t n) {
  memcpy((void *)(uintptr_t)d, h, n);
  return OK;
}
CUresult cuMemcpyDtoH_v2(void *h, unsigned long long d, size_t n) {
  memcpy(h, (const void *)(uintptr_t)d, n);
  return OK;
}

static int fakeStreams;
CUresult cuStreamCreate(void **stream, unsigned flags) {
  (void)flags;
  *stream = &fakeStreams;
  ++stats.streamsLive;
  return OK;
}
CUresult cuStreamSynchronize(void *stream) {
  (void)stream;
  ++stats.synchronizations;
  if (failSync && stats.synchronizations == failSync)
    return ILLEGAL_ADDRESS;
  return OK;
}
CUresult cuStreamDestroy_v2(void *stream) {
  (void)stream;
  --stats.streamsLive;
  return OK;
}

CUresult cuGetErrorName(CUresult r, const char **name) {
  switch (r) {
  case INVALID_VALUE: *name = "CUDA_ERROR_INVALID_VALUE"; return OK;
  case NOT_FOUND: *name = "CUDA_ERROR_NOT_FOUND"; return OK;
  case ILLEGAL_ADDRESS: *name = "CUDA_ERROR_ILLEGAL_ADDRESS"; return OK;
  case LAUNCH_FAILED: *name = "CUDA_ERROR_LAUNCH_FAILED"; return OK;
  default: return INVALID_VALUE;
  }
}
CUresult cuGetErrorString(CUresult r, const char **text) {
  switch (r) {
  case ILLEGAL_ADDRESS: *text = "an illegal memory access was encountered (fake)"; return OK;
  case LAUNCH_FAILED: *text = "unspecified launch failure (fake)"; return OK;
  default: *text = "fake driver error"; return OK;
  }
}
