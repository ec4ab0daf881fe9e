// RUN: pce-opt %s -pass-pipeline="builtin.module(func.func(pce-vectorize-generics,canonicalize,cse))" | FileCheck %s
// RUN: pce-opt %s -pass-pipeline="builtin.module(func.func(pce-vectorize-generics{max-lanes=32}))" | FileCheck %s --check-prefix=LANES
// RUN: pce-opt %s -pass-pipeline="builtin.module(func.func(pce-vectorize-generics{split-reductions=false},canonicalize,cse))" | FileCheck %s --check-prefix=TRANSPOSE
// RUN: pce-opt %s -pass-pipeline="builtin.module(func.func(pce-vectorize-generics{split-reductions=false transpose-inputs=false}))" | FileCheck %s --check-prefix=NEITHER

#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#row = affine_map<(d0, d1, d2) -> (d0)>
#red_in = affine_map<(d0, d1, d2, d3) -> (d0, d3, d1, d2)>
#red_w = affine_map<(d0, d1, d2, d3) -> (d1, d3)>
#red_out = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#t_in = affine_map<(d0, d1) -> (d1, d0)>
#t_out = affine_map<(d0, d1) -> (d0, d1)>

// An elementwise op with a broadcast operand: one vector per result row, in
// one scf.parallel over the rows (pce-outline-parallel-loops may hand it to
// the runtime's threads).
// CHECK-LABEL: func.func @scale_relu
// CHECK-NOT: linalg.generic
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %c0) to (%c4, %c3) step (%c1, %c1)
// CHECK: %[[X:.*]] = vector.transfer_read %{{.*}}[%c0], %{{.*}} {in_bounds = [true]} : memref<8xf32, {{.*}}>, vector<8xf32>
// CHECK: vector.transfer_read %{{.*}}[], %{{.*}} : memref<f32, strided<[], offset: ?>>, vector<f32>
// CHECK: %[[S:.*]] = vector.broadcast %{{.*}} : vector<f32> to vector<8xf32>
// CHECK: %[[M:.*]] = arith.mulf %[[X]], %[[S]] : vector<8xf32>
// CHECK: %[[R:.*]] = arith.maximumf %[[M]], %{{.*}} : vector<8xf32>
// CHECK: vector.transfer_write %[[R]], %{{.*}}[%c0] {in_bounds = [true]} : vector<8xf32>, memref<8xf32, {{.*}}>

