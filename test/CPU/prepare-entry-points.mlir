// RUN: pce-opt %s -pce-prepare-entry-points | FileCheck %s

// Public functions get a C interface and read-only tensor arguments (the
// runtime reuses inputs and weights across calls); private ones do not.
// CHECK-LABEL: func.func @forward
// CHECK-SAME: (%{{.*}}: tensor<4xf32> {bufferization.writable = false, pce.input = "x"}, %{{.*}}: index)
// CHECK-SAME: attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func private @helper
// CHECK-SAME: (%{{.*}}: tensor<4xf32>) -> tensor<4xf32> {
func.func @forward(%x: tensor<4xf32> {pce.input = "x"}, %i: index) -> tensor<4xf32> {
  %y = func.call @helper(%x) : (tensor<4xf32>) -> tensor<4xf32>
  return %y : tensor<4xf32>
}
func.func private @helper(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
