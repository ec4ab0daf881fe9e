// RUN: pce-opt %s | pce-opt | FileCheck %s
// RUN: pce-opt %s -mlir-print-op-generic | pce-opt | FileCheck %s
//
// Round trip of every op and every optional part of its syntax: printed,
// re-parsed and printed again (also through the generic form) it reads as
// written. Result types are inferred; each function's declared result type
// checks the inferred shape (a mismatch would not parse).

// CHECK-LABEL: func.func @patchify
func.func @patchify(%x: tensor<2x3x12x20xf32>, %xd: tensor<2x3x12x20xf64>)
    -> (tensor<2x15x7x4x4xf32>, tensor<2x15x7x6x6xf32>, tensor<2x30x7x8x6xf64>) {
  // CHECK: pce.patchify %{{.*}} patch [4, 4] : tensor<2x3x12x20xf32>
  %a = pce.patchify %x patch [4, 4] : tensor<2x3x12x20xf32>
  // CHECK: pce.patchify %{{.*}} patch [4, 4] radius 1 halo isolated : tensor<2x3x12x20xf32>
  %b = pce.patchify %x patch [4, 4] radius 1 halo isolated : tensor<2x3x12x20xf32>
  // The default halo (context) is not printed.
  // CHECK: pce.patchify %{{.*}} patch [4, 2] radius 2 : tensor<2x3x12x20xf64>
  %c = pce.patchify %xd patch [4, 2] radius 2 halo context : tensor<2x3x12x20xf64>
  return %a, %b, %c : tensor<2x15x7x4x4xf32>, tensor<2x15x7x6x6xf32>, tensor<2x30x7x8x6xf64>
}

// CHECK-LABEL: func.func @embed
func.func @embed(%p: tensor<2x16x5x9x9xf32>, %w: tensor<6x5xf32>, %b: tensor<6xf32>)
    -> (tensor<2x16x126xf32>, tensor<2x16x30xf32>) {
  // CHECK: pce.embed %{{.*}}, %{{.*}}, %{{.*}} radius 1 : tensor<2x16x5x9x9xf32>, tensor<6x5xf32>, tensor<6xf32>
  %e = pce.embed %p, %w, %b radius 1 : tensor<2x16x5x9x9xf32>, tensor<6x5xf32>, tensor<6xf32>
  // CHECK: pce.embed %{{.*}}, %{{.*}}, %{{.*}} radius 1 levels [1, 2] : tensor<2x16x5x9x9xf32>, tensor<6x5xf32>, tensor<6xf32>
  %f = pce.embed %p, %w, %b radius 1 levels [1, 2] : tensor<2x16x5x9x9xf32>, tensor<6x5xf32>, tensor<6xf32>
  return %e, %f : tensor<2x16x126xf32>, tensor<2x16x30xf32>
}

