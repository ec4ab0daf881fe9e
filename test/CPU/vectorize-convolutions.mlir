// RUN: pce-opt %s -split-input-file -pce-vectorize-convolutions -canonicalize -cse | FileCheck %s
// RUN: pce-opt %s -split-input-file -pce-vectorize-convolutions="filter-block=2 row-block=1" -canonicalize -cse | FileCheck %s --check-prefix=SMALL

// The experts' convolution on buffers: a parallel loop over images and blocks
// of 4 output channels (one block here, folded away), another over images for
// the tail block of 2 channels; inside, blocks of 2 output rows; a vector of
// 8 along the width and a tail vector of 2; accumulators carried through the
// input-channel loop, 3x3 taps unrolled into vector.fma.
// CHECK-LABEL: func.func @conv
// CHECK-NOT: linalg.conv_2d_nchw_fchw
// CHECK: scf.parallel (%[[N:.*]]) = (%c0) to (%c2) step (%c1)
// CHECK: scf.for %[[H:.*]] = %c0 to %c8 step %c2
// CHECK: %[[ACC:.*]] = vector.load %{{.*}}[%[[N]], %c0, %[[H]], %c0] : memref<2x6x8x10xf32>, vector<8xf32>
// CHECK: scf.for %[[C:.*]] = %c0 to %c3 step %c1 iter_args(%{{.*}} = %[[ACC]], {{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: vector.load %{{.*}}[%[[N]], %[[C]], %[[H]], %c0] : memref<2x3x10x12xf32>, vector<8xf32>
// CHECK: memref.load %{{.*}}[%c0, %[[C]], %c0, %c0] : memref<6x3x3x3xf32>
// CHECK: vector.broadcast %{{.*}} : f32 to vector<8xf32>
// CHECK-COUNT-72: vector.fma
// CHECK: scf.yield
// CHECK: vector.store %{{.*}}, %{{.*}}[%[[N]], %c0, %[[H]], %c0] : memref<2x6x8x10xf32>, vector<8xf32>
// The width tail: vectors of 2.
// CHECK: vector.load %{{.*}} : memref<2x6x8x10xf32>, vector<2xf32>
// CHECK: scf.reduce
// The channel tail: 2 channels x 2 rows.
// CHECK: scf.parallel (%{{.*}}) = (%c0) to (%c2) step (%c1)
// CHECK: scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// SMALL-LABEL: func.func @conv
// SMALL: scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %c0) to (%c2, %c6) step (%c1, %c2)
// SMALL: scf.for %{{.*}} = %c0 to %c8 step %c1
// SMALL: scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>)
func.func @conv(%x: memref<2x3x10x12xf32>, %k: memref<6x3x3x3xf32>, %y: memref<2x6x8x10xf32>) {
  linalg.conv_2d_nchw_fchw ins(%x, %k : memref<2x3x10x12xf32>, memref<6x3x3x3xf32>) outs(%y : memref<2x6x8x10xf32>)
  return
}

// -----

// f64 vectors hold 4 lanes. One image and one block of channels: the
// parallel loop has a single iteration and is folded away.
// CHECK-LABEL: func.func @conv_f64
// CHECK-NOT: scf.parallel
// CHECK: vector.fma {{.*}} : vector<4xf64>
func.func @conv_f64(%x: memref<1x2x6x6xf64>, %k: memref<2x2x3x3xf64>, %y: memref<1x2x4x4xf64>) {
  linalg.conv_2d_nchw_fchw ins(%x, %k : memref<1x2x6x6xf64>, memref<2x2x3x3xf64>) outs(%y : memref<1x2x4x4xf64>)
  return
}

// -----

