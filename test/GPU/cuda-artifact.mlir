// pce-compile --target cuda: the layer of gpu-pipeline.mlir as an artifact
// whose host code calls the runtime's CUDA ABI (runtime/CompiledCudaAbi.h):
// no constructor loads modules inside dlopen, every host allocation is
// managed memory, every imported function jumps through a slot the runtime
// fills. Without a driver, pce-run says why and writes nothing.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: pce-compile %S/gpu-pipeline.mlir --target cuda -o %t/art --dump-llvm-ir %t/host.ll | FileCheck %s --check-prefix=COMPILE
// RUN: FileCheck %s < %t/host.ll
// RUN: FileCheck %s --check-prefix=NEGATIVE < %t/host.ll
// RUN: FileCheck %s --check-prefix=MANIFEST < %t/art/manifest.json
// RUN: pce-compile %S/gpu-pipeline.mlir --target cuda --pipeline-options="block-size=128" -o %t/art128 --dump-llvm-ir %t/host128.ll
// RUN: FileCheck %s --check-prefix=BLOCK128 < %t/host128.ll
// RUN: not pce-compile %S/gpu-pipeline.mlir --target cuda --pipeline-options="block-size=0" -o %t/bad 2>&1 | FileCheck %s --check-prefix=BADOPT
// (pce-run opens the artifact before it reads any input.)
// RUN: env PCE_CUDA_DRIVER=%t/no-such-libcuda.so not pce-run %t/art --input %t/x.npy --output %t/y.npy 2>&1 | FileCheck %s --check-prefix=NODRIVER
// RUN: not ls %t/y.npy %t/bad

// COMPILE: pce-compile: {{.*}}gpu-pipeline.mlir -> {{.*}}art (1 entry point(s), 2 parameters)

// Module names travel with the loads (for messages); loads run when the
// runtime calls pce_cuda_load_modules, after filling the slots.
// CHECK-DAG: @__pce_cuda_mgpuLaunchKernel = global ptr null
// CHECK-DAG: @__pce_cuda_pceCudaModuleLoad = global ptr null
// CHECK-DAG: @__pce_cuda_pceCudaAlloc = global ptr null
// CHECK-DAG: @pce_cuda_imports = constant [{{[0-9]+}} x i8] c"{{.*}}mgpuLaunchKernel\00{{.*}}\00\00"
// CHECK-DAG: c"forward_kernel_3\00"
// CHECK-LABEL: define void @forward(
// CHECK: call ptr @pceCudaAlloc(i64
// CHECK: call ptr @mgpuModuleGetFunction(
// CHECK: call void @mgpuLaunchKernel(ptr %{{.*}}, i64 6, i64 1, i64 1, i64 256, i64 1, i64 1, i32 0,
// CHECK: call void @mgpuStreamSynchronize(
// CHECK: call void @pceCudaFree(
// CHECK-LABEL: define internal void @forward_kernel_load()
// CHECK-NEXT: entry:
// CHECK-NEXT: call ptr @pceCudaModuleLoad(ptr @forward_kernel_binary, i64 0, ptr @pce_cuda_module_name
// CHECK-LABEL: define internal void @mgpuLaunchKernel(ptr %0, i64 %1, i64 %2, i64 %3, i64 %4, i64 %5, i64 %6, i32 %7, ptr %8, ptr %9, ptr %10, i64 %11)
// CHECK-NEXT: entry:
// CHECK-NEXT: %[[FN:.*]] = load ptr, ptr @__pce_cuda_mgpuLaunchKernel
// CHECK-NEXT: call void %[[FN]](ptr %0, i64 %1,
// CHECK-LABEL: define void @pce_cuda_load_modules()
// CHECK-NEXT: entry:
// CHECK-NEXT: call void @forward_kernel_load()
// CHECK-NEXT: call void @forward_kernel_0_load()
// CHECK-LABEL: define void @pce_cuda_unload_modules()
// CHECK-NEXT: entry:
// CHECK-NEXT: call void @forward_kernel_unload()

// NEGATIVE-NOT: llvm.global_ctors
// NEGATIVE-NOT: llvm.global_dtors
// NEGATIVE-NOT: @malloc
// NEGATIVE-NOT: @free(
// NEGATIVE-NOT: mgpuModuleLoadJIT

// MANIFEST: "target": "cuda"

// BLOCK128: call void @mgpuLaunchKernel(ptr %{{.*}}, i64 12, i64 1, i64 1, i64 128, i64 1, i64 1, i32 0,

// BADOPT: pce-gpu-pipeline: block-size must be positive, not 0

// NODRIVER: pce-run: error: artifact {{.*}}art: library model.so was compiled for CUDA, but CUDA driver not available: dlopen({{.*}}no-such-libcuda.so) failed
