// RUN: pce-opt %s -pce-fuse-patches -split-input-file | FileCheck %s
// RUN: pce-opt %s -split-input-file --pce-cpu-pipeline="fuse-experts-mix=false" --mlir-print-ir-after=pce-fuse-patches -o /dev/null 2>&1 | FileCheck %s --check-prefix=PIPELINE
// RUN: pce-opt %s -split-input-file --pce-cpu-pipeline="fuse-patches=false" --mlir-print-ir-after=pce-fuse-experts-mix -o /dev/null 2>&1 | FileCheck %s --check-prefix=OFF

// Context halo: the experts convolve the zero-padded image [2,3,10,10] with
// the kernels' 3 pixel channels (8 = E*Co filters, a strided view of the
// kernels); the coordinate channels' term [P, E*Co, ph, pw] is a per-row, a
// per-column and a per-patch contraction of the last 4 kernel channels with
// constant tables of lin values (rows and columns: lin(4, i + d - 1), past
// [-1, 1] on the halo; patches: lin(2, a), lin(2, bcol)), and one epilogue
// over (b, a, bcol, e, o, i, j) adds the two and applies the batch norm and
// ReLU into [B, nph, npw, E, Co, ph, pw]. The embedding reads
// the patch cores of a patchify without a halo; the halo patches are gone.
// CHECK-LABEL: func.func @context
// CHECK-SAME: (%[[X:.*]]: tensor<2x3x8x8xf32>, %[[K:.*]]: tensor<2x4x7x3x3xf32>, %[[S:.*]]: tensor<2x4xf32>, %[[T:.*]]: tensor<2x4xf32>, %[[WE:.*]]: tensor<7x7xf32>, %[[BE:.*]]: tensor<7xf32>)
// CHECK: %[[CORES:.*]] = pce.patchify %[[X]] patch [4, 4] : tensor<2x3x8x8xf32>
// CHECK: pce.embed %[[CORES]], %[[WE]], %[[BE]] : tensor<2x4x7x4x4xf32>
// CHECK: %[[Z:.*]] = linalg.fill {{.*}} -> tensor<2x3x10x10xf32>
// CHECK: %[[PAD:.*]] = tensor.insert_slice %[[X]] into %[[Z]][0, 0, 1, 1] [2, 3, 8, 8] [1, 1, 1, 1]
// CHECK: %[[KD:.*]] = tensor.extract_slice %[[K]][0, 0, 0, 0, 0] [2, 4, 3, 3, 3] [1, 1, 1, 1, 1]
// CHECK: %[[FD:.*]] = tensor.collapse_shape %[[KD]] {{\[}}[0, 1], [2], [3], [4]] : tensor<2x4x3x3x3xf32> into tensor<8x3x3x3xf32>
// CHECK: %[[IMG:.*]] = linalg.conv_2d_nchw_fchw ins(%[[PAD]], %[[FD]] : tensor<2x3x10x10xf32>, tensor<8x3x3x3xf32>) {{.*}} -> tensor<2x8x8x8xf32>
// CHECK: %[[IMG7:.*]] = tensor.expand_shape %[[IMG]] {{\[}}[0], [1, 2], [3, 4], [5, 6]] output_shape [2, 2, 4, 2, 4, 2, 4]
// CHECK: arith.constant dense<{{\[\[}}-1.66666663, -1.000000e+00, -0.333333343], [-1.000000e+00, -0.333333343, 0.333333343], [-0.333333343, 0.333333343, 1.000000e+00], [0.333333343, 1.000000e+00, 1.66666663]]> : tensor<4x3xf32>
// CHECK: arith.constant dense<{{\[\[}}-1.000000e+00, -1.000000e+00], [-1.000000e+00, 1.000000e+00], [1.000000e+00, -1.000000e+00], [1.000000e+00, 1.000000e+00]]> : tensor<4x2xf32>
// CHECK: tensor.extract_slice %[[K]][0, 0, 3, 0, 0] [2, 4, 4, 3, 3]
// CHECK: %[[ROWS:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction", "reduction"]{{.*}} outs(%{{.*}} : tensor<8x4xf32>)
// CHECK: %[[COLS:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction", "reduction"]{{.*}} outs(%{{.*}} : tensor<8x4xf32>)
// CHECK: %[[PATCH:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction", "reduction", "reduction"]{{.*}} outs(%{{.*}} : tensor<8x4xf32>)
// CHECK: %[[COORD:.*]] = linalg.generic {{.*}} ins(%[[ROWS]], %[[COLS]], %[[PATCH]] : {{.*}}) outs(%{{.*}} : tensor<4x8x4x4xf32>)
// CHECK: %[[COORD6:.*]] = tensor.expand_shape %[[COORD]] {{\[}}[0, 1], [2, 3], [4], [5]] output_shape [2, 2, 2, 4, 4, 4]
// CHECK: %[[Y7:.*]] = linalg.generic {indexing_maps = [#[[IMGMAP:map[0-9]*]], #[[COORDMAP:map[0-9]*]], #[[EO:map[0-9]*]], #[[EO]], #[[ID:map[0-9]*]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%[[IMG7]], %[[COORD6]], %[[S]], %[[T]] : {{.*}}) outs(%{{.*}} : tensor<2x2x2x2x4x4x4xf32>) {
// CHECK: arith.addf
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: arith.maximumf
// CHECK: %[[Y:.*]] = tensor.collapse_shape %[[Y7]] {{\[}}[0], [1, 2], [3], [4], [5], [6]] : tensor<2x2x2x2x4x4x4xf32> into tensor<2x4x2x4x4x4xf32>
// CHECK: return %[[Y]]
// CHECK-DAG: #[[IMGMAP]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d3, d4, d1, d5, d2, d6)>
// CHECK-DAG: #[[COORDMAP]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d1, d2, d3, d4, d5, d6)>
// CHECK-DAG: #[[EO]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d3, d4)>
func.func @context(%x: tensor<2x3x8x8xf32>, %k: tensor<2x4x7x3x3xf32>,
                   %s: tensor<2x4xf32>, %t: tensor<2x4xf32>,
                   %we: tensor<7x7xf32>, %be: tensor<7xf32>)
    -> (tensor<2x4x2x4x4x4xf32>, tensor<2x4x147xf32>) {
  %p = pce.patchify %x patch [4, 4] radius 1 : tensor<2x3x8x8xf32>
  %e = pce.embed %p, %we, %be radius 1 : tensor<2x4x7x6x6xf32>, tensor<7x7xf32>, tensor<7xf32>
  %y = pce.experts %p, %k affine(%s, %t : tensor<2x4xf32>, tensor<2x4xf32>) : tensor<2x4x7x6x6xf32>, tensor<2x4x7x3x3xf32>
  return %y, %e : tensor<2x4x2x4x4x4xf32>, tensor<2x4x147xf32>
}