// CHECK-LABEL: func.func @routers
func.func @routers(%p: tensor<2x4x5x9x9xf32>, %e: tensor<2x4x105xf32>, %k: tensor<3x105xf32>,
                   %w1: tensor<8x105xf32>, %b1: tensor<8xf32>, %w2: tensor<3x8xf32>, %b2: tensor<3xf32>,
                   %t: tensor<f32>)
    -> (tensor<2x4x3xf32>, tensor<2x4x3xf32>, tensor<2x4x3xf32>, tensor<2x4x3xf32>,
        tensor<2x4x3xf32>, tensor<2x4x3xf32>, tensor<2x4x3xf32>, tensor<2x4x3xf32>,
        tensor<2x4x3xf32>) {
  // CHECK: pce.route uniform %{{.*}} experts 3 top_k 2 renormalize : tensor<2x4x5x9x9xf32>
  %u = pce.route uniform %p experts 3 top_k 2 renormalize : tensor<2x4x5x9x9xf32>
  // CHECK: pce.route position %{{.*}} experts 3 table [2, 1, 0, 0] beta 3.000000e+00 sigma 1.000000e-01 : tensor<2x4x5x9x9xf32>
  %q = pce.route position %p experts 3 table [2, 1, 0, 0] beta 3.0 sigma 0.1 : tensor<2x4x5x9x9xf32>
  // CHECK: pce.route cosine %{{.*}} keys(%{{.*}} : tensor<3x105xf32>) tau 5.000000e-01 top_k 1 : tensor<2x4x105xf32>
  %c = pce.route cosine %e keys(%k : tensor<3x105xf32>) tau 0.5 top_k 1 : tensor<2x4x105xf32>
  // CHECK: pce.route cosine %{{.*}} keys(%{{.*}} : tensor<3x105xf32>) log_tau(%{{.*}} : tensor<f32>) : tensor<2x4x105xf32>
  %l = pce.route cosine %e keys(%k : tensor<3x105xf32>) log_tau(%t : tensor<f32>) : tensor<2x4x105xf32>
  // CHECK: pce.route cosine %{{.*}} keys(%{{.*}} : tensor<3x105xf32>) experts 3 : tensor<2x4x105xf32>
  %x = pce.route cosine %e keys(%k : tensor<3x105xf32>) experts 3 : tensor<2x4x105xf32>
  // CHECK: pce.route mlp %{{.*}} mlp(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<8x105xf32>, tensor<8xf32>, tensor<3x8xf32>, tensor<3xf32>) top_k 2 : tensor<2x4x105xf32>
  %m = pce.route mlp %e mlp(%w1, %b1, %w2, %b2 : tensor<8x105xf32>, tensor<8xf32>, tensor<3x8xf32>, tensor<3xf32>) top_k 2 : tensor<2x4x105xf32>
  // CHECK: pce.route mlp %{{.*}} mlp(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<8x105xf32>, tensor<8xf32>, tensor<3x8xf32>, tensor<3xf32>) top_k 1 normalize_input : tensor<2x4x105xf32>
  %n = pce.route mlp %e mlp(%w1, %b1, %w2, %b2 : tensor<8x105xf32>, tensor<8xf32>, tensor<3x8xf32>, tensor<3xf32>) top_k 1 normalize_input : tensor<2x4x105xf32>
  // CHECK: pce.route mlp %{{.*}} mlp(%{{.*}}, %{{.*}}, %{{.*}} : tensor<8x105xf32>, tensor<8xf32>, tensor<3x8xf32>) tau 1.000000e-01 top_k 1 normalize_input cosine_head linear_hidden : tensor<2x4x105xf32>
  %h = pce.route mlp %e mlp(%w1, %b1, %w2 : tensor<8x105xf32>, tensor<8xf32>, tensor<3x8xf32>) tau 0.1 top_k 1 normalize_input cosine_head linear_hidden : tensor<2x4x105xf32>
  // CHECK: pce.route gumbel %{{.*}} keys(%{{.*}} : tensor<3x105xf32>) tau 2.000000e+00 gumbel_tau 5.000000e-01 hard : tensor<2x4x105xf32>
  %g = pce.route gumbel %e keys(%k : tensor<3x105xf32>) tau 2.0 gumbel_tau 0.5 hard : tensor<2x4x105xf32>
  return %u, %q, %c, %l, %x, %m, %n, %h, %g : tensor<2x4x3xf32>, tensor<2x4x3xf32>, tensor<2x4x3xf32>, tensor<2x4x3xf32>,
                                              tensor<2x4x3xf32>, tensor<2x4x3xf32>, tensor<2x4x3xf32>, tensor<2x4x3xf32>,
                                              tensor<2x4x3xf32>
}

// CHECK-LABEL: func.func @experts
func.func @experts(%p: tensor<7x6x7x7x5xf32>, %k3: tensor<2x4x7x3x3xf32>, %k5: tensor<2x4x7x5x5xf32>,
                   %s: tensor<2x4xf32>)
    -> (tensor<7x6x2x4x5x3xf32>, tensor<7x6x2x4x3x1xf32>) {
  // CHECK: pce.experts %{{.*}}, %{{.*}} bn(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) eps 1.000000e-03 : tensor<7x6x7x7x5xf32>, tensor<2x4x7x3x3xf32>
  %a = pce.experts %p, %k3 bn(%s, %s, %s, %s : tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) eps 1.0e-3 : tensor<7x6x7x7x5xf32>, tensor<2x4x7x3x3xf32>
  // CHECK: pce.experts %{{.*}}, %{{.*}} affine(%{{.*}}, %{{.*}} : tensor<2x4xf32>, tensor<2x4xf32>) : tensor<7x6x7x7x5xf32>, tensor<2x4x7x5x5xf32>
  %b = pce.experts %p, %k5 affine(%s, %s : tensor<2x4xf32>, tensor<2x4xf32>) : tensor<7x6x7x7x5xf32>, tensor<2x4x7x5x5xf32>
  return %a, %b : tensor<7x6x2x4x5x3xf32>, tensor<7x6x2x4x3x1xf32>
}

