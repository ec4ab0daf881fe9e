// The lit test of the tutorial's example pass (docs/Tutorial-FusionPass.md).
// test/Examples/fusion-pass.mlir runs it:
//   pce-opt fold-expert-norm.mlir -pce-example-fold-expert-norm -split-input-file -verify-diagnostics | FileCheck fold-expert-norm.mlir

// What it rewrites: constant statistics become constant scale and shift.
// scale = gamma / sqrt(var + eps) = 2 / sqrt(3 + 1) = 1, 3 / sqrt(8 + 1) = 1
// shift = beta - mean * scale     = 0.5 - 2 * 1 = -1.5, -1 - (-1) * 1 = 0
// CHECK-LABEL: func.func @constant_stats
// CHECK-DAG: %[[SCALE:.*]] = arith.constant dense<1.000000e+00> : tensor<1x2xf32>
// CHECK-DAG: %[[SHIFT:.*]] = arith.constant dense<{{\[}}[-1.500000e+00, 0.000000e+00]]> : tensor<1x2xf32>
// CHECK: pce.experts %{{.*}}, %{{.*}} affine(%[[SCALE]], %[[SHIFT]] : tensor<1x2xf32>, tensor<1x2xf32>) eps 1.000000e+00
// CHECK-NOT: bn(
func.func @constant_stats(%p: tensor<1x4x5x3x3xf32>, %k: tensor<1x2x5x3x3xf32>) -> tensor<1x4x1x2x1x1xf32> {
  %g = arith.constant dense<[[2.0, 3.0]]> : tensor<1x2xf32>
  %b = arith.constant dense<[[0.5, -1.0]]> : tensor<1x2xf32>
  %m = arith.constant dense<[[2.0, -1.0]]> : tensor<1x2xf32>
  %v = arith.constant dense<[[3.0, 8.0]]> : tensor<1x2xf32>
  %y = pce.experts %p, %k bn(%g, %b, %m, %v : tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x2xf32>) eps 1.0 : tensor<1x4x5x3x3xf32>, tensor<1x2x5x3x3xf32>
  return %y : tensor<1x4x1x2x1x1xf32>
}

// -----

// What it must leave alone: statistics that are arguments (trainable, or
// bound at run time) and experts already in affine form.
// CHECK-LABEL: func.func @runtime_stats
// CHECK: pce.experts %{{.*}}, %{{.*}} bn(
// CHECK-LABEL: func.func @already_affine
// CHECK: pce.experts %{{.*}}, %{{.*}} affine(%arg2, %arg2
func.func @runtime_stats(%p: tensor<1x4x5x3x3xf32>, %k: tensor<1x2x5x3x3xf32>, %s: tensor<1x2xf32>) -> tensor<1x4x1x2x1x1xf32> {
  %y = pce.experts %p, %k bn(%s, %s, %s, %s : tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x2xf32>) : tensor<1x4x5x3x3xf32>, tensor<1x2x5x3x3xf32>
  return %y : tensor<1x4x1x2x1x1xf32>
}
func.func @already_affine(%p: tensor<1x4x5x3x3xf32>, %k: tensor<1x2x5x3x3xf32>, %s: tensor<1x2xf32>) -> tensor<1x4x1x2x1x1xf32> {
  %y = pce.experts %p, %k affine(%s, %s : tensor<1x2xf32>, tensor<1x2xf32>) : tensor<1x4x5x3x3xf32>, tensor<1x2x5x3x3xf32>
  return %y : tensor<1x4x1x2x1x1xf32>
}

// -----

// Its diagnostic: a negative constant variance is reported, not folded.
// CHECK-LABEL: func.func @negative_variance
// CHECK: pce.experts %{{.*}}, %{{.*}} bn(
func.func @negative_variance(%p: tensor<1x4x5x3x3xf32>, %k: tensor<1x1x5x3x3xf32>) -> tensor<1x4x1x1x1x1xf32> {
  %one = arith.constant dense<1.0> : tensor<1x1xf32>
  %v = arith.constant dense<-2.0> : tensor<1x1xf32>
  // expected-warning @below {{running variance -2.000000e+00 + eps at index 0 is not positive; batch norm not folded}}
  %y = pce.experts %p, %k bn(%one, %one, %one, %v : tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>) : tensor<1x4x5x3x3xf32>, tensor<1x1x5x3x3xf32>
  return %y : tensor<1x4x1x1x1x1xf32>
}
