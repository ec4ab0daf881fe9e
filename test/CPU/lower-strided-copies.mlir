// RUN: pce-opt %s -pce-lower-strided-copies | FileCheck %s

// A copy out of a strided view becomes linalg.copy (plain loops later, no
// runtime library); a contiguous copy stays (it becomes a memcpy).
// CHECK-LABEL: func.func @copies
// CHECK: %[[V:.*]] = memref.subview
// CHECK: linalg.copy ins(%[[V]] : memref<2x2xf32, strided<[4, 1], offset: 1>>) outs(%{{.*}} : memref<2x2xf32>)
// CHECK: memref.copy %{{.*}}, %{{.*}} : memref<4x4xf32> to memref<4x4xf32>
func.func @copies(%a: memref<4x4xf32>, %b: memref<2x2xf32>, %c: memref<4x4xf32>) {
  %v = memref.subview %a[0, 1] [2, 2] [1, 1] : memref<4x4xf32> to memref<2x2xf32, strided<[4, 1], offset: 1>>
  memref.copy %v, %b : memref<2x2xf32, strided<[4, 1], offset: 1>> to memref<2x2xf32>
  memref.copy %a, %c : memref<4x4xf32> to memref<4x4xf32>
  return
}
