// RUN: pce-opt %s -pce-decompose-layer -split-input-file | FileCheck %s
//
// pce.layer becomes the primitive ops; everything else is left exactly as it
// was (no folding, no dead-code removal).

// A cosine router reads embeddings; the halo radius is k/2 = 1.
// CHECK-LABEL: func.func @cosine
// CHECK-SAME: (%[[X:[^:]*]]: tensor<2x1x28x28xf32>, %[[WE:[^:]*]]: tensor<5x5xf32>, %[[BE:[^:]*]]: tensor<5xf32>, %[[KEYS:[^:]*]]: tensor<4x105xf32>, %[[K:[^:]*]]: tensor<4x8x5x3x3xf32>, %[[S:[^:]*]]: tensor<4x8xf32>)
// CHECK: %[[P:.*]] = pce.patchify %[[X]] patch [7, 7] radius 1 : tensor<2x1x28x28xf32>
// CHECK: %[[E:.*]] = pce.embed %[[P]], %[[WE]], %[[BE]] radius 1 : tensor<2x16x5x9x9xf32>, tensor<5x5xf32>, tensor<5xf32>
// CHECK: %[[W:.*]] = pce.route cosine %[[E]] keys(%[[KEYS]] : tensor<4x105xf32>) tau 5.000000e-01 top_k 1 : tensor<2x16x105xf32>
// CHECK: %[[Y:.*]] = pce.experts %[[P]], %[[K]] bn(%[[S]], %[[S]], %[[S]], %[[S]] : {{.*}}) : tensor<2x16x5x9x9xf32>, tensor<4x8x5x3x3xf32>
// CHECK: %[[M:.*]] = pce.mix sum %[[W]], %[[Y]] : tensor<2x16x4xf32>, tensor<2x16x4x8x7x7xf32>
// CHECK: %[[O:.*]] = pce.unpatchify %[[M]] grid [4, 4] : tensor<2x16x8x7x7xf32>
// CHECK-NOT: pce.layer
// CHECK: return %[[O]]
func.func @cosine(%x: tensor<2x1x28x28xf32>, %we: tensor<5x5xf32>, %be: tensor<5xf32>, %keys: tensor<4x105xf32>,
                  %k: tensor<4x8x5x3x3xf32>, %s: tensor<4x8xf32>) -> tensor<2x8x28x28xf32> {
  %y = pce.layer %x patch [7, 7] embed(%we, %be : tensor<5x5xf32>, tensor<5xf32>)
         router cosine keys(%keys : tensor<4x105xf32>) tau 0.5 top_k 1
         experts(%k : tensor<4x8x5x3x3xf32>)
         bn(%s, %s, %s, %s : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>)
         : tensor<2x1x28x28xf32>
  return %y : tensor<2x8x28x28xf32>
}

// -----

// Position and uniform routers need no embedding: they route the patches and
// carry E from the kernels. Isolated halo, H != W, ph != pw, k = 5 (r = 2).
// CHECK-LABEL: func.func @position
// CHECK: %[[P:.*]] = pce.patchify %{{.*}} patch [4, 3] radius 2 halo isolated : tensor<3x2x8x12xf32>
// CHECK-NOT: pce.embed
// CHECK: %[[W:.*]] = pce.route position %[[P]] experts 2 table [0, 1, 1, 0, 0, 1, 1, 0] sigma 1.000000e-01 : tensor<3x8x6x8x7xf32>
// CHECK: pce.experts %[[P]], %{{.*}} affine(
// CHECK: pce.unpatchify %{{.*}} grid [2, 4] : tensor<3x8x6x4x3xf32>
func.func @position(%x: tensor<3x2x8x12xf32>, %k: tensor<2x6x6x5x5xf32>, %s: tensor<2x6xf32>) -> tensor<3x6x8x12xf32> {
  %y = pce.layer %x patch [4, 3] halo isolated router position table [0, 1, 1, 0, 0, 1, 1, 0] sigma 0.1
         experts(%k : tensor<2x6x6x5x5xf32>) affine(%s, %s : tensor<2x6xf32>, tensor<2x6xf32>)
         : tensor<3x2x8x12xf32>
  return %y : tensor<3x6x8x12xf32>
}

// -----

