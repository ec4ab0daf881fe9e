// RUN: pce-opt %s -pce-sparse-dispatch -split-input-file | FileCheck %s
// RUN: pce-opt %s -pce-sparse-dispatch -split-input-file -pce-lower-to-linalg | FileCheck %s --check-prefix=LOWERED
// RUN: pce-opt %s -split-input-file --pce-cpu-pipeline | FileCheck %s --check-prefix=VEC
// RUN: pce-opt %s -split-input-file --pce-cpu-pipeline="sparse-dispatch=false" | FileCheck %s --check-prefix=DENSE
// RUN: pce-opt %s -pce-sparse-dispatch="read-image=false" -split-input-file | FileCheck %s --check-prefix=NOIMAGE

// A top-1 router's mix: the experts and the mix become loops over (b, p, e)
// that compute expert e on patch (b, p) only when its weight is not 0, as
// one convolution of contiguous slices ([1, Cin, Hp, Wp] x [Co, Cin, k, k])
// and an epilogue accumulating w * relu(scale * conv + shift) into the
// patch's output. The router is left for pce-lower-to-linalg.
// CHECK-LABEL: func.func @top1
// CHECK-SAME: (%[[P:.*]]: tensor<2x4x5x6x6xf32>, %[[K:.*]]: tensor<3x8x5x3x3xf32>, %[[S:.*]]: tensor<3x8xf32>, %[[T:.*]]: tensor<3x8xf32>)
// CHECK: %[[W:[a-z0-9_]+]] = pce.route position %[[P]] experts 3 top_k 1
// CHECK-NOT: pce.experts
// CHECK: %[[OUT:[a-z0-9_]+]] = linalg.fill {{.*}} -> tensor<2x4x8x4x4xf32>
// CHECK: scf.for %[[B:[a-z0-9_]+]] = {{.*}} iter_args(%{{.*}} = %[[OUT]]) -> (tensor<2x4x8x4x4xf32>)
// CHECK: scf.for %[[PI:[a-z0-9_]+]] = {{.*}} -> (tensor<2x4x8x4x4xf32>)
// CHECK: %[[IMG:[a-z0-9_]+]] = tensor.extract_slice %[[P]][%[[B]], %[[PI]], 0, 0, 0] [1, 1, 5, 6, 6] [1, 1, 1, 1, 1] : tensor<2x4x5x6x6xf32> to tensor<1x5x6x6xf32>
// CHECK: scf.for %[[E:[a-z0-9_]+]] = {{.*}} -> (tensor<8x4x4xf32>)
// CHECK: %[[WE:[a-z0-9_]+]] = tensor.extract %[[W]][%[[B]], %[[PI]], %[[E]]] : tensor<2x4x3xf32>
// CHECK: %[[NZ:[a-z0-9_]+]] = arith.cmpf une, %[[WE]]
// CHECK: scf.if %[[NZ]] -> (tensor<8x4x4xf32>)
// CHECK: %[[F:[a-z0-9_]+]] = tensor.extract_slice %[[K]][%[[E]], 0, 0, 0, 0] [1, 8, 5, 3, 3] [1, 1, 1, 1, 1] : tensor<3x8x5x3x3xf32> to tensor<8x5x3x3xf32>
// CHECK: linalg.conv_2d_nchw_fchw {{.*}}ins(%[[IMG]], %[[F]] : tensor<1x5x6x6xf32>, tensor<8x5x3x3xf32>) outs(%{{.*}} : tensor<1x8x4x4xf32>)
// CHECK: linalg.generic
// CHECK: arith.maximumf
// CHECK: arith.mulf %[[WE]],
// CHECK: } else {
// CHECK: tensor.insert_slice
// CHECK-NOT: pce.mix
// CHECK: return
// LOWERED-LABEL: func.func @top1
// LOWERED-NOT: pce.
// LOWERED: linalg.conv_2d_nchw_fchw
// LOWERED-SAME: tensor<1x5x6x6xf32>, tensor<8x5x3x3xf32>
// LOWERED-NOT: pce.
// LOWERED: return
func.func @top1(%p: tensor<2x4x5x6x6xf32>, %k: tensor<3x8x5x3x3xf32>,
                %s: tensor<3x8xf32>, %t: tensor<3x8xf32>) -> tensor<2x4x8x4x4xf32> {
  %w = pce.route position %p experts 3 top_k 1 : tensor<2x4x5x6x6xf32>
  %y = pce.experts %p, %k affine(%s, %t : tensor<3x8xf32>, tensor<3x8xf32>) : tensor<2x4x5x6x6xf32>, tensor<3x8x5x3x3xf32>
  %m = pce.mix sum %w, %y : tensor<2x4x3xf32>, tensor<2x4x3x8x4x4xf32>
  return %m : tensor<2x4x8x4x4xf32>
}