// CHECK-LABEL: func.func @mix_attention_unpatchify
func.func @mix_attention_unpatchify(%w: tensor<2x6x3xf32>, %y: tensor<2x6x3x4x5x3xf32>,
                                    %wc: tensor<8x12xf32>, %bc: tensor<8xf32>,
                                    %s1: tensor<2x8xf32>, %t1: tensor<2xf32>, %s2: tensor<8x2xf32>, %t2: tensor<8xf32>)
    -> (tensor<2x4x10x9xf32>, tensor<2x8x10x9xf32>, tensor<2x6x8x5x3xf32>) {
  // CHECK: pce.mix sum %{{.*}}, %{{.*}} : tensor<2x6x3xf32>, tensor<2x6x3x4x5x3xf32>
  %s = pce.mix sum %w, %y : tensor<2x6x3xf32>, tensor<2x6x3x4x5x3xf32>
  // CHECK: pce.mix concat %{{.*}}, %{{.*}} proj(%{{.*}}, %{{.*}} : tensor<8x12xf32>, tensor<8xf32>) : tensor<2x6x3xf32>, tensor<2x6x3x4x5x3xf32>
  %c = pce.mix concat %w, %y proj(%wc, %bc : tensor<8x12xf32>, tensor<8xf32>) : tensor<2x6x3xf32>, tensor<2x6x3x4x5x3xf32>
  // CHECK: pce.attention se %{{.*}} weights(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x8xf32>, tensor<2xf32>, tensor<8x2xf32>, tensor<8xf32>) : tensor<2x6x8x5x3xf32>
  %a = pce.attention se %c weights(%s1, %t1, %s2, %t2 : tensor<2x8xf32>, tensor<2xf32>, tensor<8x2xf32>, tensor<8xf32>) : tensor<2x6x8x5x3xf32>
  // CHECK: pce.attention none %{{.*}} : tensor<2x6x8x5x3xf32>
  %n = pce.attention none %a : tensor<2x6x8x5x3xf32>
  // CHECK: pce.unpatchify %{{.*}} grid [2, 3] : tensor<2x6x4x5x3xf32>
  %o = pce.unpatchify %s grid [2, 3] : tensor<2x6x4x5x3xf32>
  // CHECK: pce.unpatchify %{{.*}} grid [2, 3] : tensor<2x6x8x5x3xf32>
  %q = pce.unpatchify %a grid [2, 3] : tensor<2x6x8x5x3xf32>
  return %o, %q, %n : tensor<2x4x10x9xf32>, tensor<2x8x10x9xf32>, tensor<2x6x8x5x3xf32>
}

