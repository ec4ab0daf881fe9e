// RUN: pce-opt %s --pce-gpu-collapse-parallel-loops --canonicalize | FileCheck %s
//
// An outermost multi-dimensional scf.parallel becomes one loop over all its
// points; a one-dimensional loop and nested loops are left alone.

// CHECK-LABEL: func.func @collapse
// CHECK: scf.parallel (%{{.*}}) = (%c0) to (%c60) step (%c1) {
// CHECK-NOT: scf.parallel
// CHECK: memref.store %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}] : memref<3x4x5xf32>
func.func @collapse(%m: memref<3x4x5xf32>, %v: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %c5 = arith.constant 5 : index
  scf.parallel (%i, %j, %k) = (%c0, %c0, %c0) to (%c3, %c4, %c5) step (%c1, %c1, %c1) {
    memref.store %v, %m[%i, %j, %k] : memref<3x4x5xf32>
  }
  return
}

// CHECK-LABEL: func.func @one_dim
// CHECK: scf.parallel (%{{.*}}) = (%c0) to (%c3) step (%c1)
func.func @one_dim(%m: memref<3xf32>, %v: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  scf.parallel (%i) = (%c0) to (%c3) step (%c1) {
    memref.store %v, %m[%i] : memref<3xf32>
  }
  return
}