// In the CPU pipeline the skip test survives as a compare of the weight with
// 0, the per-patch convolution still becomes the vector kernel (rows of the
// output width 4) and the epilogue a row of vector operations; with
// sparse-dispatch=false every expert is computed and there is no such test.
// VEC-LABEL: llvm.func @top1
// VEC: llvm.fcmp "une"
// VEC: llvm.intr.fmuladd({{.*}}) : (vector<4xf32>, vector<4xf32>, vector<4xf32>) -> vector<4xf32>
// VEC: llvm.intr.maximum({{.*}}) : (vector<4xf32>, vector<4xf32>) -> vector<4xf32>
// The dense convolution of all experts is large enough to run on the
// runtime's threads (pce-outline-parallel-loops), in a function of its own.
// DENSE-LABEL: llvm.func @top1(
// DENSE-NOT: llvm.fcmp "une"
// DENSE: llvm.func @_mlir_ciface_top1
// DENSE-NOT: llvm.fcmp "une"
// DENSE: llvm.func internal @top1_parallel0(
// DENSE-NOT: llvm.fcmp "une"
// DENSE: llvm.intr.fmuladd({{.*}}) : (vector<4xf32>, vector<4xf32>, vector<4xf32>) -> vector<4xf32>
// DENSE-NOT: llvm.fcmp "une"
// DENSE: llvm.func internal @top1_parallel0_thunk

// -----

// Batch norm is folded to scale and shift before the loops (top-2 of 3).
// CHECK-LABEL: func.func @top2_bn
// CHECK: math.sqrt
// CHECK: scf.for
// CHECK: scf.if
// CHECK: linalg.conv_2d_nchw_fchw
// CHECK-NOT: pce.mix
func.func @top2_bn(%p: tensor<1x4x5x6x6xf32>, %k: tensor<3x8x5x3x3xf32>,
                   %s: tensor<3x8xf32>) -> tensor<1x4x8x4x4xf32> {
  %w = pce.route uniform %p experts 3 top_k 2 renormalize : tensor<1x4x5x6x6xf32>
  %y = pce.experts %p, %k bn(%s, %s, %s, %s : tensor<3x8xf32>, tensor<3x8xf32>, tensor<3x8xf32>, tensor<3x8xf32>) : tensor<1x4x5x6x6xf32>, tensor<3x8x5x3x3xf32>
  %m = pce.mix sum %w, %y : tensor<1x4x3xf32>, tensor<1x4x3x8x4x4xf32>
  return %m : tensor<1x4x8x4x4xf32>
}

// -----

// A dense router (top_k 0) computes every expert anyway: left alone.
// CHECK-LABEL: func.func @dense
// CHECK-NOT: scf.
// CHECK: pce.experts
// CHECK: pce.mix sum
func.func @dense(%p: tensor<1x4x5x6x6xf32>, %k: tensor<3x8x5x3x3xf32>,
                 %s: tensor<3x8xf32>) -> tensor<1x4x8x4x4xf32> {
  %w = pce.route uniform %p experts 3 : tensor<1x4x5x6x6xf32>
  %y = pce.experts %p, %k affine(%s, %s : tensor<3x8xf32>, tensor<3x8xf32>) : tensor<1x4x5x6x6xf32>, tensor<3x8x5x3x3xf32>
  %m = pce.mix sum %w, %y : tensor<1x4x3xf32>, tensor<1x4x3x8x4x4xf32>
  return %m : tensor<1x4x8x4x4xf32>
}

