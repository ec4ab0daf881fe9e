// RUN: pce-opt %s -canonicalize -split-input-file | FileCheck %s
//
// Canonicalisations are exact rewrites only; each case below has a twin that
// must be left alone.

// A uniform router is the constant 1/E.
// CHECK-LABEL: func.func @uniform_dense
// CHECK: %[[C:.*]] = arith.constant dense<2.500000e-01> : tensor<2x16x4xf32>
// CHECK-NOT: pce.route
// CHECK: return %[[C]]
func.func @uniform_dense(%p: tensor<2x16x5x9x9xf32>) -> tensor<2x16x4xf32> {
  %w = pce.route uniform %p experts 4 : tensor<2x16x5x9x9xf32>
  return %w : tensor<2x16x4xf32>
}

// -----

// Top-2 of 4 equal weights keeps experts 0 and 1 (ties: lower index first).
// CHECK-LABEL: func.func @uniform_top_k
// CHECK: arith.constant dense<{{\[}}{{\[}}[2.500000e-01, 2.500000e-01, 0.000000e+00, 0.000000e+00], [2.500000e-01, 2.500000e-01, 0.000000e+00, 0.000000e+00]]]> : tensor<1x2x4xf32>
// CHECK-LABEL: func.func @uniform_top_k_renormalized
// CHECK: arith.constant dense<{{\[}}{{\[}}[5.000000e-01, 5.000000e-01, 0.000000e+00, 0.000000e+00], [5.000000e-01, 5.000000e-01, 0.000000e+00, 0.000000e+00]]]> : tensor<1x2x4xf32>
func.func @uniform_top_k(%p: tensor<1x2x5x3x3xf32>) -> tensor<1x2x4xf32> {
  %w = pce.route uniform %p experts 4 top_k 2 : tensor<1x2x5x3x3xf32>
  return %w : tensor<1x2x4xf32>
}
func.func @uniform_top_k_renormalized(%p: tensor<1x2x5x3x3xf32>) -> tensor<1x2x4xf32> {
  %w = pce.route uniform %p experts 4 top_k 2 renormalize : tensor<1x2x5x3x3xf32>
  return %w : tensor<1x2x4xf32>
}

// -----

// Any router over a single expert gives it weight 1.
// CHECK-LABEL: func.func @single_expert
// CHECK: %[[C:.*]] = arith.constant dense<1.000000e+00> : tensor<2x16x1xf32>
// CHECK-NOT: pce.route
// CHECK: return %[[C]]
func.func @single_expert(%e: tensor<2x16x105xf32>, %k: tensor<1x105xf32>) -> tensor<2x16x1xf32> {
  %w = pce.route gumbel %e keys(%k : tensor<1x105xf32>) hard : tensor<2x16x105xf32>
  return %w : tensor<2x16x1xf32>
}

// -----

// A cosine router over two experts depends on its input: left alone.
// CHECK-LABEL: func.func @cosine_kept
// CHECK: pce.route cosine
func.func @cosine_kept(%e: tensor<2x16x105xf32>, %k: tensor<2x105xf32>) -> tensor<2x16x2xf32> {
  %w = pce.route cosine %e keys(%k : tensor<2x105xf32>) : tensor<2x16x105xf32>
  return %w : tensor<2x16x2xf32>
}

// -----

// top_k = E keeps every weight: the dense router. Renormalising a dense
// router divides by 1.
// CHECK-LABEL: func.func @top_k_all
// CHECK: pce.route cosine %{{.*}} keys(%{{.*}} : tensor<3x105xf32>) : tensor<2x16x105xf32>
// CHECK-LABEL: func.func @dense_renormalize
// CHECK: pce.route mlp %{{.*}} mlp({{.*}}) : tensor<2x16x105xf32>
// CHECK-LABEL: func.func @top_k_strict
// CHECK: pce.route cosine %{{.*}} keys(%{{.*}} : tensor<3x105xf32>) top_k 2 renormalize : tensor<2x16x105xf32>
func.func @top_k_all(%e: tensor<2x16x105xf32>, %k: tensor<3x105xf32>) -> tensor<2x16x3xf32> {
  %w = pce.route cosine %e keys(%k : tensor<3x105xf32>) top_k 3 renormalize : tensor<2x16x105xf32>
  return %w : tensor<2x16x3xf32>
}
func.func @dense_renormalize(%e: tensor<2x16x105xf32>, %w1: tensor<4x105xf32>, %b1: tensor<4xf32>, %w2: tensor<3x4xf32>, %b2: tensor<3xf32>) -> tensor<2x16x3xf32> {
  %w = pce.route mlp %e mlp(%w1, %b1, %w2, %b2 : tensor<4x105xf32>, tensor<4xf32>, tensor<3x4xf32>, tensor<3xf32>) renormalize : tensor<2x16x105xf32>
  return %w : tensor<2x16x3xf32>
}
func.func @top_k_strict(%e: tensor<2x16x105xf32>, %k: tensor<3x105xf32>) -> tensor<2x16x3xf32> {
  %w = pce.route cosine %e keys(%k : tensor<3x105xf32>) top_k 2 renormalize : tensor<2x16x105xf32>
  return %w : tensor<2x16x3xf32>
}