// The CPU pipeline runs it by default (here the mix fusion is off, so the
// epilogue stays as it is).
// PIPELINE-LABEL: func.func @context
// PIPELINE: linalg.conv_2d_nchw_fchw {{.*}} -> tensor<2x8x8x8xf32>
// PIPELINE: linalg.generic {{.*}} outs(%{{.*}} : tensor<2x2x2x2x4x4x4xf32>) {
// PIPELINE-NEXT: ^bb0
// PIPELINE-NEXT: arith.addf
// PIPELINE-NEXT: arith.mulf
// PIPELINE-NEXT: arith.addf
// Switched off, the experts still read the halo patches.
// OFF-LABEL: func.func @context
// OFF: pce.patchify %{{.*}} patch [4, 4] radius 1 : tensor<2x3x8x8xf32>
// OFF: pce.experts
// OFF-NOT: tensor<2x2x2x2x4x4x4xf32>

// -----

// A router that reads only B and P reads the cores too (k = 5, radius 2).
// CHECK-LABEL: func.func @position_k5
// CHECK: %[[CORES:.*]] = pce.patchify %{{.*}} patch [4, 4] : tensor<1x2x8x8xf32>
// CHECK: pce.route position %[[CORES]] experts 2
// CHECK: tensor.insert_slice %{{.*}} into %{{.*}}[0, 0, 2, 2] [1, 2, 8, 8] [1, 1, 1, 1] : tensor<1x2x8x8xf32> into tensor<1x2x12x12xf32>
// CHECK: linalg.conv_2d_nchw_fchw {{.*}} : tensor<1x2x12x12xf32>, tensor<6x2x5x5xf32>)
// CHECK: arith.constant dense<{{\[\[}}-2.33333325, -1.66666663, -1.000000e+00, -0.333333343, 0.333333343], {{.*}}> : tensor<4x5xf32>
// CHECK-NOT: linalg.conv_2d_nchw_fchw
// CHECK: pce.mix sum
func.func @position_k5(%x: tensor<1x2x8x8xf32>, %k: tensor<2x3x6x5x5xf32>,
                       %s: tensor<2x3xf32>) -> tensor<1x4x3x4x4xf32> {
  %p = pce.patchify %x patch [4, 4] radius 2 : tensor<1x2x8x8xf32>
  %w = pce.route position %p experts 2 : tensor<1x4x6x8x8xf32>
  %y = pce.experts %p, %k affine(%s, %s : tensor<2x3xf32>, tensor<2x3xf32>) : tensor<1x4x6x8x8xf32>, tensor<2x3x6x5x5xf32>
  %m = pce.mix sum %w, %y : tensor<1x4x2xf32>, tensor<1x4x2x3x4x4xf32>
  return %m : tensor<1x4x3x4x4xf32>
}

