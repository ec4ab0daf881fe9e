// RUN: pce-opt %s -pce-fold-batch-norm -split-input-file | FileCheck %s
// RUN: pce-opt %s -pce-fold-batch-norm -split-input-file -pce-lower-to-linalg | FileCheck %s --check-prefix=LOWERED

// Running statistics fold into the kernels: scale = gamma / sqrt(var + eps)
// multiplies every kernel of its (expert, channel), the shift
// beta - mean * scale becomes the bias, and the scale left behind is a
// constant 1 that the lowering does not multiply by.
// CHECK-LABEL: func.func @bn
// CHECK-SAME: (%[[P:.*]]: tensor<2x4x5x6x6xf32>, %[[K:.*]]: tensor<3x8x5x3x3xf32>, %[[G:.*]]: tensor<3x8xf32>, %[[B:.*]]: tensor<3x8xf32>, %[[M:.*]]: tensor<3x8xf32>, %[[V:.*]]: tensor<3x8xf32>)
// CHECK: %[[SCALE:.*]] = linalg.generic {{.*}} ins(%[[G]], %[[V]] :
// CHECK: arith.constant 9.99999974E-6 : f32
// CHECK: math.sqrt
// CHECK: arith.divf
// CHECK: %[[SHIFT:.*]] = linalg.generic {{.*}} ins(%[[B]], %[[M]], %[[SCALE]] :
// CHECK: arith.mulf
// CHECK: arith.subf
// CHECK: %[[KS:.*]] = linalg.generic {indexing_maps = [#[[ID:map[0-9]*]], #[[EO:map[0-9]*]], #[[ID]]]{{.*}} ins(%[[K]], %[[SCALE]] : tensor<3x8x5x3x3xf32>, tensor<3x8xf32>)
// CHECK: arith.mulf
// CHECK: %[[ONES:.*]] = arith.constant dense<1.000000e+00> : tensor<3x8xf32>
// CHECK: %[[Y:.*]] = pce.experts %[[P]], %[[KS]] affine(%[[ONES]], %[[SHIFT]] : tensor<3x8xf32>, tensor<3x8xf32>)
// CHECK-NOT: bn(
// CHECK: return %[[Y]]
// The epilogue after lowering: an add and a max, no multiply.
// LOWERED-LABEL: func.func @bn
// LOWERED: linalg.conv_2d_nchw_fchw
// LOWERED: linalg.generic
// LOWERED-NEXT: ^bb0
// LOWERED-NEXT: arith.addf
// LOWERED-NEXT: arith.constant 0.0
// LOWERED-NEXT: arith.maximumf
// LOWERED-NEXT: linalg.yield
func.func @bn(%p: tensor<2x4x5x6x6xf32>, %k: tensor<3x8x5x3x3xf32>,
              %g: tensor<3x8xf32>, %b: tensor<3x8xf32>, %m: tensor<3x8xf32>,
              %v: tensor<3x8xf32>) -> tensor<2x4x3x8x4x4xf32> {
  %y = pce.experts %p, %k bn(%g, %b, %m, %v : tensor<3x8xf32>, tensor<3x8xf32>, tensor<3x8xf32>, tensor<3x8xf32>) : tensor<2x4x5x6x6xf32>, tensor<3x8x5x3x3xf32>
  return %y : tensor<2x4x3x8x4x4xf32>
}

// -----

// The eps attribute is the one folded in.
// CHECK-LABEL: func.func @eps
// CHECK: arith.constant 1.000000e-03 : f32
// CHECK: pce.experts {{.*}} affine(
func.func @eps(%p: tensor<1x4x5x6x6xf32>, %k: tensor<2x8x5x3x3xf32>,
               %s: tensor<2x8xf32>) -> tensor<1x4x2x8x4x4xf32> {
  %y = pce.experts %p, %k bn(%s, %s, %s, %s : tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>) eps 1.0e-3 : tensor<1x4x5x6x6xf32>, tensor<2x8x5x3x3xf32>
  return %y : tensor<1x4x2x8x4x4xf32>
}

// -----

// Experts given as affine(scale, shift) have nothing to fold: left alone,
// and their lowering still multiplies by the scale.
// CHECK-LABEL: func.func @affine
// CHECK-NOT: linalg.generic
// CHECK: pce.experts %{{.*}}, %{{.*}} affine(%{{.*}}, %{{.*}} :
// LOWERED-LABEL: func.func @affine
// LOWERED: linalg.generic
// LOWERED-NEXT: ^bb0
// LOWERED-NEXT: arith.mulf
// LOWERED-NEXT: arith.addf
func.func @affine(%p: tensor<1x4x5x6x6xf32>, %k: tensor<2x8x5x3x3xf32>,
                  %s: tensor<2x8xf32>, %t: tensor<2x8xf32>) -> tensor<1x4x2x8x4x4xf32> {
  %y = pce.experts %p, %k affine(%s, %t : tensor<2x8xf32>, tensor<2x8xf32>) : tensor<1x4x5x6x6xf32>, tensor<2x8x5x3x3xf32>
  return %y : tensor<1x4x2x8x4x4xf32>
}