// -----

// top_k = E keeps every expert: left alone.
// CHECK-LABEL: func.func @top_all
// CHECK-NOT: scf.
// CHECK: pce.experts
// CHECK: pce.mix sum
func.func @top_all(%p: tensor<1x4x5x6x6xf32>, %k: tensor<3x8x5x3x3xf32>,
                   %s: tensor<3x8xf32>) -> tensor<1x4x8x4x4xf32> {
  %w = pce.route uniform %p experts 3 top_k 3 : tensor<1x4x5x6x6xf32>
  %y = pce.experts %p, %k affine(%s, %s : tensor<3x8xf32>, tensor<3x8xf32>) : tensor<1x4x5x6x6xf32>, tensor<3x8x5x3x3xf32>
  %m = pce.mix sum %w, %y : tensor<1x4x3xf32>, tensor<1x4x3x8x4x4xf32>
  return %m : tensor<1x4x8x4x4xf32>
}

// -----

// Experts with another user must be computed in full: left alone.
// CHECK-LABEL: func.func @shared_experts
// CHECK-NOT: scf.
// CHECK: %[[Y:.*]] = pce.experts
// CHECK: pce.mix sum %{{.*}}, %[[Y]]
// CHECK: return %{{.*}}, %[[Y]]
func.func @shared_experts(%p: tensor<1x4x5x6x6xf32>, %k: tensor<3x8x5x3x3xf32>,
                          %s: tensor<3x8xf32>) -> (tensor<1x4x8x4x4xf32>, tensor<1x4x3x8x4x4xf32>) {
  %w = pce.route uniform %p experts 3 top_k 1 : tensor<1x4x5x6x6xf32>
  %y = pce.experts %p, %k affine(%s, %s : tensor<3x8xf32>, tensor<3x8xf32>) : tensor<1x4x5x6x6xf32>, tensor<3x8x5x3x3xf32>
  %m = pce.mix sum %w, %y : tensor<1x4x3xf32>, tensor<1x4x3x8x4x4xf32>
  return %m, %y : tensor<1x4x8x4x4xf32>, tensor<1x4x3x8x4x4xf32>
}

// -----

// A concat mix projects every expert's channels: left alone.
// CHECK-LABEL: func.func @concat
// CHECK-NOT: scf.
// CHECK: pce.experts
// CHECK: pce.mix concat
func.func @concat(%p: tensor<1x4x5x6x6xf32>, %k: tensor<3x8x5x3x3xf32>,
                  %s: tensor<3x8xf32>, %wc: tensor<6x24xf32>, %bc: tensor<6xf32>) -> tensor<1x4x6x4x4xf32> {
  %w = pce.route uniform %p experts 3 top_k 1 : tensor<1x4x5x6x6xf32>
  %y = pce.experts %p, %k affine(%s, %s : tensor<3x8xf32>, tensor<3x8xf32>) : tensor<1x4x5x6x6xf32>, tensor<3x8x5x3x3xf32>
  %m = pce.mix concat %w, %y proj(%wc, %bc : tensor<6x24xf32>, tensor<6xf32>) : tensor<1x4x3xf32>, tensor<1x4x3x8x4x4xf32>
  return %m : tensor<1x4x6x4x4xf32>
}

// -----

