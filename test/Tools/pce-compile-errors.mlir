// pce-compile reports what it cannot compile with the location and a
// non-zero exit code, and writes nothing.
//
// RUN: rm -rf %t && split-file %s %t
// RUN: not pce-compile %t/unnamed.mlir -o %t/out1 2>&1 | FileCheck %s --check-prefix=UNNAMED
// RUN: not pce-compile %t/f16.mlir -o %t/out2 2>&1 | FileCheck %s --check-prefix=F16
// RUN: not pce-compile %t/unnamed.mlir --target rocm -o %t/out3 2>&1 | FileCheck %s --check-prefix=TARGET
// RUN: not pce-compile %t/broken.mlir -o %t/out4 2>&1 | FileCheck %s --check-prefix=BROKEN
// RUN: not pce-compile %t/missing.mlir -o %t/out5 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not pce-compile %pce_src_root/examples/fashion_pce.mlir --pipeline-options="parallel-loop=false" -o %t/out6 2>&1 | FileCheck %s --check-prefix=OPTIONS
// RUN: not ls %t/out1 %t/out2 %t/out3 %t/out4 %t/out5 %t/out6
//
// UNNAMED: unnamed.mlir:1:1: error: argument #1 of @forward needs exactly one of {pce.input = "name"} and {pce.param = "name"}
// F16: f16.mlir:1:1: error: argument 'x' has element type 'f16'; artifacts hold f32 or f64
// TARGET: pce-compile: unknown --target 'rocm' (this build compiles for: cpu, cuda, cuda-emulated)
// BROKEN: broken.mlir:2:24: error: custom op 'pce.patchify' expected 'patch'
// OPTIONS: no such option parallel-loop
// OPTIONS: pce-compile: bad --pipeline-options for pce-cpu-pipeline: 'parallel-loop=false'
// MISSING: pce-compile: cannot open input file '{{.*}}missing.mlir': No such file or directory

//--- unnamed.mlir
func.func @forward(%x: tensor<4xf32> {pce.input = "x"}, %w: tensor<4xf32>) -> (tensor<4xf32> {pce.output = "y"}) {
  %y = arith.mulf %x, %w : tensor<4xf32>
  return %y : tensor<4xf32>
}
//--- f16.mlir
func.func @forward(%x: tensor<4xf16> {pce.input = "x"}) -> (tensor<4xf16> {pce.output = "y"}) {
  return %x : tensor<4xf16>
}
//--- broken.mlir
func.func @forward(%x: tensor<1x1x4x4xf32> {pce.input = "x"}) {
  %p = pce.patchify %x [2, 2] : tensor<1x1x4x4xf32>
  return
}