// CHECK-LABEL: func.func @layers
func.func @layers(%x: tensor<1x3x8x12xf32>, %we: tensor<7x7xf32>, %be: tensor<7xf32>,
                  %keys: tensor<2x35xf32>, %k: tensor<2x4x7x3x3xf32>, %s: tensor<2x4xf32>,
                  %w1: tensor<5x35xf32>, %b1: tensor<5xf32>, %w2: tensor<2x5xf32>, %b2: tensor<2xf32>,
                  %wc: tensor<6x8xf32>, %bc: tensor<6xf32>,
                  %e1: tensor<1x6xf32>, %f1: tensor<1xf32>, %e2: tensor<6x1xf32>, %f2: tensor<6xf32>,
                  %t: tensor<f32>)
    -> (tensor<1x4x8x12xf32>, tensor<1x4x8x12xf32>, tensor<1x6x8x12xf32>, tensor<1x4x8x12xf32>,
        tensor<1x4x8x12xf32>) {
  // CHECK: pce.layer %{{.*}} patch [4, 6] router position table [1, 0, 0, 1] sigma 5.000000e-01 experts(%{{.*}} : tensor<2x4x7x3x3xf32>) bn(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) : tensor<1x3x8x12xf32>
  %a = pce.layer %x patch [4, 6] router position table [1, 0, 0, 1] sigma 0.5
         experts(%k : tensor<2x4x7x3x3xf32>)
         bn(%s, %s, %s, %s : tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>)
         : tensor<1x3x8x12xf32>
  // CHECK: pce.layer %{{.*}} patch [4, 6] halo isolated embed(%{{.*}}, %{{.*}} : tensor<7x7xf32>, tensor<7xf32>) levels [1, 2] router gumbel keys(%{{.*}} : tensor<2x35xf32>) log_tau(%{{.*}} : tensor<f32>) top_k 1 renormalize gumbel_tau 2.000000e+00 hard experts(%{{.*}} : tensor<2x4x7x3x3xf32>) affine(%{{.*}}, %{{.*}} : tensor<2x4xf32>, tensor<2x4xf32>) : tensor<1x3x8x12xf32>
  %b = pce.layer %x patch [4, 6] halo isolated embed(%we, %be : tensor<7x7xf32>, tensor<7xf32>) levels [1, 2]
         router gumbel keys(%keys : tensor<2x35xf32>) log_tau(%t : tensor<f32>) top_k 1 renormalize gumbel_tau 2.0 hard
         experts(%k : tensor<2x4x7x3x3xf32>) affine(%s, %s : tensor<2x4xf32>, tensor<2x4xf32>)
         : tensor<1x3x8x12xf32>
  // CHECK: pce.layer %{{.*}} patch [4, 6] embed(%{{.*}}, %{{.*}} : tensor<7x7xf32>, tensor<7xf32>) levels [1, 2] router mlp mlp(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<5x35xf32>, tensor<5xf32>, tensor<2x5xf32>, tensor<2xf32>) normalize_input experts(%{{.*}} : tensor<2x4x7x3x3xf32>) affine(%{{.*}}, %{{.*}} : tensor<2x4xf32>, tensor<2x4xf32>) eps 1.000000e-03 mix concat proj(%{{.*}}, %{{.*}} : tensor<6x8xf32>, tensor<6xf32>) attention se se(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<1x6xf32>, tensor<1xf32>, tensor<6x1xf32>, tensor<6xf32>) : tensor<1x3x8x12xf32>
  %c = pce.layer %x patch [4, 6] embed(%we, %be : tensor<7x7xf32>, tensor<7xf32>) levels [1, 2]
         router mlp mlp(%w1, %b1, %w2, %b2 : tensor<5x35xf32>, tensor<5xf32>, tensor<2x5xf32>, tensor<2xf32>) normalize_input
         experts(%k : tensor<2x4x7x3x3xf32>) affine(%s, %s : tensor<2x4xf32>, tensor<2x4xf32>) eps 1.0e-3
         mix concat proj(%wc, %bc : tensor<6x8xf32>, tensor<6xf32>)
         attention se se(%e1, %f1, %e2, %f2 : tensor<1x6xf32>, tensor<1xf32>, tensor<6x1xf32>, tensor<6xf32>)
         : tensor<1x3x8x12xf32>
  // CHECK: pce.layer %{{.*}} patch [4, 6] router uniform experts(%{{.*}} : tensor<2x4x7x3x3xf32>) affine(%{{.*}}, %{{.*}} : tensor<2x4xf32>, tensor<2x4xf32>) : tensor<1x3x8x12xf32>
  %d = pce.layer %x patch [4, 6] router uniform experts(%k : tensor<2x4x7x3x3xf32>)
         affine(%s, %s : tensor<2x4xf32>, tensor<2x4xf32>) mix sum attention none
         : tensor<1x3x8x12xf32>
  // CHECK: pce.layer %{{.*}} patch [4, 6] embed(%{{.*}}, %{{.*}} : tensor<7x7xf32>, tensor<7xf32>) levels [1, 2] router mlp mlp(%{{.*}}, %{{.*}}, %{{.*}} : tensor<5x35xf32>, tensor<5xf32>, tensor<2x5xf32>) log_tau(%{{.*}} : tensor<f32>) top_k 1 cosine_head experts(%{{.*}} : tensor<2x4x7x3x3xf32>) affine(%{{.*}}, %{{.*}} : tensor<2x4xf32>, tensor<2x4xf32>) : tensor<1x3x8x12xf32>
  %f = pce.layer %x patch [4, 6] embed(%we, %be : tensor<7x7xf32>, tensor<7xf32>) levels [1, 2]
         router mlp mlp(%w1, %b1, %w2 : tensor<5x35xf32>, tensor<5xf32>, tensor<2x5xf32>) log_tau(%t : tensor<f32>) top_k 1 cosine_head
         experts(%k : tensor<2x4x7x3x3xf32>) affine(%s, %s : tensor<2x4xf32>, tensor<2x4xf32>)
         : tensor<1x3x8x12xf32>
  return %a, %b, %c, %d, %f : tensor<1x4x8x12xf32>, tensor<1x4x8x12xf32>, tensor<1x6x8x12xf32>, tensor<1x4x8x12xf32>,
                              tensor<1x4x8x12xf32>
}