// Patches of a context-halo patchify: each routed pair convolves its window
// of the zero-padded image ([1, 3, 6, 6] at row (p / 2) * 4 and column
// (p % 2) * 4) with the kernel's 3 image channels, and the epilogue adds the
// coordinate term of (p, e), computed once (as in pce-fuse-patches). The
// embedding reads patch cores; no halo patches are built. With
// read-image=false the pairs convolve the patches as above.
// CHECK-LABEL: func.func @image_windows
// CHECK-SAME: (%[[X:.*]]: tensor<2x3x8x8xf32>, %[[K:.*]]: tensor<3x8x7x3x3xf32>
// CHECK: %[[CORES:.*]] = pce.patchify %[[X]] patch [4, 4] : tensor<2x3x8x8xf32>
// CHECK: pce.embed %[[CORES]]
// CHECK: %[[PAD:.*]] = tensor.insert_slice %[[X]] into %{{.*}}[0, 0, 1, 1] [2, 3, 8, 8] [1, 1, 1, 1] : tensor<2x3x8x8xf32> into tensor<2x3x10x10xf32>
// CHECK: %[[COORD:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<4x24x4x4xf32>)
// CHECK: %[[COORD5:.*]] = tensor.expand_shape %[[COORD]] {{\[}}[0], [1, 2], [3], [4]] output_shape [4, 3, 8, 4, 4]
// CHECK: %[[KD:.*]] = tensor.extract_slice %[[K]][0, 0, 0, 0, 0] [3, 8, 3, 3, 3]
// CHECK: scf.for %[[B:[a-z0-9_]+]] =
// CHECK: scf.for %[[PI:[a-z0-9_]+]] =
// CHECK: %[[A:.*]] = arith.divui %[[PI]], %c2
// CHECK: %[[BC:.*]] = arith.remui %[[PI]], %c2
// CHECK: %[[ROW:.*]] = arith.muli %[[A]], %c4
// CHECK: %[[COL:.*]] = arith.muli %[[BC]], %c4
// CHECK: %[[WIN:.*]] = tensor.extract_slice %[[PAD]][%[[B]], 0, %[[ROW]], %[[COL]]] [1, 3, 6, 6] [1, 1, 1, 1] : tensor<2x3x10x10xf32> to tensor<1x3x6x6xf32>
// CHECK: scf.for %[[E:[a-z0-9_]+]] =
// CHECK: scf.if
// CHECK: %[[F:.*]] = tensor.extract_slice %[[KD]][%[[E]], 0, 0, 0, 0] [1, 8, 3, 3, 3] {{.*}} to tensor<8x3x3x3xf32>
// CHECK: linalg.conv_2d_nchw_fchw ins(%[[WIN]], %[[F]] : tensor<1x3x6x6xf32>, tensor<8x3x3x3xf32>)
// CHECK: %[[C:.*]] = tensor.extract_slice %[[COORD5]][%[[PI]], %[[E]], 0, 0, 0] [1, 1, 8, 4, 4]
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %[[C]], %{{.*}} :
// CHECK: arith.addf
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: arith.maximumf
// CHECK-NOT: pce.experts
// NOIMAGE-LABEL: func.func @image_windows
// NOIMAGE: %[[P:.*]] = pce.patchify %{{.*}} patch [4, 4] radius 1 : tensor<2x3x8x8xf32>
// NOIMAGE: tensor.extract_slice %[[P]][%{{.*}}, %{{.*}}, 0, 0, 0] [1, 1, 7, 6, 6]
func.func @image_windows(%x: tensor<2x3x8x8xf32>, %k: tensor<3x8x7x3x3xf32>,
                         %s: tensor<3x8xf32>, %t: tensor<3x8xf32>,
                         %we: tensor<7x7xf32>, %be: tensor<7xf32>,
                         %keys: tensor<3x147xf32>) -> tensor<2x4x8x4x4xf32> {
  %p = pce.patchify %x patch [4, 4] radius 1 : tensor<2x3x8x8xf32>
  %e = pce.embed %p, %we, %be radius 1 : tensor<2x4x7x6x6xf32>, tensor<7x7xf32>, tensor<7xf32>
  %w = pce.route cosine %e keys(%keys : tensor<3x147xf32>) top_k 1 : tensor<2x4x147xf32>
  %y = pce.experts %p, %k affine(%s, %t : tensor<3x8xf32>, tensor<3x8xf32>) : tensor<2x4x7x6x6xf32>, tensor<3x8x7x3x3xf32>
  %m = pce.mix sum %w, %y : tensor<2x4x3xf32>, tensor<2x4x3x8x4x4xf32>
  return %m : tensor<2x4x8x4x4xf32>
}
