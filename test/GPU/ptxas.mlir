// REQUIRES: ptxas
// RUN: rm -rf %t && pce-opt %s --pce-gpu-pipeline | %python %S/Inputs/extract-ptx.py %t --ptxas %ptxas --arch sm_90 | FileCheck %s
// RUN: pce-opt %s --pce-gpu-pipeline="format=bin" | FileCheck %s --check-prefix=CUBIN
//
// Every kernel module of a whole layer is PTX that CUDA's own assembler
// accepts for sm_90 (the PTX is taken from the gpu.binary ops); format=bin
// runs ptxas inside the pipeline and embeds ELF cubins.

// CHECK: assembled forward_kernel
// CHECK: 11 kernel modules

// CUBIN: gpu.binary @forward_kernel [#gpu.object<#nvvm.target<chip = "sm_90", features = "+ptx80">, {{.*}}bin = "\7FELF
func.func @forward(%x: tensor<2x1x8x8xf32> {pce.input = "x"},
                   %k: tensor<2x4x5x3x3xf32> {pce.param = "k"},
                   %s: tensor<2x4xf32> {pce.param = "s"})
    -> (tensor<2x4x8x8xf32> {pce.output = "y"}) {
  %y = pce.layer %x patch [4, 4] router position top_k 1
         experts(%k : tensor<2x4x5x3x3xf32>) affine(%s, %s : tensor<2x4xf32>, tensor<2x4xf32>)
         : tensor<2x1x8x8xf32>
  return %y : tensor<2x4x8x8xf32>
}
