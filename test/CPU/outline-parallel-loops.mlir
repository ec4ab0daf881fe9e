// RUN: pce-opt %s -split-input-file -pce-outline-parallel-loops="min-cost=0" | FileCheck %s
// RUN: pce-opt %s -split-input-file -pce-outline-parallel-loops="min-cost=0" -canonicalize | FileCheck %s --check-prefix=CANON
// RUN: pce-opt %s -split-input-file -pce-outline-parallel-loops | FileCheck %s --check-prefix=COST
// RUN: pce-opt %s -split-input-file --pce-cpu-pipeline | FileCheck %s --check-prefix=LLVM
// RUN: pce-opt %s -split-input-file --pce-cpu-pipeline="parallel-loops=false" | FileCheck %s --check-prefix=SERIAL

// A two-dimensional loop (lower bound 1 and step 2 in the inner dimension)
// with three kinds of captures: a memref, an index and a float. It becomes a
// function of a range of linear indices that delinearizes each (inner
// dimension fastest; internal in LLVM, so that the thunk, its only caller,
// inlines it), a thunk unpacking a context struct (never inlined), and, at
// the loop's place, the captures packed into the context, then the runtime
// hook when it is set or the thunk over all 12 points when it is not: the
// loop's code exists once. The constant 7 is re-created in the body rather
// than captured.
// CHECK: llvm.mlir.global external @pce_parallel_for_hook() {{.*}} : !llvm.ptr {
// CHECK-NEXT: llvm.mlir.zero : !llvm.ptr
// CHECK-LABEL: func.func @fill(
// CHECK-SAME: %[[OUT:[a-z0-9]+]]: memref<4x6xf32>, %[[SCALE:[a-z0-9]+]]: f32, %[[OFF:[a-z0-9]+]]: index)
// CHECK: %[[SLOT:.*]] = llvm.alloca %{{.*}} x !llvm.struct<(i64, f32, struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>)>
// CHECK-NOT: scf.parallel
// CHECK: builtin.unrealized_conversion_cast %[[OFF]] : index to i64
// CHECK: builtin.unrealized_conversion_cast %[[OUT]] : memref<4x6xf32> to !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>
// CHECK: llvm.store %{{.*}}, %[[SLOT]]
// CHECK: %[[N:.*]] = llvm.mlir.constant(12 : i64) : i64
// CHECK: %[[HOOK:.*]] = llvm.load %{{.*}} : !llvm.ptr -> !llvm.ptr
// CHECK: %[[UNSET:.*]] = llvm.icmp "eq" %[[HOOK]], %{{.*}} : !llvm.ptr
// CHECK: scf.if %[[UNSET]] {
// CHECK: %[[ZERO:.*]] = llvm.mlir.constant(0 : i64) : i64
// CHECK: llvm.call @fill_parallel0_thunk(%[[SLOT]], %[[ZERO]], %[[N]]) : (!llvm.ptr, i64, i64) -> ()
// CHECK: } else {
// CHECK: %[[THUNK:.*]] = llvm.mlir.addressof @fill_parallel0_thunk : !llvm.ptr
// CHECK: llvm.call %[[HOOK]](%[[N]], %[[THUNK]], %[[SLOT]]) : !llvm.ptr, (i64, !llvm.ptr, !llvm.ptr) -> ()
// CHECK: func.func private @fill_parallel0(%[[B:.*]]: index, %[[E:.*]]: index, %{{.*}}: index, %{{.*}}: f32, %[[M:.*]]: memref<4x6xf32>)
// CHECK-SAME: llvm.linkage = #llvm.linkage<internal>
// CHECK-DAG: %[[C7:.*]] = arith.constant 7 : index
// CHECK: scf.for %[[L:.*]] = %[[B]] to %[[E]] step
// CHECK: arith.divui %[[L]], %c3
// CHECK-NOT: arith.remui %{{.*}}, %c4
// CHECK: arith.remui %{{.*}}, %c3
// CHECK: arith.muli %{{.*}}, %[[C7]]
// CHECK: memref.store %{{.*}}, %[[M]]
// CHECK: llvm.func internal @fill_parallel0_thunk(%[[CTX:.*]]: !llvm.ptr, %{{.*}}: i64, %{{.*}}: i64)
// CHECK-SAME: no_inline
// CHECK: llvm.load %[[CTX]] : !llvm.ptr -> !llvm.struct<(i64, f32, struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>)>
// CHECK-COUNT-3: llvm.extractvalue
// CHECK: func.call @fill_parallel0(
// CANON-LABEL: func.func private @fill_parallel0(
// CANON: scf.for %[[L:.*]] = %{{.*}} to %{{.*}} step
// CANON: %[[II:.*]] = arith.divui %[[L]], %c3
// CANON: %[[JJ:.*]] = arith.remui %[[L]], %c3
// CANON: %[[J2:.*]] = arith.muli %[[JJ]], %c2
// CANON: %[[J:.*]] = arith.addi %[[J2]], %c1
// CANON: memref.store %{{.*}}, %{{.*}}[%[[II]], %[[J]]]
func.func @fill(%out: memref<4x6xf32>, %scale: f32, %off: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c4 = arith.constant 4 : index
  %c7 = arith.constant 7 : index
  scf.parallel (%i, %j) = (%c0, %c1) to (%c4, %c7) step (%c1, %c2) {
    %s = arith.addi %i, %off : index
    %t = arith.muli %s, %c7 : index
    %u = arith.addi %t, %j : index
    %v = arith.index_cast %u : index to i64
    %f = arith.sitofp %v : i64 to f32
    %g = arith.mulf %f, %scale : f32
    memref.store %g, %out[%i, %j] : memref<4x6xf32>
    scf.reduce
  }
  return
}