// -----

// The same rule on the composite layer.
// CHECK-LABEL: func.func @layer_top_k_all
// CHECK: pce.layer %{{.*}} patch [7, 7] router position experts(
// CHECK-LABEL: func.func @layer_top_k_strict
// CHECK: pce.layer %{{.*}} patch [7, 7] router position top_k 1 experts(
func.func @layer_top_k_all(%x: tensor<1x1x28x28xf32>, %k: tensor<2x8x5x3x3xf32>, %s: tensor<2x8xf32>) -> tensor<1x8x28x28xf32> {
  %y = pce.layer %x patch [7, 7] router position top_k 2 experts(%k : tensor<2x8x5x3x3xf32>) affine(%s, %s : tensor<2x8xf32>, tensor<2x8xf32>) : tensor<1x1x28x28xf32>
  return %y : tensor<1x8x28x28xf32>
}
func.func @layer_top_k_strict(%x: tensor<1x1x28x28xf32>, %k: tensor<2x8x5x3x3xf32>, %s: tensor<2x8xf32>) -> tensor<1x8x28x28xf32> {
  %y = pce.layer %x patch [7, 7] router position top_k 1 experts(%k : tensor<2x8x5x3x3xf32>) affine(%s, %s : tensor<2x8xf32>, tensor<2x8xf32>) : tensor<1x1x28x28xf32>
  return %y : tensor<1x8x28x28xf32>
}

// -----

// A sum over one expert with weight 1 is that expert's output.
// CHECK-LABEL: func.func @mix_single_expert
// CHECK: %[[Y:.*]] = pce.experts
// CHECK: %[[R:.*]] = tensor.collapse_shape %[[Y]] {{\[}}[0], [1], [2, 3], [4], [5]] : tensor<2x16x1x8x7x7xf32> into tensor<2x16x8x7x7xf32>
// CHECK-NOT: pce.mix
// CHECK: return %[[R]]
func.func @mix_single_expert(%p: tensor<2x16x5x9x9xf32>, %k: tensor<1x8x5x3x3xf32>, %s: tensor<1x8xf32>) -> tensor<2x16x8x7x7xf32> {
  %w = pce.route uniform %p experts 1 : tensor<2x16x5x9x9xf32>
  %y = pce.experts %p, %k affine(%s, %s : tensor<1x8xf32>, tensor<1x8xf32>) : tensor<2x16x5x9x9xf32>, tensor<1x8x5x3x3xf32>
  %m = pce.mix sum %w, %y : tensor<2x16x1xf32>, tensor<2x16x1x8x7x7xf32>
  return %m : tensor<2x16x8x7x7xf32>
}

// -----

// Weights that are not the constant 1 (an input) keep the mix.
// CHECK-LABEL: func.func @mix_single_expert_weighted
// CHECK: pce.mix sum
func.func @mix_single_expert_weighted(%w: tensor<2x16x1xf32>, %y: tensor<2x16x1x8x7x7xf32>) -> tensor<2x16x8x7x7xf32> {
  %m = pce.mix sum %w, %y : tensor<2x16x1xf32>, tensor<2x16x1x8x7x7xf32>
  return %m : tensor<2x16x8x7x7xf32>
}

// -----

// `attention none` is the identity; `se` is kept.
// CHECK-LABEL: func.func @attention
// CHECK-SAME: (%[[X:.*]]: tensor<1x4x8x7x7xf32>
// CHECK-NOT: pce.attention none
// CHECK: %[[A:.*]] = pce.attention se %[[X]]
// CHECK: return %[[A]]
func.func @attention(%x: tensor<1x4x8x7x7xf32>, %w1: tensor<2x8xf32>, %b1: tensor<2xf32>, %w2: tensor<8x2xf32>, %b2: tensor<8xf32>) -> tensor<1x4x8x7x7xf32> {
  %n = pce.attention none %x : tensor<1x4x8x7x7xf32>
  %a = pce.attention se %n weights(%w1, %b1, %w2, %b2 : tensor<2x8xf32>, tensor<2xf32>, tensor<8x2xf32>, tensor<8xf32>) : tensor<1x4x8x7x7xf32>
  return %a : tensor<1x4x8x7x7xf32>
}