func.func @scale_relu(%x: memref<4x3x8xf32>, %s: memref<4xf32>, %y: memref<4x3x8xf32>) {
  %z = arith.constant 0.0 : f32
  linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x, %s : memref<4x3x8xf32>, memref<4xf32>) outs(%y : memref<4x3x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.maximumf %m, %z : f32
    linalg.yield %r : f32
  }
  return
}
// A 1x1 convolution: out[n,d,i,j] += x[n,c,i,j] * w[d,c].
func.func @contract(%x: memref<2x5x4x8xf32>, %w: memref<6x5xf32>, %y: memref<2x6x4x8xf32>) {

// A contraction (a 1x1 convolution): the reduction loop goes innermost (an
// scf.for inside the parallel loop over result rows) and each step
// accumulates a whole result row, which stays in a register (an iter_arg):
// read once before the loop, written once after it. The input row is read
// along its innermost dimension (vector<8xf32>, not a transposed 8x1 read).
// CHECK-LABEL: func.func @contract
// CHECK-NOT: linalg.generic
// CHECK: scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}) = (%c0, %c0, %c0) to (%c2, %c6, %c4)
// CHECK: %[[ROW:.*]] = vector.transfer_read %[[OUT:[a-z0-9_]+]][%c0]{{.*}} : memref<8xf32, #{{.*}}>, vector<8xf32>
// CHECK: %[[SUM:.*]] = scf.for %{{.*}} = %c0 to %c5 step %c1 iter_args(%[[ACC:.*]] = %[[ROW]]) -> (vector<8xf32>)
// CHECK-NOT: vector.transfer_write
// CHECK: vector.transfer_read {{.*}} vector<8xf32>
// CHECK: arith.mulf {{.*}} : vector<8xf32>
// CHECK: arith.addf %{{.*}}, %[[ACC]] : vector<8xf32>
// CHECK: scf.yield
// CHECK: vector.transfer_write %[[SUM]], %[[OUT]][%c0]
  linalg.generic {indexing_maps = [affine_map<(n, d, i, j, c) -> (n, c, i, j)>, affine_map<(n, d, i, j, c) -> (d, c)>, affine_map<(n, d, i, j, c) -> (n, d, i, j)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<2x5x4x8xf32>, memref<6x5xf32>) outs(%y : memref<2x6x4x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %o, %m : f32
    linalg.yield %r : f32
  }
  return
}
func.func @long_rows(%x: memref<2x96xf32>, %y: memref<2x96xf32>) {
  linalg.generic {indexing_maps = [#t_out, #t_out], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<2x96xf32>) outs(%y : memref<2x96xf32>) {

// Rows longer than max-lanes are cut into equal pieces.
// CHECK-LABEL: func.func @long_rows
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %c0) to (%c2, %c96) step (%c1, %c48)
// CHECK: arith.negf {{.*}} : vector<48xf32>
// LANES-LABEL: func.func @long_rows
// LANES: arith.negf {{.*}} : vector<32xf32>
  ^bb0(%a: f32, %o: f32):
    %r = arith.negf %a : f32
    linalg.yield %r : f32
  }
  return
}
func.func @left_alone(%x: memref<8x4xf32>, %y: memref<4x8xf32>, %d: memref<?x8xf32>, %e: memref<?x8xf32>,
                      %t: tensor<4x8xf32>, %s: memref<4xf32>) -> tensor<4x8xf32> {
  // A transpose reads across the innermost dimension.

// Left alone: a transpose (it would read across the innermost dimension),
// dynamic shapes, a reduction into the innermost dimension, tensors.
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT: vector.
// CHECK-COUNT-4: linalg.generic
  linalg.generic {indexing_maps = [#t_in, #t_out], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<8x4xf32>) outs(%y : memref<4x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  // Dynamic shapes.
  linalg.generic {indexing_maps = [#t_out, #t_out], iterator_types = ["parallel", "parallel"]}
      ins(%d : memref<?x8xf32>) outs(%e : memref<?x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  // A reduction into the innermost dimension.
  linalg.generic {indexing_maps = [#t_out, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]}
      ins(%y : memref<4x8xf32>) outs(%s : memref<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  // Tensors.
  %r = linalg.generic {indexing_maps = [#t_out, #t_out], iterator_types = ["parallel", "parallel"]}
      ins(%t : tensor<4x8xf32>) outs(%t : tensor<4x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %n = arith.negf %a : f32
    linalg.yield %n : f32
  } -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// A contraction whose result lacks the dimension both inputs read
// contiguously (the embedding's weight gradient: gw[d, c] = sum over n, p,
// j of x[n, p, d, j] * y[n, p, c, j]) is split: partial[d, c, j]
// (zero-filled, a result row along j, so vectorized with the accumulator in
// a register), then gw[d, c] += sum over j of partial. Of the leading
// reductions (n, p) all but the last stay outside the parallel loop over
// (d, c), so one step's inputs stay in cache while every row is updated.
// CHECK-LABEL: func.func @contiguous_reduction
// CHECK: %[[PART:.*]] = memref.alloc() : memref<6x5x8xf32>
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[PART]] : memref<6x5x8xf32>)
// CHECK: scf.for %[[N:.*]] = %c0 to %c3
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %c0) to (%c6, %c5)
// CHECK: scf.for %{{.*}} = %c0 to %c64 step %c1 iter_args(%{{.*}}) -> (vector<8xf32>)
// CHECK: vector.transfer_read {{.*}} : memref<8xf32, #{{.*}}>, vector<8xf32>
// CHECK: arith.mulf {{.*}} : vector<8xf32>
// CHECK: arith.addf {{.*}} : vector<8xf32>
// CHECK: vector.transfer_write {{.*}} : vector<8xf32>, memref<8xf32
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[PART]] : memref<6x5x8xf32>) outs(%{{.*}} : memref<6x5xf32>)
// CHECK: arith.addf
// CHECK: memref.dealloc %[[PART]]
// A maximum over 64 rows and 8 columns starts the partial maxima at -inf
// and combines them with a maximum.
// CHECK-LABEL: func.func @contiguous_max
// CHECK: %[[PM:.*]] = memref.alloc() : memref<4x8xf32>
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[PM]]
// CHECK: arith.maximumf {{.*}} : vector<8xf32>
// CHECK: ins(%[[PM]] : memref<4x8xf32>) outs(%{{.*}} : memref<4xf32>)
// CHECK: arith.maximumf
// CHECK: memref.dealloc %[[PM]]
// CHECK-LABEL: func.func @contiguous_product
// CHECK-NOT: memref.alloc
// CHECK-NOT: vector.
// CHECK-LABEL: func.func @few_rows
// CHECK-NOT: memref.alloc
// CHECK-NOT: vector.
// Without the split (the CPU pipeline's default), the same contraction reads
// a copy of y with c innermost (y is read again for every d: the copy pays
// off) and is vectorized along the result row c: each lane is one gw[d, c]
// summed over (n, p, j) in the original order. The row of 5 is carried
// through the loops as 4 + 1 lanes (LLVM scalarizes a loop-carried
// vector<5xf32>). A max whose only input reads its row (the bias gradient's
// shape: no reuse) gets no copy.
// TRANSPOSE-LABEL: func.func @contiguous_reduction
// TRANSPOSE: %[[YT:.*]] = memref.alloc() : memref<3x64x8x5xf32>
// TRANSPOSE: linalg.generic {{.*}} ins(%{{.*}} : memref<3x64x5x8xf32>) outs(%[[YT]] : memref<3x64x8x5xf32>)
// TRANSPOSE-NEXT: ^bb0(%[[IN:.*]]: f32, %{{.*}}: f32):
// TRANSPOSE-NEXT: linalg.yield %[[IN]] : f32
// TRANSPOSE: scf.for %[[N:.*]] = %c0 to %c3
// TRANSPOSE: scf.parallel (%[[D:.*]]) = (%c0) to (%c6)
// TRANSPOSE: vector.transfer_read {{.*}} : memref<5xf32, #{{.*}}>, vector<5xf32>
// TRANSPOSE: scf.for %{{.*}} = %c0 to %c64 step %c1 iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (vector<4xf32>, vector<1xf32>)
// TRANSPOSE: scf.for %{{.*}} = %c0 to %c8 step %c1 iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (vector<4xf32>, vector<1xf32>)
// TRANSPOSE: vector.broadcast {{.*}} : vector<f32> to vector<5xf32>
// TRANSPOSE: vector.transfer_read %{{.*}} : memref<5xf32, #{{.*}}>, vector<5xf32>
// TRANSPOSE: arith.mulf {{.*}} : vector<5xf32>
// TRANSPOSE: arith.addf {{.*}} : vector<5xf32>
// TRANSPOSE: scf.yield {{.*}} : vector<4xf32>, vector<1xf32>
// TRANSPOSE: vector.transfer_write {{.*}} : vector<5xf32>, memref<5xf32
// TRANSPOSE: memref.dealloc %[[YT]]
// TRANSPOSE-LABEL: func.func @contiguous_max
// TRANSPOSE-NOT: memref.alloc
// TRANSPOSE-NOT: vector.
// TRANSPOSE-LABEL: func.func @contiguous_product
// NEITHER-LABEL: func.func @contiguous_reduction
// NEITHER-NOT: memref.alloc
// NEITHER-NOT: vector.
// NEITHER-LABEL: func.func @contiguous_max
func.func @contiguous_reduction(%x: memref<3x64x6x8xf32>, %y: memref<3x64x5x8xf32>, %gw: memref<6x5xf32>) {
  linalg.generic {indexing_maps = [affine_map<(n, p, d, c, j) -> (n, p, d, j)>, affine_map<(n, p, d, c, j) -> (n, p, c, j)>, affine_map<(n, p, d, c, j) -> (d, c)>],
                  iterator_types = ["reduction", "reduction", "parallel", "parallel", "reduction"]}
      ins(%x, %y : memref<3x64x6x8xf32>, memref<3x64x5x8xf32>) outs(%gw : memref<6x5xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %o, %m : f32
    linalg.yield %r : f32
  }
  return
}
func.func @contiguous_max(%x: memref<4x64x8xf32>, %m: memref<4xf32>) {
  linalg.generic {indexing_maps = [affine_map<(c, i, j) -> (c, i, j)>, affine_map<(c, i, j) -> (c)>],
                  iterator_types = ["parallel", "reduction", "reduction"]}
      ins(%x : memref<4x64x8xf32>) outs(%m : memref<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.maximumf %o, %a : f32
    linalg.yield %r : f32
  }
  return
}
// A product is neither a sum nor a maximum: left alone.
func.func @contiguous_product(%x: memref<4x8x8xf32>, %m: memref<4xf32>) {
  linalg.generic {indexing_maps = [affine_map<(c, i, j) -> (c, i, j)>, affine_map<(c, i, j) -> (c)>],
                  iterator_types = ["parallel", "reduction", "reduction"]}
      ins(%x : memref<4x8x8xf32>) outs(%m : memref<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.mulf %o, %a : f32
    linalg.yield %r : f32
  }
  return
}
// 8 rows per result (an SPP bin of an 8x8 patch): not worth a second pass
// and a buffer, left alone.
func.func @few_rows(%x: memref<4x8x8xf32>, %m: memref<4xf32>) {
  linalg.generic {indexing_maps = [affine_map<(c, i, j) -> (c, i, j)>, affine_map<(c, i, j) -> (c)>],
                  iterator_types = ["parallel", "reduction", "reduction"]}
      ins(%x : memref<4x8x8xf32>) outs(%m : memref<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.maximumf %o, %a : f32
    linalg.yield %r : f32
  }
  return
}
