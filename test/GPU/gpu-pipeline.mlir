// RUN: pce-opt %s --pce-gpu-pipeline --mlir-print-ir-after=convert-parallel-loops-to-gpu 2>&1 >/dev/null | FileCheck %s --check-prefix=LAUNCH
// RUN: pce-opt %s --pce-gpu-pipeline --mlir-print-ir-after=gpu-kernel-outlining 2>&1 >/dev/null | FileCheck %s --check-prefix=OUTLINED
// RUN: pce-opt %s --pce-gpu-pipeline --mlir-print-ir-after=convert-gpu-to-nvvm 2>&1 >/dev/null | FileCheck %s --check-prefix=NVVM
// RUN: pce-opt %s --pce-gpu-pipeline | FileCheck %s
// RUN: pce-opt %s --pce-gpu-pipeline="block-size=128" --mlir-print-ir-after=gpu-kernel-outlining 2>&1 >/dev/null | FileCheck %s --check-prefix=BLOCK128
//
// The pce.layer of test/Pipelines/cpu-pipeline.mlir, compiled for the GPU
// (docs/GPU.md): every linalg op becomes one parallel loop nest collapsed to
// one dimension, tiled by the block size, and launched as one kernel (11 for
// this layer: 3 fills, broadcast, 5 generics, the convolution, the
// transpose); the kernels are lowered to NVVM and assembled to PTX for
// sm_90, the host side to the LLVM dialect.

// LAUNCH-LABEL: IR Dump After ConvertParallelLoopToGpu
// LAUNCH-NOT: scf.parallel
// LAUNCH-COUNT-11: gpu.launch blocks
// LAUNCH-NOT: gpu.launch blocks
// LAUNCH-NOT: scf.parallel
// LAUNCH: return

// The first kernel builds the 2x4x5x6x6 = 1440 patch elements: 6 blocks of
// 256 threads along x.
// OUTLINED-LABEL: IR Dump After GpuKernelOutliningPass
// OUTLINED: func.func @forward(
// OUTLINED: gpu.launch_func @forward_kernel::@forward_kernel blocks in (%c6, %c1, %c1) threads in (%c256, %c1, %c1)
// OUTLINED: gpu.module @forward_kernel
// OUTLINED: gpu.func @forward_kernel({{.*}}) kernel
// OUTLINED: gpu.block_id x
// OUTLINED: gpu.thread_id x
// BLOCK128: gpu.launch_func @forward_kernel::@forward_kernel blocks in (%c12, %c1, %c1) threads in (%c128, %c1, %c1)

// NVVM: gpu.module @forward_kernel [#nvvm.target<chip = "sm_90", features = "+ptx80">]
// NVVM: llvm.func @forward_kernel({{.*}}) attributes {gpu.kernel{{.*}}nvvm.kernel
// NVVM-DAG: nvvm.read.ptx.sreg.ctaid.x
// NVVM-DAG: nvvm.read.ptx.sreg.tid.x

// Host: LLVM dialect with the C interface of the CPU pipeline; no pce,
// linalg or scf op is left; 11 PTX modules for sm_90.
// CHECK-NOT: pce.layer
// CHECK-NOT: linalg.
// CHECK-NOT: scf.
// CHECK: llvm.func @forward(
// CHECK-COUNT-11: gpu.launch_func @forward_kernel{{(_[0-9]+)?}}::@forward_kernel
// CHECK: llvm.func @_mlir_ciface_forward(%{{.*}}: !llvm.ptr {pce.input = "x"}, %{{.*}}: !llvm.ptr {pce.param = "k"}, %{{.*}}: !llvm.ptr {pce.param = "s"}, %{{.*}}: !llvm.ptr {pce.output = "y"})
// CHECK: gpu.binary @forward_kernel [#gpu.object<#nvvm.target<chip = "sm_90", features = "+ptx80">, {{.*}}assembly = "{{.*}}.target sm_90{{.*}}.visible .entry forward_kernel(
// CHECK-COUNT-10: gpu.binary @forward_kernel_{{[0-9]+}} [#gpu.object<#nvvm.target<chip = "sm_90"{{.*}}.target sm_90
func.func @forward(%x: tensor<2x1x8x8xf32> {pce.input = "x"},
                   %k: tensor<2x4x5x3x3xf32> {pce.param = "k"},
                   %s: tensor<2x4xf32> {pce.param = "s"})
    -> (tensor<2x4x8x8xf32> {pce.output = "y"}) {
  %y = pce.layer %x patch [4, 4] router position top_k 1
         experts(%k : tensor<2x4x5x3x3xf32>) affine(%s, %s : tensor<2x4xf32>, tensor<2x4xf32>)
         : tensor<2x1x8x8xf32>
  return %y : tensor<2x4x8x8xf32>
}
