// RUN: pce-opt %s -pce-fuse-experts-mix -split-input-file | FileCheck %s
// RUN: pce-opt %s -pce-fuse-patches -pce-fuse-experts-mix -split-input-file | FileCheck %s --check-prefix=IMAGE
// RUN: pce-opt %s -split-input-file --pce-cpu-pipeline --mlir-print-ir-after=one-shot-bufferize -o /dev/null 2>&1 | FileCheck %s --check-prefix=BUFFERS
// RUN: pce-opt %s -split-input-file --pce-cpu-pipeline="fuse-experts-mix=false" --mlir-print-ir-after=one-shot-bufferize -o /dev/null 2>&1 | FileCheck %s --check-prefix=UNFUSED
// RUN: pce-opt %s -split-input-file --pce-cpu-pipeline | FileCheck %s --check-prefix=LLVM

// A dense router's sum mix over experts on patches: the experts' convolution
// stays, and batch norm, ReLU and the weighted sum over e are one generic
// over (b, p, o, i, j, e) with e a reduction, reading the convolution as
// [B,P,E,Co,ph,pw], scale and shift per (e, o) and the weights per (b, p, e):
// no tensor of every expert's output after the convolution.
// CHECK-DAG: #[[Y:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d5, d2, d3, d4)>
// CHECK-DAG: #[[EO:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d5, d2)>
// CHECK-DAG: #[[WM:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d5)>
// CHECK-DAG: #[[OM:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3, d4)>
// CHECK: func.func @dense
// CHECK-SAME: (%[[P:.*]]: tensor<1x4x5x6x6xf32>, %[[K:.*]]: tensor<3x8x5x3x3xf32>, %[[S:.*]]: tensor<3x8xf32>, %[[T:.*]]: tensor<3x8xf32>)
// CHECK: %[[W:.*]] = pce.route uniform %[[P]] experts 3
// CHECK: %[[CONV:.*]] = linalg.conv_2d_nchw_fchw
// CHECK: %[[C6:.*]] = tensor.expand_shape %[[CONV]] {{.*}} into tensor<1x4x3x8x4x4xf32>
// CHECK: %[[ZERO:.*]] = linalg.fill {{.*}} -> tensor<1x4x8x4x4xf32>
// CHECK: %[[OUT:.*]] = linalg.generic {indexing_maps = [#[[Y]], #[[EO]], #[[EO]], #[[WM]], #[[OM]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%[[C6]], %[[S]], %[[T]], %[[W]] : tensor<1x4x3x8x4x4xf32>, tensor<3x8xf32>, tensor<3x8xf32>, tensor<1x4x3xf32>) outs(%[[ZERO]] : tensor<1x4x8x4x4xf32>)
// CHECK-NEXT: ^bb0(%[[C:.*]]: f32, %[[SC:.*]]: f32, %[[SH:.*]]: f32, %[[WE:.*]]: f32, %[[ACC:.*]]: f32):
// CHECK-NEXT: %[[M:.*]] = arith.mulf %[[SC]], %[[C]]
// CHECK-NEXT: %[[A:.*]] = arith.addf %[[M]], %[[SH]]
// CHECK: %[[R:.*]] = arith.maximumf %[[A]]
// CHECK-NEXT: %[[TERM:.*]] = arith.mulf %[[WE]], %[[R]]
// CHECK-NEXT: %[[SUM:.*]] = arith.addf %[[ACC]], %[[TERM]]
// CHECK-NEXT: linalg.yield %[[SUM]]
// CHECK-NOT: pce.mix
// CHECK: return %[[OUT]]
func.func @dense(%p: tensor<1x4x5x6x6xf32>, %k: tensor<3x8x5x3x3xf32>,
                 %s: tensor<3x8xf32>, %t: tensor<3x8xf32>) -> tensor<1x4x8x4x4xf32> {
  %w = pce.route uniform %p experts 3 : tensor<1x4x5x6x6xf32>
  %y = pce.experts %p, %k affine(%s, %t : tensor<3x8xf32>, tensor<3x8xf32>) : tensor<1x4x5x6x6xf32>, tensor<3x8x5x3x3xf32>
  %m = pce.mix sum %w, %y : tensor<1x4x3xf32>, tensor<1x4x3x8x4x4xf32>
  return %m : tensor<1x4x8x4x4xf32>
}

// -----

