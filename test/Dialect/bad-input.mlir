// Bad input gets a diagnostic with its location and a non-zero exit code,
// never a crash.
//
// A file cut off in the middle of an op:
// RUN: head -c 120 %S/Inputs/layer.mlir > %t.truncated.mlir
// RUN: not pce-opt %t.truncated.mlir 2>&1 | FileCheck %s --check-prefix=TRUNC
// TRUNC: truncated.mlir:{{[0-9]+}}:{{[0-9]+}}: error:
// TRUNC-NOT: Stack dump
//
// A pce op that does not exist:
// RUN: not pce-opt %s 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// UNKNOWN: bad-input.mlir:[[@LINE+3]]:8: error: custom op 'pce.convolve' is unknown
// UNKNOWN-NOT: Stack dump
func.func @unknown(%x: tensor<1x1x28x28xf32>) {
  %y = pce.convolve %x : tensor<1x1x28x28xf32>
  return
}
