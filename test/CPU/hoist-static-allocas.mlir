// RUN: pce-opt %s -pce-hoist-static-allocas -split-input-file | FileCheck %s
//
// Statically shaped scratch buffers inside loops move to the function entry;
// dynamic ones and those an alloca_scope frees stay where they are.

// CHECK-LABEL: func.func @in_loop
// CHECK-NEXT: %[[B:.*]] = memref.alloca() : memref<4xvector<1xf32>>
// CHECK: scf.for
// CHECK-NOT: memref.alloca
// CHECK: memref.store %{{.*}}, %[[B]]
func.func @in_loop(%n: index, %v: vector<1xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %c0 to %n step %c1 {
    %b = memref.alloca() : memref<4xvector<1xf32>>
    memref.store %v, %b[%c0] : memref<4xvector<1xf32>>
  }
  return
}

// -----

// CHECK-LABEL: func.func @left_alone
// CHECK: scf.for
// CHECK: memref.alloca(%{{.*}}) : memref<?xf32>
// CHECK: memref.alloca_scope
// CHECK-NEXT: memref.alloca() : memref<4xf32>
func.func @left_alone(%n: index, %x: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %c0 to %n step %c1 {
    %d = memref.alloca(%i) : memref<?xf32>
    memref.alloca_scope {
      %s = memref.alloca() : memref<4xf32>
      memref.store %x, %s[%c0] : memref<4xf32>
    }
  }
  return
}