// After pce-fuse-patches the epilogue is in image order: the mix runs over
// (b, a, bcol, o, i, j, e), reading the image convolution and the coordinate
// term as the epilogue did, the weights as [B, nph, npw, E]; the result is
// collapsed back to [B, P, Co, ph, pw].
// IMAGE-DAG: #[[IMG:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d6, d3, d1, d4, d2, d5)>
// IMAGE-DAG: #[[CO:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d1, d2, d6, d3, d4, d5)>
// IMAGE-DAG: #[[WM:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d2, d6)>
// IMAGE-DAG: #[[OM:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d2, d3, d4, d5)>
// IMAGE: func.func @image
// IMAGE: %[[W:.*]] = pce.route position
// IMAGE: %[[WX:.*]] = tensor.expand_shape %[[W]] {{\[}}[0], [1, 2], [3]] output_shape [1, 2, 2, 3] : tensor<1x4x3xf32> into tensor<1x2x2x3xf32>
// IMAGE: %[[F:.*]] = linalg.generic {indexing_maps = [#[[IMG]], #[[CO]], #{{.*}}, #{{.*}}, #[[WM]], #[[OM]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]} ins({{.*}}, %[[WX]] : {{.*}}) outs(%{{.*}} : tensor<1x2x2x8x4x4xf32>)
// IMAGE-NOT: tensor<1x2x2x3x8x4x4xf32>
// IMAGE: %[[OUT:.*]] = tensor.collapse_shape %[[F]] {{\[}}[0], [1, 2], [3], [4], [5]] : tensor<1x2x2x8x4x4xf32> into tensor<1x4x8x4x4xf32>
// IMAGE: return %[[OUT]]
// In the CPU pipeline no buffer holds every expert's output after its batch
// norm and ReLU (without the mix fusion, one does), and the fused generic is
// vector code along the rows of the result.
// BUFFERS-LABEL: func.func @image
// BUFFERS-NOT: memref.alloc() {{.*}} : memref<1x2x2x3x8x4x4xf32>
// BUFFERS: return
// UNFUSED-LABEL: func.func @image
// UNFUSED: memref.alloc() {{.*}} : memref<1x2x2x3x8x4x4xf32>
// LLVM-LABEL: llvm.func @image
// LLVM: llvm.intr.maximum({{.*}}) : (vector<4xf32>, vector<4xf32>) -> vector<4xf32>
func.func @image(%x: tensor<1x2x8x8xf32>, %k: tensor<3x8x6x3x3xf32>,
                 %s: tensor<3x8xf32>) -> tensor<1x4x8x4x4xf32> {
  %p = pce.patchify %x patch [4, 4] radius 1 : tensor<1x2x8x8xf32>
  %w = pce.route position %p experts 3 : tensor<1x4x6x6x6xf32>
  %y = pce.experts %p, %k affine(%s, %s : tensor<3x8xf32>, tensor<3x8xf32>) : tensor<1x4x6x6x6xf32>, tensor<3x8x6x3x3xf32>
  %m = pce.mix sum %w, %y : tensor<1x4x3xf32>, tensor<1x4x3x8x4x4xf32>
  return %m : tensor<1x4x8x4x4xf32>
}

// -----

// Experts with another user are computed in full: left alone.
// CHECK-LABEL: func.func @shared_experts
// CHECK-NOT: linalg.
// CHECK: %[[Y:.*]] = pce.experts
// CHECK: pce.mix sum %{{.*}}, %[[Y]]
// CHECK: return %{{.*}}, %[[Y]]
func.func @shared_experts(%p: tensor<1x4x5x6x6xf32>, %k: tensor<3x8x5x3x3xf32>,
                          %s: tensor<3x8xf32>) -> (tensor<1x4x8x4x4xf32>, tensor<1x4x3x8x4x4xf32>) {
  %w = pce.route uniform %p experts 3 : tensor<1x4x5x6x6xf32>
  %y = pce.experts %p, %k affine(%s, %s : tensor<3x8xf32>, tensor<3x8xf32>) : tensor<1x4x5x6x6xf32>, tensor<3x8x5x3x3xf32>
  %m = pce.mix sum %w, %y : tensor<1x4x3xf32>, tensor<1x4x3x8x4x4xf32>
  return %m, %y : tensor<1x4x8x4x4xf32>, tensor<1x4x3x8x4x4xf32>
}

// -----

// A concat mix projects every expert's channels: left alone.
// CHECK-LABEL: func.func @concat
// CHECK-NOT: linalg.
// CHECK: pce.experts
// CHECK: pce.mix concat
func.func @concat(%p: tensor<1x4x5x6x6xf32>, %k: tensor<3x8x5x3x3xf32>,
                  %s: tensor<3x8xf32>, %wc: tensor<6x24xf32>, %bc: tensor<6xf32>) -> tensor<1x4x6x4x4xf32> {
  %w = pce.route uniform %p experts 3 : tensor<1x4x5x6x6xf32>
  %y = pce.experts %p, %k affine(%s, %s : tensor<3x8xf32>, tensor<3x8xf32>) : tensor<1x4x5x6x6xf32>, tensor<3x8x5x3x3xf32>
  %m = pce.mix concat %w, %y proj(%wc, %bc : tensor<6x24xf32>, tensor<6xf32>) : tensor<1x4x3xf32>, tensor<1x4x3x8x4x4xf32>
  return %m : tensor<1x4x6x4x4xf32>
}

// -----

// Mixed experts that are not a pce.experts or a fused epilogue (here a
// function argument): left alone.
// CHECK-LABEL: func.func @experts_argument
// CHECK-NOT: linalg.
// CHECK: pce.mix sum
func.func @experts_argument(%w: tensor<1x4x3xf32>, %y: tensor<1x4x3x8x4x4xf32>) -> tensor<1x4x8x4x4xf32> {
  %m = pce.mix sum %w, %y : tensor<1x4x3xf32>, tensor<1x4x3x8x4x4xf32>
  return %m : tensor<1x4x8x4x4xf32>
}