// -----

// An isolated halo zero-pads each patch, which is not the padded image:
// left alone.
// CHECK-LABEL: func.func @isolated
// CHECK-NOT: linalg.conv_2d_nchw_fchw
// CHECK: %[[P:.*]] = pce.patchify %{{.*}} patch [4, 4] radius 1 halo isolated
// CHECK: pce.experts %[[P]]
func.func @isolated(%x: tensor<1x3x8x8xf32>, %k: tensor<2x4x7x3x3xf32>,
                    %s: tensor<2x4xf32>) -> tensor<1x4x2x4x4x4xf32> {
  %p = pce.patchify %x patch [4, 4] radius 1 halo isolated : tensor<1x3x8x8xf32>
  %y = pce.experts %p, %k affine(%s, %s : tensor<2x4xf32>, tensor<2x4xf32>) : tensor<1x4x7x6x6xf32>, tensor<2x4x7x3x3xf32>
  return %y : tensor<1x4x2x4x4x4xf32>
}

// -----

// Experts over patches that do not come from a patchify (a function
// argument) are left alone.
// CHECK-LABEL: func.func @patches_argument
// CHECK-NOT: linalg.
// CHECK: pce.experts %arg0
func.func @patches_argument(%p: tensor<1x4x7x6x6xf32>, %k: tensor<2x4x7x3x3xf32>,
                            %s: tensor<2x4xf32>) -> tensor<1x4x2x4x4x4xf32> {
  %y = pce.experts %p, %k affine(%s, %s : tensor<2x4xf32>, tensor<2x4xf32>) : tensor<1x4x7x6x6xf32>, tensor<2x4x7x3x3xf32>
  return %y : tensor<1x4x2x4x4x4xf32>
}

// -----

// A 1x1 kernel over patches with a halo of 1 gives results larger than the
// patch core: not the image convolution, left alone.
// CHECK-LABEL: func.func @kernel_smaller_than_halo
// CHECK-NOT: linalg.
// CHECK: pce.experts
func.func @kernel_smaller_than_halo(%x: tensor<1x3x8x8xf32>, %k: tensor<2x4x7x1x1xf32>,
                                    %s: tensor<2x4xf32>) -> tensor<1x4x2x4x6x6xf32> {
  %p = pce.patchify %x patch [4, 4] radius 1 : tensor<1x3x8x8xf32>
  %y = pce.experts %p, %k affine(%s, %s : tensor<2x4xf32>, tensor<2x4xf32>) : tensor<1x4x7x6x6xf32>, tensor<2x4x7x1x1xf32>
  return %y : tensor<1x4x2x4x6x6xf32>
}

// -----

// When something else needs the halo patches (here: they are returned), the
// experts still read the image and the patchify stays for that user. In the
// pipeline pce-fold-batch-norm ran first: the scale is in the kernels and
// the epilogue only adds the shift.
// CHECK-LABEL: func.func @patches_kept
// CHECK: %[[P:.*]] = pce.patchify %{{.*}} patch [4, 4] radius 1 : tensor<1x3x8x8xf32>
// CHECK: linalg.conv_2d_nchw_fchw {{.*}} : tensor<1x3x10x10xf32>, tensor<8x3x3x3xf32>)
// CHECK: return %[[P]], %{{.*}} : tensor<1x4x7x6x6xf32>, tensor<1x4x2x4x4x4xf32>
// PIPELINE-LABEL: func.func @patches_kept
// PIPELINE: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x2x2x2x4x4x4xf32>) {
// PIPELINE-NEXT: ^bb0
// PIPELINE-NEXT: arith.addf
// PIPELINE-NEXT: arith.addf
// PIPELINE-NEXT: arith.constant 0.0
// PIPELINE-NEXT: arith.maximumf
func.func @patches_kept(%x: tensor<1x3x8x8xf32>, %k: tensor<2x4x7x3x3xf32>,
                        %s: tensor<2x4xf32>) -> (tensor<1x4x7x6x6xf32>, tensor<1x4x2x4x4x4xf32>) {
  %p = pce.patchify %x patch [4, 4] radius 1 : tensor<1x3x8x8xf32>
  %y = pce.experts %p, %k bn(%s, %s, %s, %s : tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) : tensor<1x4x7x6x6xf32>, tensor<2x4x7x3x3xf32>
  return %p, %y : tensor<1x4x7x6x6xf32>, tensor<1x4x2x4x4x4xf32>
}