// Phase 3: concat mix with its projection, then squeeze-excitation; the
// router keeps its options (normalize_input, cosine_head, tau).
// CHECK-LABEL: func.func @concat_se
// CHECK: %[[E:.*]] = pce.embed %{{.*}} levels [1, 2] :
// CHECK: %[[W:.*]] = pce.route mlp %[[E]] mlp(%{{.*}}, %{{.*}}, %{{.*}} : tensor<5x35xf32>, tensor<5xf32>, tensor<2x5xf32>) tau 2.500000e-01 normalize_input cosine_head :
// CHECK: %[[Y:.*]] = pce.experts
// CHECK: %[[M:.*]] = pce.mix concat %[[W]], %[[Y]] proj(%{{.*}}, %{{.*}} : tensor<6x8xf32>, tensor<6xf32>) :
// CHECK: %[[A:.*]] = pce.attention se %[[M]] weights(
// CHECK: pce.unpatchify %[[A]] grid [2, 2] : tensor<1x4x6x4x6xf32>
func.func @concat_se(%x: tensor<1x3x8x12xf32>, %we: tensor<7x7xf32>, %be: tensor<7xf32>,
                     %k: tensor<2x4x7x1x1xf32>, %s: tensor<2x4xf32>,
                     %w1: tensor<5x35xf32>, %b1: tensor<5xf32>, %w2: tensor<2x5xf32>,
                     %wc: tensor<6x8xf32>, %bc: tensor<6xf32>,
                     %e1: tensor<1x6xf32>, %f1: tensor<1xf32>, %e2: tensor<6x1xf32>, %f2: tensor<6xf32>) -> tensor<1x6x8x12xf32> {
  %c = pce.layer %x patch [4, 6] embed(%we, %be : tensor<7x7xf32>, tensor<7xf32>) levels [1, 2]
         router mlp mlp(%w1, %b1, %w2 : tensor<5x35xf32>, tensor<5xf32>, tensor<2x5xf32>) tau 0.25 normalize_input cosine_head
         experts(%k : tensor<2x4x7x1x1xf32>) affine(%s, %s : tensor<2x4xf32>, tensor<2x4xf32>)
         mix concat proj(%wc, %bc : tensor<6x8xf32>, tensor<6xf32>)
         attention se se(%e1, %f1, %e2, %f2 : tensor<1x6xf32>, tensor<1xf32>, tensor<6x1xf32>, tensor<6xf32>)
         : tensor<1x3x8x12xf32>
  return %c : tensor<1x6x8x12xf32>
}

// -----

// What the pass must leave alone: primitive ops (even dead ones, even ones
// that would fold) and other dialects.
// CHECK-LABEL: func.func @untouched
// CHECK-NEXT: %[[P:.*]] = pce.patchify
// CHECK-NEXT: %[[U:.*]] = pce.route uniform %[[P]] experts 4
// CHECK-NEXT: %[[A:.*]] = arith.addf
// CHECK-NEXT: return %[[A]]
func.func @untouched(%x: tensor<1x1x28x28xf32>) -> tensor<1x1x28x28xf32> {
  %p = pce.patchify %x patch [7, 7] : tensor<1x1x28x28xf32>
  %u = pce.route uniform %p experts 4 : tensor<1x16x5x7x7xf32>
  %a = arith.addf %x, %x : tensor<1x1x28x28xf32>
  return %a : tensor<1x1x28x28xf32>
}

// -----

// Two stacked layers with different patch sizes decompose independently.
// CHECK-LABEL: func.func @stacked
// CHECK: pce.patchify %{{.*}} patch [7, 7] radius 1 : tensor<1x1x28x28xf32>
// CHECK: %[[O:.*]] = pce.unpatchify %{{.*}} grid [4, 4]
// CHECK: pce.patchify %[[O]] patch [2, 2] : tensor<1x8x28x28xf32>
// CHECK: pce.unpatchify %{{.*}} grid [14, 14] : tensor<1x196x4x2x2xf32>
func.func @stacked(%x: tensor<1x1x28x28xf32>, %k0: tensor<2x8x5x3x3xf32>, %s0: tensor<2x8xf32>,
                   %k1: tensor<3x4x12x1x1xf32>, %s1: tensor<3x4xf32>) -> tensor<1x4x28x28xf32> {
  %h = pce.layer %x patch [7, 7] router uniform experts(%k0 : tensor<2x8x5x3x3xf32>) affine(%s0, %s0 : tensor<2x8xf32>, tensor<2x8xf32>) : tensor<1x1x28x28xf32>
  %y = pce.layer %h patch [2, 2] router uniform experts(%k1 : tensor<3x4x12x1x1xf32>) affine(%s1, %s1 : tensor<3x4xf32>, tensor<3x4xf32>) : tensor<1x8x28x28xf32>
  return %y : tensor<1x4x28x28xf32>
}