// -----

// Left alone: a loop with a reduction, a loop with a bound that is not a
// constant, and no hook without a loop to outline. A loop nested in an
// outlined one moves with its parent and stays a loop.
// CHECK-LABEL: func.func @left_alone
// CHECK: scf.parallel {{.*}} init
// CHECK: scf.parallel (%{{.*}}) = (%c0) to (%[[N:.*]]) step
// CHECK-NOT: llvm.call
// CHECK: return
func.func @left_alone(%m: memref<?xf32>, %n: index) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %zero = arith.constant 0.0 : f32
  %sum = scf.parallel (%i) = (%c0) to (%c8) step (%c1) init (%zero) -> f32 {
    %v = memref.load %m[%i] : memref<?xf32>
    scf.reduce(%v : f32) {
    ^bb0(%a: f32, %b: f32):
      %s = arith.addf %a, %b : f32
      scf.reduce.return %s : f32
    }
  }
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    memref.store %sum, %m[%i] : memref<?xf32>
    scf.reduce
  }
  return %sum : f32
}

// -----

// CHECK-LABEL: func.func @nested
// CHECK: llvm.call
// CHECK: func.func private @nested_parallel0(
// CHECK: scf.parallel (%{{.*}}) = (%c0{{.*}}) to (%c3{{.*}}) step
// CHECK: memref.store
func.func @nested(%m: memref<2x3xf32>, %v: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  scf.parallel (%i) = (%c0) to (%c2) step (%c1) {
    scf.parallel (%j) = (%c0) to (%c3) step (%c1) {
      memref.store %v, %m[%i, %j] : memref<2x3xf32>
      scf.reduce
    }
    scf.reduce
  }
  return
}

// -----

// The default min-cost (8192 operations) keeps loops that cost less than
// waking a thread: the 12-point @fill above (COST checks). Here 2 x 200 x 16
// points of 3 ops (19200) are outlined; the first two dimensions give 400
// points (at least 256) to share, the third stays a loop inside each.
// COST-LABEL: func.func @fill(
// COST: scf.parallel
// COST-NOT: llvm.call
// COST-LABEL: func.func @costly(
// COST-NOT: scf.parallel
// COST: llvm.mlir.constant(400 : i64)
// COST: llvm.call %{{.*}}(%{{.*}}, %{{.*}}, %{{.*}}) : !llvm.ptr, (i64, !llvm.ptr, !llvm.ptr) -> ()
// COST: func.func private @costly_parallel0(
// COST: scf.for %[[P:.*]] = %{{.*}} to %{{.*}} step
// COST: %[[I:.*]] = arith.divui %[[P]], %c200
// COST: %[[J:.*]] = arith.remui %{{.*}}, %c200
// COST: scf.for %[[K:.*]] = %c0{{.*}} to %c16{{.*}} step
// COST: memref.load %{{.*}}[%{{.*}}, %{{.*}}, %[[K]]]
// Through the CPU pipeline (default cost) to LLVM, where no cast is left; none
// of it with parallel-loops=false.
// LLVM: llvm.mlir.global external @pce_parallel_for_hook()
// LLVM-LABEL: llvm.func @costly(
// LLVM: llvm.call %{{.*}}(%{{.*}}, %{{.*}}, %{{.*}}) : !llvm.ptr, (i64, !llvm.ptr, !llvm.ptr) -> ()
// LLVM: llvm.func internal @costly_parallel0(%{{.*}}: i64, %{{.*}}: i64,
// LLVM: llvm.func internal @costly_parallel0_thunk(%{{.*}}: !llvm.ptr, %{{.*}}: i64, %{{.*}}: i64)
// LLVM-NOT: unrealized_conversion_cast
// SERIAL-NOT: pce_parallel_for_hook
// SERIAL-NOT: _parallel0
func.func @costly(%m: memref<2x200x16xf32>, %v: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c16 = arith.constant 16 : index
  %c200 = arith.constant 200 : index
  scf.parallel (%i, %j, %k) = (%c0, %c0, %c0) to (%c2, %c200, %c16) step (%c1, %c1, %c1) {
    %x = memref.load %m[%i, %j, %k] : memref<2x200x16xf32>
    %y = arith.mulf %x, %v : f32
    memref.store %y, %m[%i, %j, %k] : memref<2x200x16xf32>
    scf.reduce
  }
  return
}