// Left alone: convolutions on tensors, strided or dilated, dynamic, integer,
// and other convolution layouts.
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT: vector.
// CHECK: linalg.conv_2d_nchw_fchw ins(%{{.*}} : tensor<1x2x6x6xf32>
// CHECK: linalg.conv_2d_nchw_fchw {{.*}}strides = dense<2>
// CHECK: linalg.conv_2d_nchw_fchw {{.*}}dilations = dense<2>
// CHECK: linalg.conv_2d_nchw_fchw ins(%{{.*}} : memref<?x2x6x6xf32>
// CHECK: linalg.conv_2d_nchw_fchw ins(%{{.*}} : memref<1x2x6x6xi32>
// CHECK: linalg.conv_2d_nhwc_hwcf
func.func @left_alone(%t: tensor<1x2x6x6xf32>, %tk: tensor<2x2x3x3xf32>, %ty: tensor<1x2x4x4xf32>,
                      %x: memref<1x2x6x6xf32>, %k: memref<2x2x3x3xf32>, %y2: memref<1x2x2x2xf32>,
                      %y: memref<1x2x2x2xf32>,
                      %dx: memref<?x2x6x6xf32>, %dy: memref<?x2x4x4xf32>,
                      %ix: memref<1x2x6x6xi32>, %ik: memref<2x2x3x3xi32>, %iy: memref<1x2x4x4xi32>,
                      %hx: memref<1x6x6x2xf32>, %hk: memref<3x3x2x2xf32>, %hy: memref<1x4x4x2xf32>) -> tensor<1x2x4x4xf32> {
  %r = linalg.conv_2d_nchw_fchw ins(%t, %tk : tensor<1x2x6x6xf32>, tensor<2x2x3x3xf32>) outs(%ty : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  linalg.conv_2d_nchw_fchw {strides = dense<2> : tensor<2xi64>, dilations = dense<1> : tensor<2xi64>}
    ins(%x, %k : memref<1x2x6x6xf32>, memref<2x2x3x3xf32>) outs(%y2 : memref<1x2x2x2xf32>)
  linalg.conv_2d_nchw_fchw {strides = dense<1> : tensor<2xi64>, dilations = dense<2> : tensor<2xi64>}
    ins(%x, %k : memref<1x2x6x6xf32>, memref<2x2x3x3xf32>) outs(%y : memref<1x2x2x2xf32>)
  linalg.conv_2d_nchw_fchw ins(%dx, %k : memref<?x2x6x6xf32>, memref<2x2x3x3xf32>) outs(%dy : memref<?x2x4x4xf32>)
  linalg.conv_2d_nchw_fchw ins(%ix, %ik : memref<1x2x6x6xi32>, memref<2x2x3x3xi32>) outs(%iy : memref<1x2x4x4xi32>)
  linalg.conv_2d_nhwc_hwcf ins(%hx, %hk : memref<1x6x6x2xf32>, memref<3x3x2x2xf32>) outs(%hy : memref<1x4x4x2xf32>)
  return %r : tensor<1x2x4x4xf32>
}

// -----

// A kernel gradient's shape: a result row of 3 (less than half of 8 lanes)
// under 4-wide filter rows. Vectors run along the filter rows: 4 filters x 3
// result columns of vector<4> accumulators over the channels and filter rows
// (unrolled), each summed across its lanes and added to the result; a tail
// block of 1 filter.
// CHECK-LABEL: func.func @wide_filter
// CHECK: scf.parallel (%[[N:.*]]) = (%c0) to (%c2) step (%c1)
// CHECK: scf.for %[[H:.*]] = %c0 to %c3 step %c1
// CHECK: scf.for %[[C:.*]] = %c0 to %c2 step %c1 iter_args({{.*}}) -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>)
// CHECK: vector.load %{{.*}}[%[[N]], %[[C]], %[[H]], %c0] : memref<2x2x6x6xf32>, vector<4xf32>
// CHECK: vector.load %{{.*}}[%c0, %[[C]], %c0, %c0] : memref<5x2x4x4xf32>, vector<4xf32>
// CHECK-COUNT-48: vector.fma {{.*}} : vector<4xf32>
// CHECK: scf.yield
// CHECK-COUNT-12: vector.reduction <add>, %{{.*}} : vector<4xf32> into f32
// CHECK: scf.parallel (%{{.*}}) = (%c0) to (%c2) step (%c1)
// CHECK: scf.for {{.*}} -> (vector<4xf32>, vector<4xf32>, vector<4xf32>)
func.func @wide_filter(%x: memref<2x2x6x6xf32>, %k: memref<5x2x4x4xf32>, %y: memref<2x5x3x3xf32>) {
  linalg.conv_2d_nchw_fchw ins(%x, %k : memref<2x2x6x6xf32>, memref<5x2x4x4xf32>) outs(%y : memref<2x5x3x3xf32>)
  return
}
