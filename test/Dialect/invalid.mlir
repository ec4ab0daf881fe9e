// RUN: pce-opt %s -split-input-file -verify-diagnostics
//
// One case (at least) per verifier rule: what a user sees when they get it wrong.

//===----------------------------------------------------------------------===//
// pce.patchify
//===----------------------------------------------------------------------===//

func.func @patchify_rank(%x: tensor<1x28x28xf32>) {
  // expected-error @below {{'pce.patchify' op operand 'input' must have rank 4 ([B, C, H, W]), found rank 3 [1, 28, 28]}}
  %p = pce.patchify %x patch [7, 7] : tensor<1x28x28xf32>
  return
}

// -----

func.func @patchify_patch_entries(%x: tensor<1x1x28x28xf32>) {
  // expected-error @below {{attribute 'patch' must have 2 entries [ph, pw], found 3}}
  %p = pce.patchify %x patch [7, 7, 7] : tensor<1x1x28x28xf32>
  return
}

// -----

func.func @patchify_patch_positive(%x: tensor<1x1x28x28xf32>) {
  // expected-error @below {{attribute 'patch' must be positive, found [0, 7]}}
  %p = pce.patchify %x patch [0, 7] : tensor<1x1x28x28xf32>
  return
}

// -----

func.func @patchify_radius(%x: tensor<1x1x28x28xf32>) {
  // expected-error @below {{attribute 'radius' must be >= 0, found -1}}
  %p = pce.patchify %x patch [7, 7] radius -1 : tensor<1x1x28x28xf32>
  return
}

// -----

func.func @patchify_height(%x: tensor<1x1x28x28xf32>) {
  // expected-error @below {{input height 28 is not divisible by patch height 5}}
  %p = pce.patchify %x patch [5, 7] : tensor<1x1x28x28xf32>
  return
}

// -----

func.func @patchify_width(%x: tensor<1x1x28x30xf32>) {
  // expected-error @below {{input width 30 is not divisible by patch width 7}}
  %p = pce.patchify %x patch [7, 7] : tensor<1x1x28x30xf32>
  return
}

// -----

func.func @patchify_int(%x: tensor<1x1x28x28xi32>) {
  // expected-error @below {{operand #0 must be ranked tensor of floating-point values, but got 'tensor<1x1x28x28xi32>'}}
  %p = pce.patchify %x patch [7, 7] : tensor<1x1x28x28xi32>
  return
}

// -----

func.func @patchify_dynamic(%x: tensor<?x1x28x28xf32>) {
  // expected-error @below {{operand 'input' must have a static shape, found 'tensor<?x1x28x28xf32>'}}
  %p = pce.patchify %x patch [7, 7] : tensor<?x1x28x28xf32>
  return
}

// -----

func.func @patchify_result_type(%x: tensor<1x1x28x28xf32>) {
  // expected-error @below {{'pce.patchify' op inferred type(s) 'tensor<1x16x5x7x7xf32>' are incompatible with return type(s) of operation 'tensor<1x16x5x9x9xf32>'}}
  // expected-error @below {{'pce.patchify' op failed to infer returned types}}
  %p = "pce.patchify"(%x) <{patch = array<i64: 7, 7>, radius = 0 : i64}> : (tensor<1x1x28x28xf32>) -> tensor<1x16x5x9x9xf32>
  return
}

//===----------------------------------------------------------------------===//
// pce.embed
//===----------------------------------------------------------------------===//

// -----

func.func @embed_rank(%p: tensor<16x5x9x9xf32>, %w: tensor<5x5xf32>, %b: tensor<5xf32>) {
  // expected-error @below {{operand 'patches' must have rank 5 ([B, P, C+4, ph+2r, pw+2r]), found rank 4 [16, 5, 9, 9]}}
  %e = pce.embed %p, %w, %b : tensor<16x5x9x9xf32>, tensor<5x5xf32>, tensor<5xf32>
  return
}

// -----

func.func @embed_no_core(%p: tensor<1x16x5x4x4xf32>, %w: tensor<5x5xf32>, %b: tensor<5xf32>) {
  // expected-error @below {{patches of 4x4 pixels have no core inside a halo of radius 2}}
  %e = pce.embed %p, %w, %b radius 2 : tensor<1x16x5x4x4xf32>, tensor<5x5xf32>, tensor<5xf32>
  return
}

// -----

func.func @embed_levels_empty(%p: tensor<1x16x5x9x9xf32>, %w: tensor<5x5xf32>, %b: tensor<5xf32>) {
  // expected-error @below {{attribute 'levels' must not be empty}}
  %e = pce.embed %p, %w, %b radius 1 levels [] : tensor<1x16x5x9x9xf32>, tensor<5x5xf32>, tensor<5xf32>
  return
}

// -----

func.func @embed_levels_positive(%p: tensor<1x16x5x9x9xf32>, %w: tensor<5x5xf32>, %b: tensor<5xf32>) {
  // expected-error @below {{attribute 'levels' must be positive, found [1, 0, 4]}}
  %e = pce.embed %p, %w, %b radius 1 levels [1, 0, 4] : tensor<1x16x5x9x9xf32>, tensor<5x5xf32>, tensor<5xf32>
  return
}

// -----

func.func @embed_weight_rank(%p: tensor<1x16x5x9x9xf32>, %w: tensor<5x5x1xf32>, %b: tensor<5xf32>) {
  // expected-error @below {{operand 'weight' must have rank 2 ([De, C+4]), found rank 3 [5, 5, 1]}}
  %e = pce.embed %p, %w, %b radius 1 : tensor<1x16x5x9x9xf32>, tensor<5x5x1xf32>, tensor<5xf32>
  return
}

// -----

func.func @embed_weight_channels(%p: tensor<1x16x5x9x9xf32>, %w: tensor<5x4xf32>, %b: tensor<5xf32>) {
  // expected-error @below {{operand 'weight' has 4 input channels, expected 5 (the patches' channels C+4)}}
  %e = pce.embed %p, %w, %b radius 1 : tensor<1x16x5x9x9xf32>, tensor<5x4xf32>, tensor<5xf32>
  return
}

// -----

func.func @embed_bias(%p: tensor<1x16x5x9x9xf32>, %w: tensor<6x5xf32>, %b: tensor<5xf32>) {
  // expected-error @below {{operand 'bias' has shape [5], expected [6] ([De] with De from 'weight')}}
  %e = pce.embed %p, %w, %b radius 1 : tensor<1x16x5x9x9xf32>, tensor<6x5xf32>, tensor<5xf32>
  return
}

// -----

func.func @embed_element_type(%p: tensor<1x16x5x9x9xf32>, %w: tensor<5x5xf64>, %b: tensor<5xf32>) {
  // expected-error @below {{operand 'weight' has element type 'f64', expected 'f32' (the element type of 'patches')}}
  %e = pce.embed %p, %w, %b radius 1 : tensor<1x16x5x9x9xf32>, tensor<5x5xf64>, tensor<5xf32>
  return
}

//===----------------------------------------------------------------------===//
// pce.route
//===----------------------------------------------------------------------===//

// -----

func.func @route_embeddings_rank(%e: tensor<2x16x5x9x9xf32>, %k: tensor<4x5xf32>) {
  // expected-error @below {{a 'cosine' router reads embeddings [B, P, D], found rank 5 [2, 16, 5, 9, 9]}}
  %w = pce.route cosine %e keys(%k : tensor<4x5xf32>) : tensor<2x16x5x9x9xf32>
  return
}

// -----

func.func @route_input_rank(%e: tensor<16xf32>) {
  // expected-error @below {{operand 'input' must have rank >= 2 [B, P, ...], found rank 1}}
  %w = pce.route uniform %e experts 4 : tensor<16xf32>
  return
}

// -----

func.func @route_needs_experts(%p: tensor<2x16x5x9x9xf32>) {
  // expected-error @below {{a 'position' router needs attribute 'experts' (E)}}
  %w = pce.route position %p : tensor<2x16x5x9x9xf32>
  return
}

// -----

func.func @route_experts_positive(%p: tensor<2x16x5x9x9xf32>) {
  // expected-error @below {{attribute 'experts' must be >= 1, found 0}}
  %w = pce.route uniform %p experts 0 : tensor<2x16x5x9x9xf32>
  return
}

// -----

func.func @route_experts_vs_keys(%e: tensor<2x16x105xf32>, %k: tensor<4x105xf32>) {
  // expected-error @below {{attribute 'experts' is 3 but the keys hold 4 experts}}
  %w = pce.route cosine %e keys(%k : tensor<4x105xf32>) experts 3 : tensor<2x16x105xf32>
  return
}

// -----

func.func @route_missing_keys(%e: tensor<2x16x105xf32>) {
  // expected-error @below {{a 'gumbel' router needs operand 'keys' [E, D]}}
  %w = pce.route gumbel %e experts 4 : tensor<2x16x105xf32>
  return
}

// -----

func.func @route_keys_on_uniform(%e: tensor<2x16x105xf32>, %k: tensor<4x105xf32>) {
  // expected-error @below {{operand 'keys' does not apply to a 'uniform' router}}
  %w = pce.route uniform %e keys(%k : tensor<4x105xf32>) experts 4 : tensor<2x16x105xf32>
  return
}

// -----

func.func @route_mlp_count(%e: tensor<2x16x105xf32>, %w1: tensor<8x105xf32>, %b1: tensor<8xf32>) {
  // expected-error @below {{operand group 'mlp' must hold 4 values (W1 [Hd, D], b1 [Hd], W2 [E, Hd], b2 [E]), found 2}}
  %w = pce.route mlp %e mlp(%w1, %b1 : tensor<8x105xf32>, tensor<8xf32>) experts 4 : tensor<2x16x105xf32>
  return
}

// -----

func.func @route_normalize_input_on_cosine(%e: tensor<2x16x105xf32>, %k: tensor<4x105xf32>) {
  // expected-error @below {{attribute 'normalize_input' does not apply to a 'cosine' router}}
  %w = pce.route cosine %e keys(%k : tensor<4x105xf32>) normalize_input : tensor<2x16x105xf32>
  return
}

// -----

func.func @layer_normalize_input_on_uniform(%x: tensor<1x3x8x12xf32>, %k: tensor<2x4x7x3x3xf32>, %s: tensor<2x4xf32>) {
  // expected-error @below {{attribute 'normalize_input' does not apply to a 'uniform' router}}
  %y = pce.layer %x patch [4, 6] router uniform normalize_input experts(%k : tensor<2x4x7x3x3xf32>) affine(%s, %s : tensor<2x4xf32>, tensor<2x4xf32>) : tensor<1x3x8x12xf32>
  return
}

// -----

func.func @route_cosine_head_on_cosine(%e: tensor<2x16x105xf32>, %k: tensor<4x105xf32>) {
  // expected-error @below {{attribute 'cosine_head' does not apply to a 'cosine' router}}
  %w = pce.route cosine %e keys(%k : tensor<4x105xf32>) cosine_head : tensor<2x16x105xf32>
  return
}

// -----

func.func @route_linear_hidden_on_gumbel(%e: tensor<2x16x105xf32>, %k: tensor<4x105xf32>) {
  // expected-error @below {{attribute 'linear_hidden' does not apply to a 'gumbel' router}}
  %w = pce.route gumbel %e keys(%k : tensor<4x105xf32>) linear_hidden : tensor<2x16x105xf32>
  return
}

// -----

func.func @route_cosine_head_with_b2(%e: tensor<2x16x105xf32>, %w1: tensor<8x105xf32>, %b1: tensor<8xf32>, %w2: tensor<4x8xf32>, %b2: tensor<4xf32>) {
  // expected-error @below {{operand group 'mlp' must hold 3 values (W1 [Hd, D], b1 [Hd], W2 [E, Hd]; a cosine head has no b2), found 4}}
  %w = pce.route mlp %e mlp(%w1, %b1, %w2, %b2 : tensor<8x105xf32>, tensor<8xf32>, tensor<4x8xf32>, tensor<4xf32>) cosine_head : tensor<2x16x105xf32>
  return
}

// -----

func.func @route_tau_on_plain_mlp(%e: tensor<2x16x105xf32>, %w1: tensor<8x105xf32>, %b1: tensor<8xf32>, %w2: tensor<4x8xf32>, %b2: tensor<4xf32>) {
  // expected-error @below {{attribute 'tau' applies to an 'mlp' router only with 'cosine_head'}}
  %w = pce.route mlp %e mlp(%w1, %b1, %w2, %b2 : tensor<8x105xf32>, tensor<8xf32>, tensor<4x8xf32>, tensor<4xf32>) tau 0.5 : tensor<2x16x105xf32>
  return
}

// -----

func.func @layer_cosine_head_w2_shape(%x: tensor<1x3x8x12xf32>, %we: tensor<7x7xf32>, %be: tensor<7xf32>, %w1: tensor<5x35xf32>, %b1: tensor<5xf32>, %w2: tensor<2x4xf32>, %k: tensor<2x4x7x3x3xf32>, %s: tensor<2x4xf32>) {
  // expected-error @below {{operand 'mlp W2' has shape [2, 4], expected [2, 5]}}
  %y = pce.layer %x patch [4, 6] embed(%we, %be : tensor<7x7xf32>, tensor<7xf32>) levels [1, 2] router mlp mlp(%w1, %b1, %w2 : tensor<5x35xf32>, tensor<5xf32>, tensor<2x4xf32>) cosine_head experts(%k : tensor<2x4x7x3x3xf32>) affine(%s, %s : tensor<2x4xf32>, tensor<2x4xf32>) : tensor<1x3x8x12xf32>
  return
}

// -----

func.func @route_mlp_on_cosine(%e: tensor<2x16x105xf32>, %k: tensor<4x105xf32>, %w1: tensor<8x105xf32>) {
  // expected-error @below {{operand group 'mlp' does not apply to a 'cosine' router}}
  %w = pce.route cosine %e keys(%k : tensor<4x105xf32>) mlp(%w1 : tensor<8x105xf32>) : tensor<2x16x105xf32>
  return
}

// -----

func.func @route_tau_on_uniform(%p: tensor<2x16x5x9x9xf32>) {
  // expected-error @below {{attribute 'tau' does not apply to a 'uniform' router}}
  %w = pce.route uniform %p experts 4 tau 5.000000e-01 : tensor<2x16x5x9x9xf32>
  return
}

// -----

func.func @route_log_tau_on_mlp(%e: tensor<2x16x105xf32>, %w1: tensor<8x105xf32>, %b1: tensor<8xf32>, %w2: tensor<4x8xf32>, %b2: tensor<4xf32>, %t: tensor<f32>) {
  // expected-error @below {{operand 'log_tau' applies to an 'mlp' router only with 'cosine_head'}}
  %w = pce.route mlp %e mlp(%w1, %b1, %w2, %b2 : tensor<8x105xf32>, tensor<8xf32>, tensor<4x8xf32>, tensor<4xf32>) log_tau(%t : tensor<f32>) : tensor<2x16x105xf32>
  return
}

// -----

func.func @route_tau_positive(%e: tensor<2x16x105xf32>, %k: tensor<4x105xf32>) {
  // expected-error @below {{attribute 'tau' must be > 0, found 0}}
  %w = pce.route cosine %e keys(%k : tensor<4x105xf32>) tau 0.0 : tensor<2x16x105xf32>
  return
}

// -----

func.func @route_table_on_uniform(%p: tensor<2x4x5x9x9xf32>) {
  // expected-error @below {{attribute 'table' does not apply to a 'uniform' router}}
  %w = pce.route uniform %p experts 2 table [0, 1, 0, 1] : tensor<2x4x5x9x9xf32>
  return
}

// -----

func.func @route_beta_on_cosine(%e: tensor<2x16x105xf32>, %k: tensor<4x105xf32>) {
  // expected-error @below {{attribute 'beta' does not apply to a 'cosine' router}}
  %w = pce.route cosine %e keys(%k : tensor<4x105xf32>) beta 2.0 : tensor<2x16x105xf32>
  return
}

// -----

func.func @route_sigma_on_uniform(%p: tensor<2x4x5x9x9xf32>) {
  // expected-error @below {{attribute 'sigma' does not apply to a 'uniform' router}}
  %w = pce.route uniform %p experts 2 sigma 0.5 : tensor<2x4x5x9x9xf32>
  return
}

// -----

func.func @route_gumbel_tau_on_cosine(%e: tensor<2x16x105xf32>, %k: tensor<4x105xf32>) {
  // expected-error @below {{attribute 'gumbel_tau' does not apply to a 'cosine' router}}
  %w = pce.route cosine %e keys(%k : tensor<4x105xf32>) gumbel_tau 0.5 : tensor<2x16x105xf32>
  return
}

// -----

func.func @route_hard_on_cosine(%e: tensor<2x16x105xf32>, %k: tensor<4x105xf32>) {
  // expected-error @below {{attribute 'hard' does not apply to a 'cosine' router}}
  %w = pce.route cosine %e keys(%k : tensor<4x105xf32>) hard : tensor<2x16x105xf32>
  return
}

// -----

func.func @route_gumbel_tau_positive(%e: tensor<2x16x105xf32>, %k: tensor<4x105xf32>) {
  // expected-error @below {{attribute 'gumbel_tau' must be > 0, found -1}}
  %w = pce.route gumbel %e keys(%k : tensor<4x105xf32>) gumbel_tau -1.0 : tensor<2x16x105xf32>
  return
}

// -----

func.func @route_sigma_negative(%p: tensor<2x4x5x9x9xf32>) {
  // expected-error @below {{attribute 'sigma' must be >= 0, found -5.000000e-01}}
  %w = pce.route position %p experts 2 sigma -0.5 : tensor<2x4x5x9x9xf32>
  return
}

// -----

func.func @route_top_k_large(%e: tensor<2x16x105xf32>, %k: tensor<4x105xf32>) {
  // expected-error @below {{attribute 'top_k' must be in [0, 4] (0 = dense, E = 4 experts), found 5}}
  %w = pce.route cosine %e keys(%k : tensor<4x105xf32>) top_k 5 : tensor<2x16x105xf32>
  return
}

// -----

func.func @route_top_k_negative(%p: tensor<2x4x5x9x9xf32>) {
  // expected-error @below {{attribute 'top_k' must be in [0, 2] (0 = dense, E = 2 experts), found -1}}
  %w = pce.route uniform %p experts 2 top_k -1 : tensor<2x4x5x9x9xf32>
  return
}

// -----

func.func @route_table_length(%p: tensor<2x4x5x9x9xf32>) {
  // expected-error @below {{attribute 'table' has 3 entries, expected one per patch (P = 4)}}
  %w = pce.route position %p experts 2 table [0, 1, 0] : tensor<2x4x5x9x9xf32>
  return
}

// -----

func.func @route_table_entry(%p: tensor<2x4x5x9x9xf32>) {
  // expected-error @below {{attribute 'table' sends patch 2 to expert 2, expected an expert in [0, 2)}}
  %w = pce.route position %p experts 2 table [0, 1, 2, 1] : tensor<2x4x5x9x9xf32>
  return
}

// -----

func.func @route_keys_width(%e: tensor<2x16x105xf32>, %k: tensor<4x100xf32>) {
  // expected-error @below {{operand 'keys' has shape [4, 100], expected [4, 105] ([E, D] with E = 4 experts, D = 105 the embedding width)}}
  %w = pce.route cosine %e keys(%k : tensor<4x100xf32>) : tensor<2x16x105xf32>
  return
}

// -----

func.func @route_mlp_w1(%e: tensor<2x16x105xf32>, %w1: tensor<8x100xf32>, %b1: tensor<8xf32>, %w2: tensor<4x8xf32>, %b2: tensor<4xf32>) {
  // expected-error @below {{operand 'mlp W1' has shape [8, 100], expected [8, 105] ([Hd, D] with D = 105 the embedding width)}}
  %w = pce.route mlp %e mlp(%w1, %b1, %w2, %b2 : tensor<8x100xf32>, tensor<8xf32>, tensor<4x8xf32>, tensor<4xf32>) : tensor<2x16x105xf32>
  return
}

// -----

func.func @route_mlp_w2(%e: tensor<2x16x105xf32>, %w1: tensor<8x105xf32>, %b1: tensor<8xf32>, %w2: tensor<4x7xf32>, %b2: tensor<4xf32>) {
  // expected-error @below {{operand 'mlp W2' has shape [4, 7], expected [4, 8] (Hd = 8 hidden units from W1, E = 4 experts)}}
  %w = pce.route mlp %e mlp(%w1, %b1, %w2, %b2 : tensor<8x105xf32>, tensor<8xf32>, tensor<4x7xf32>, tensor<4xf32>) : tensor<2x16x105xf32>
  return
}

// -----

func.func @route_mlp_b2(%e: tensor<2x16x105xf32>, %w1: tensor<8x105xf32>, %b1: tensor<8xf32>, %w2: tensor<4x8xf32>, %b2: tensor<3xf32>) {
  // expected-error @below {{operand 'mlp b2' has shape [3], expected [4] (Hd = 8 hidden units from W1, E = 4 experts)}}
  %w = pce.route mlp %e mlp(%w1, %b1, %w2, %b2 : tensor<8x105xf32>, tensor<8xf32>, tensor<4x8xf32>, tensor<3xf32>) : tensor<2x16x105xf32>
  return
}

// -----

func.func @route_bad_kind(%p: tensor<2x4x5x9x9xf32>) {
  // expected-error @+1 {{expected string or keyword containing one of the following enum values for attribute 'kind' [uniform, position, cosine, mlp, gumbel]}}
  %w = pce.route random %p experts 2 : tensor<2x4x5x9x9xf32>
  return
}

//===----------------------------------------------------------------------===//
// pce.experts
//===----------------------------------------------------------------------===//

// -----

func.func @experts_patches_rank(%p: tensor<16x5x9x9xf32>, %k: tensor<4x8x5x3x3xf32>, %s: tensor<4x8xf32>) {
  // expected-error @below {{operand 'patches' must have rank 5 ([B, P, C+4, ph+2r, pw+2r]), found rank 4 [16, 5, 9, 9]}}
  %y = pce.experts %p, %k affine(%s, %s : tensor<4x8xf32>, tensor<4x8xf32>) : tensor<16x5x9x9xf32>, tensor<4x8x5x3x3xf32>
  return
}

// -----

func.func @experts_kernels_rank(%p: tensor<1x16x5x9x9xf32>, %k: tensor<8x5x3x3xf32>, %s: tensor<4x8xf32>) {
  // expected-error @below {{operand 'kernels' must have rank 5 ([E, Co, C+4, k, k]), found rank 4 [8, 5, 3, 3]}}
  %y = pce.experts %p, %k affine(%s, %s : tensor<4x8xf32>, tensor<4x8xf32>) : tensor<1x16x5x9x9xf32>, tensor<8x5x3x3xf32>
  return
}

// -----

func.func @experts_channels(%p: tensor<1x16x5x9x9xf32>, %k: tensor<4x8x4x3x3xf32>, %s: tensor<4x8xf32>) {
  // expected-error @below {{operand 'kernels' has 4 input channels, expected 5 (the patches' channels C+4)}}
  %y = pce.experts %p, %k affine(%s, %s : tensor<4x8xf32>, tensor<4x8xf32>) : tensor<1x16x5x9x9xf32>, tensor<4x8x4x3x3xf32>
  return
}

// -----

func.func @experts_square(%p: tensor<1x16x5x9x9xf32>, %k: tensor<4x8x5x3x5xf32>, %s: tensor<4x8xf32>) {
  // expected-error @below {{operand 'kernels' must be square, found 3x5}}
  %y = pce.experts %p, %k affine(%s, %s : tensor<4x8xf32>, tensor<4x8xf32>) : tensor<1x16x5x9x9xf32>, tensor<4x8x5x3x5xf32>
  return
}

// -----

func.func @experts_odd(%p: tensor<1x16x5x9x9xf32>, %k: tensor<4x8x5x2x2xf32>, %s: tensor<4x8xf32>) {
  // expected-error @below {{kernel size must be odd, found 2}}
  %y = pce.experts %p, %k affine(%s, %s : tensor<4x8xf32>, tensor<4x8xf32>) : tensor<1x16x5x9x9xf32>, tensor<4x8x5x2x2xf32>
  return
}

// -----

func.func @experts_kernel_too_big(%p: tensor<1x16x5x3x3xf32>, %k: tensor<4x8x5x5x5xf32>, %s: tensor<4x8xf32>) {
  // expected-error @below {{kernel size 5 exceeds the 3x3 patches}}
  %y = pce.experts %p, %k affine(%s, %s : tensor<4x8xf32>, tensor<4x8xf32>) : tensor<1x16x5x3x3xf32>, tensor<4x8x5x5x5xf32>
  return
}

// -----

func.func @experts_no_norm(%p: tensor<1x16x5x9x9xf32>, %k: tensor<4x8x5x3x3xf32>) {
  // expected-error @below {{needs exactly one of 'bn(gamma, beta, mean, var)' and 'affine(scale, shift)', found neither}}
  %y = pce.experts %p, %k : tensor<1x16x5x9x9xf32>, tensor<4x8x5x3x3xf32>
  return
}

// -----

func.func @experts_both_norms(%p: tensor<1x16x5x9x9xf32>, %k: tensor<4x8x5x3x3xf32>, %s: tensor<4x8xf32>) {
  // expected-error @below {{needs exactly one of 'bn(gamma, beta, mean, var)' and 'affine(scale, shift)', found both}}
  %y = pce.experts %p, %k bn(%s, %s, %s, %s : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) affine(%s, %s : tensor<4x8xf32>, tensor<4x8xf32>) : tensor<1x16x5x9x9xf32>, tensor<4x8x5x3x3xf32>
  return
}

// -----

func.func @experts_bn_count(%p: tensor<1x16x5x9x9xf32>, %k: tensor<4x8x5x3x3xf32>, %s: tensor<4x8xf32>) {
  // expected-error @below {{operand group 'bn' must hold 4 values (gamma, beta, mean, var), found 3}}
  %y = pce.experts %p, %k bn(%s, %s, %s : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) : tensor<1x16x5x9x9xf32>, tensor<4x8x5x3x3xf32>
  return
}

// -----

func.func @experts_bn_shape(%p: tensor<1x16x5x9x9xf32>, %k: tensor<4x8x5x3x3xf32>, %s: tensor<4x8xf32>, %v: tensor<3x8xf32>) {
  // expected-error @below {{operand 'bn var' has shape [3, 8], expected [4, 8] ([E, Co] with E = 4, Co = 8 from the kernels)}}
  %y = pce.experts %p, %k bn(%s, %s, %s, %v : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<3x8xf32>) : tensor<1x16x5x9x9xf32>, tensor<4x8x5x3x3xf32>
  return
}

// -----

func.func @experts_affine_count(%p: tensor<1x16x5x9x9xf32>, %k: tensor<4x8x5x3x3xf32>, %s: tensor<4x8xf32>) {
  // expected-error @below {{operand group 'affine' must hold 2 values (scale, shift), found 1}}
  %y = pce.experts %p, %k affine(%s : tensor<4x8xf32>) : tensor<1x16x5x9x9xf32>, tensor<4x8x5x3x3xf32>
  return
}

// -----

func.func @experts_eps(%p: tensor<1x16x5x9x9xf32>, %k: tensor<4x8x5x3x3xf32>, %s: tensor<4x8xf32>) {
  // expected-error @below {{attribute 'eps' must be > 0, found 0}}
  %y = pce.experts %p, %k bn(%s, %s, %s, %s : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) eps 0.0 : tensor<1x16x5x9x9xf32>, tensor<4x8x5x3x3xf32>
  return
}

//===----------------------------------------------------------------------===//
// pce.mix
//===----------------------------------------------------------------------===//

// -----

func.func @mix_weights_rank(%w: tensor<16x4xf32>, %y: tensor<1x16x4x8x7x7xf32>) {
  // expected-error @below {{operand 'weights' must have rank 3 ([B, P, E]), found rank 2 [16, 4]}}
  %m = pce.mix sum %w, %y : tensor<16x4xf32>, tensor<1x16x4x8x7x7xf32>
  return
}

// -----

func.func @mix_experts_rank(%w: tensor<1x16x4xf32>, %y: tensor<16x4x8x7x7xf32>) {
  // expected-error @below {{operand 'experts' must have rank 6 ([B, P, E, Co, ph, pw]), found rank 5 [16, 4, 8, 7, 7]}}
  %m = pce.mix sum %w, %y : tensor<1x16x4xf32>, tensor<16x4x8x7x7xf32>
  return
}

// -----

func.func @mix_patches(%w: tensor<2x16x4xf32>, %y: tensor<2x9x4x8x7x7xf32>) {
  // expected-error @below {{operand 'weights' is for 2 images x 16 patches but 'experts' is for 2 x 9}}
  %m = pce.mix sum %w, %y : tensor<2x16x4xf32>, tensor<2x9x4x8x7x7xf32>
  return
}

// -----

func.func @mix_num_experts(%w: tensor<1x16x3xf32>, %y: tensor<1x16x4x8x7x7xf32>) {
  // expected-error @below {{operand 'weights' routes to 3 experts but 'experts' holds 4}}
  %m = pce.mix sum %w, %y : tensor<1x16x3xf32>, tensor<1x16x4x8x7x7xf32>
  return
}

// -----

func.func @mix_proj_on_sum(%w: tensor<1x16x4xf32>, %y: tensor<1x16x4x8x7x7xf32>, %wc: tensor<8x32xf32>, %bc: tensor<8xf32>) {
  // expected-error @below {{operand group 'proj' does not apply to 'mix sum'}}
  %m = pce.mix sum %w, %y proj(%wc, %bc : tensor<8x32xf32>, tensor<8xf32>) : tensor<1x16x4xf32>, tensor<1x16x4x8x7x7xf32>
  return
}

// -----

func.func @mix_concat_needs_proj(%w: tensor<1x16x4xf32>, %y: tensor<1x16x4x8x7x7xf32>) {
  // expected-error @below {{operand group 'proj' must hold 2 values (Wc [Co, E*Co], bc [Co]), found 0}}
  %m = pce.mix concat %w, %y : tensor<1x16x4xf32>, tensor<1x16x4x8x7x7xf32>
  return
}

// -----

func.func @mix_proj_shape(%w: tensor<1x16x4xf32>, %y: tensor<1x16x4x8x7x7xf32>, %wc: tensor<8x8xf32>, %bc: tensor<8xf32>) {
  // expected-error @below {{operand 'proj Wc' has shape [8, 8], expected [Co, 32] (E*Co = 4*8)}}
  %m = pce.mix concat %w, %y proj(%wc, %bc : tensor<8x8xf32>, tensor<8xf32>) : tensor<1x16x4xf32>, tensor<1x16x4x8x7x7xf32>
  return
}

// -----

func.func @mix_proj_bias(%w: tensor<1x16x4xf32>, %y: tensor<1x16x4x8x7x7xf32>, %wc: tensor<8x32xf32>, %bc: tensor<4xf32>) {
  // expected-error @below {{operand 'proj bc' has shape [4], expected [8] ([Co] with Co from 'Wc')}}
  %m = pce.mix concat %w, %y proj(%wc, %bc : tensor<8x32xf32>, tensor<4xf32>) : tensor<1x16x4xf32>, tensor<1x16x4x8x7x7xf32>
  return
}

//===----------------------------------------------------------------------===//
// pce.attention
//===----------------------------------------------------------------------===//

// -----

func.func @attention_rank(%x: tensor<1x8x28x28xf32>) {
  // expected-error @below {{operand 'input' must have rank 5 [B, P, Co, ph, pw], found rank 4 [1, 8, 28, 28]}}
  %a = pce.attention none %x : tensor<1x8x28x28xf32>
  return
}

// -----

func.func @attention_weights_on_none(%x: tensor<1x16x8x7x7xf32>, %b: tensor<8xf32>) {
  // expected-error @below {{operand group 'weights' does not apply to 'attention none'}}
  %a = pce.attention none %x weights(%b : tensor<8xf32>) : tensor<1x16x8x7x7xf32>
  return
}

// -----

func.func @attention_se_count(%x: tensor<1x16x8x7x7xf32>, %w1: tensor<2x8xf32>) {
  // expected-error @below {{operand group 'weights' must hold 4 values (W1 [Hd, Co], b1 [Hd], W2 [Co, Hd], b2 [Co]), found 1}}
  %a = pce.attention se %x weights(%w1 : tensor<2x8xf32>) : tensor<1x16x8x7x7xf32>
  return
}

// -----

func.func @attention_se_w1(%x: tensor<1x16x8x7x7xf32>, %w1: tensor<2x4xf32>, %b1: tensor<2xf32>, %w2: tensor<8x2xf32>, %b2: tensor<8xf32>) {
  // expected-error @below {{operand 'weights W1' has shape [2, 4], expected [Hd, 8] (Co = 8 channels)}}
  %a = pce.attention se %x weights(%w1, %b1, %w2, %b2 : tensor<2x4xf32>, tensor<2xf32>, tensor<8x2xf32>, tensor<8xf32>) : tensor<1x16x8x7x7xf32>
  return
}

// -----

func.func @attention_se_w2(%x: tensor<1x16x8x7x7xf32>, %w1: tensor<2x8xf32>, %b1: tensor<2xf32>, %w2: tensor<2x8xf32>, %b2: tensor<8xf32>) {
  // expected-error @below {{operand 'weights W2' has shape [2, 8], expected [8, 2] (Hd = 2 from W1, Co = 8)}}
  %a = pce.attention se %x weights(%w1, %b1, %w2, %b2 : tensor<2x8xf32>, tensor<2xf32>, tensor<2x8xf32>, tensor<8xf32>) : tensor<1x16x8x7x7xf32>
  return
}

//===----------------------------------------------------------------------===//
// pce.unpatchify
//===----------------------------------------------------------------------===//

// -----

func.func @unpatchify_rank(%m: tensor<16x8x7x7xf32>) {
  // expected-error @below {{operand 'input' must have rank 5 ([B, P, Co, ph, pw]), found rank 4 [16, 8, 7, 7]}}
  %o = pce.unpatchify %m grid [4, 4] : tensor<16x8x7x7xf32>
  return
}

// -----

func.func @unpatchify_grid(%m: tensor<1x16x8x7x7xf32>) {
  // expected-error @below {{attribute 'grid' must be 2 positive entries [nph, npw], found [16]}}
  %o = pce.unpatchify %m grid [16] : tensor<1x16x8x7x7xf32>
  return
}

// -----

func.func @unpatchify_grid_count(%m: tensor<1x16x8x7x7xf32>) {
  // expected-error @below {{attribute 'grid' [2, 4] has 8 patches, but the input has 16}}
  %o = pce.unpatchify %m grid [2, 4] : tensor<1x16x8x7x7xf32>
  return
}

//===----------------------------------------------------------------------===//
// pce.layer
//===----------------------------------------------------------------------===//

// -----

func.func @layer_patch(%x: tensor<1x1x28x28xf32>, %k: tensor<4x8x5x3x3xf32>, %s: tensor<4x8xf32>) {
  // expected-error @below {{input width 28 is not divisible by patch width 6}}
  %y = pce.layer %x patch [7, 6] router uniform experts(%k : tensor<4x8x5x3x3xf32>) affine(%s, %s : tensor<4x8xf32>, tensor<4x8xf32>) : tensor<1x1x28x28xf32>
  return
}

// -----

func.func @layer_even_kernel(%x: tensor<1x1x28x28xf32>, %k: tensor<4x8x5x4x4xf32>, %s: tensor<4x8xf32>) {
  // expected-error @below {{kernel size must be odd, found 4}}
  %y = pce.layer %x patch [7, 7] router uniform experts(%k : tensor<4x8x5x4x4xf32>) affine(%s, %s : tensor<4x8xf32>, tensor<4x8xf32>) : tensor<1x1x28x28xf32>
  return
}

// -----

func.func @layer_coordinate_channels(%x: tensor<1x3x28x28xf32>, %k: tensor<4x8x3x3x3xf32>, %s: tensor<4x8xf32>) {
  // expected-error @below {{operand 'kernels' has 3 input channels, expected 7 (the patches' channels C+4)}}
  %y = pce.layer %x patch [7, 7] router uniform experts(%k : tensor<4x8x3x3x3xf32>) affine(%s, %s : tensor<4x8xf32>, tensor<4x8xf32>) : tensor<1x3x28x28xf32>
  return
}

// -----

func.func @layer_needs_embed(%x: tensor<1x1x28x28xf32>, %keys: tensor<4x105xf32>, %k: tensor<4x8x5x3x3xf32>, %s: tensor<4x8xf32>) {
  // expected-error @below {{a 'cosine' router reads embeddings: operand group 'embed(We [De, C+4], be [De])' must hold 2 values, found 0}}
  %y = pce.layer %x patch [7, 7] router cosine keys(%keys : tensor<4x105xf32>) experts(%k : tensor<4x8x5x3x3xf32>) affine(%s, %s : tensor<4x8xf32>, tensor<4x8xf32>) : tensor<1x1x28x28xf32>
  return
}

// -----

func.func @layer_embed_on_position(%x: tensor<1x1x28x28xf32>, %we: tensor<5x5xf32>, %be: tensor<5xf32>, %k: tensor<4x8x5x3x3xf32>, %s: tensor<4x8xf32>) {
  // expected-error @below {{operand group 'embed' does not apply to a 'position' router}}
  %y = pce.layer %x patch [7, 7] embed(%we, %be : tensor<5x5xf32>, tensor<5xf32>) router position experts(%k : tensor<4x8x5x3x3xf32>) affine(%s, %s : tensor<4x8xf32>, tensor<4x8xf32>) : tensor<1x1x28x28xf32>
  return
}

// -----

func.func @layer_embed_width(%x: tensor<1x1x28x28xf32>, %we: tensor<5x4xf32>, %be: tensor<5xf32>, %keys: tensor<4x105xf32>, %k: tensor<4x8x5x3x3xf32>, %s: tensor<4x8xf32>) {
  // expected-error @below {{operand 'weight' has 4 input channels, expected 5 (the patches' channels C+4)}}
  %y = pce.layer %x patch [7, 7] embed(%we, %be : tensor<5x4xf32>, tensor<5xf32>) router cosine keys(%keys : tensor<4x105xf32>) experts(%k : tensor<4x8x5x3x3xf32>) affine(%s, %s : tensor<4x8xf32>, tensor<4x8xf32>) : tensor<1x1x28x28xf32>
  return
}

// -----

func.func @layer_keys_vs_kernels(%x: tensor<1x1x28x28xf32>, %we: tensor<5x5xf32>, %be: tensor<5xf32>, %keys: tensor<3x105xf32>, %k: tensor<4x8x5x3x3xf32>, %s: tensor<4x8xf32>) {
  // expected-error @below {{operand 'keys' has shape [3, 105], expected [4, 105] ([E, D] with E = 4 experts, D = 105 the embedding width)}}
  %y = pce.layer %x patch [7, 7] embed(%we, %be : tensor<5x5xf32>, tensor<5xf32>) router cosine keys(%keys : tensor<3x105xf32>) experts(%k : tensor<4x8x5x3x3xf32>) affine(%s, %s : tensor<4x8xf32>, tensor<4x8xf32>) : tensor<1x1x28x28xf32>
  return
}

// -----

func.func @layer_levels_width(%x: tensor<1x1x28x28xf32>, %we: tensor<5x5xf32>, %be: tensor<5xf32>, %keys: tensor<4x105xf32>, %k: tensor<4x8x5x3x3xf32>, %s: tensor<4x8xf32>) {
  // expected-error @below {{operand 'keys' has shape [4, 105], expected [4, 25] ([E, D] with E = 4 experts, D = 25 the embedding width)}}
  %y = pce.layer %x patch [7, 7] embed(%we, %be : tensor<5x5xf32>, tensor<5xf32>) levels [1, 2] router cosine keys(%keys : tensor<4x105xf32>) experts(%k : tensor<4x8x5x3x3xf32>) affine(%s, %s : tensor<4x8xf32>, tensor<4x8xf32>) : tensor<1x1x28x28xf32>
  return
}

// -----

func.func @layer_top_k(%x: tensor<1x1x28x28xf32>, %k: tensor<4x8x5x3x3xf32>, %s: tensor<4x8xf32>) {
  // expected-error @below {{attribute 'top_k' must be in [0, 4] (0 = dense, E = 4 experts), found 6}}
  %y = pce.layer %x patch [7, 7] router position top_k 6 experts(%k : tensor<4x8x5x3x3xf32>) affine(%s, %s : tensor<4x8xf32>, tensor<4x8xf32>) : tensor<1x1x28x28xf32>
  return
}

// -----

func.func @layer_table(%x: tensor<1x1x28x28xf32>, %k: tensor<2x8x5x3x3xf32>, %s: tensor<2x8xf32>) {
  // expected-error @below {{attribute 'table' has 4 entries, expected one per patch (P = 16)}}
  %y = pce.layer %x patch [7, 7] router position table [0, 1, 1, 0] experts(%k : tensor<2x8x5x3x3xf32>) affine(%s, %s : tensor<2x8xf32>, tensor<2x8xf32>) : tensor<1x1x28x28xf32>
  return
}

// -----

func.func @layer_bn_shape(%x: tensor<1x1x28x28xf32>, %k: tensor<4x8x5x3x3xf32>, %s: tensor<4x8xf32>, %t: tensor<4x4xf32>) {
  // expected-error @below {{operand 'affine shift' has shape [4, 4], expected [4, 8] ([E, Co] with E = 4, Co = 8 from the kernels)}}
  %y = pce.layer %x patch [7, 7] router uniform experts(%k : tensor<4x8x5x3x3xf32>) affine(%s, %t : tensor<4x8xf32>, tensor<4x4xf32>) : tensor<1x1x28x28xf32>
  return
}

// -----

func.func @layer_concat_proj(%x: tensor<1x1x28x28xf32>, %k: tensor<4x8x5x3x3xf32>, %s: tensor<4x8xf32>, %wc: tensor<8x16xf32>, %bc: tensor<8xf32>) {
  // expected-error @below {{operand 'proj Wc' has shape [8, 16], expected [Co, 32] (E*Co = 4*8)}}
  %y = pce.layer %x patch [7, 7] router uniform experts(%k : tensor<4x8x5x3x3xf32>) affine(%s, %s : tensor<4x8xf32>, tensor<4x8xf32>) mix concat proj(%wc, %bc : tensor<8x16xf32>, tensor<8xf32>) : tensor<1x1x28x28xf32>
  return
}

// -----

func.func @layer_se_after_sum(%x: tensor<1x1x28x28xf32>, %k: tensor<4x8x5x3x3xf32>, %s: tensor<4x8xf32>, %w1: tensor<2x8xf32>, %b1: tensor<2xf32>, %w2: tensor<8x2xf32>, %b2: tensor<8xf32>) {
  // expected-error @below {{'attention se' follows a 'mix concat' (SEMANTICS.md §4), found 'mix sum'}}
  %y = pce.layer %x patch [7, 7] router uniform experts(%k : tensor<4x8x5x3x3xf32>) affine(%s, %s : tensor<4x8xf32>, tensor<4x8xf32>) attention se se(%w1, %b1, %w2, %b2 : tensor<2x8xf32>, tensor<2xf32>, tensor<8x2xf32>, tensor<8xf32>) : tensor<1x1x28x28xf32>
  return
}

// -----

func.func @layer_se_on_none(%x: tensor<1x1x28x28xf32>, %k: tensor<4x8x5x3x3xf32>, %s: tensor<4x8xf32>, %b2: tensor<8xf32>) {
  // expected-error @below {{operand group 'se' does not apply to 'attention none'}}
  %y = pce.layer %x patch [7, 7] router uniform experts(%k : tensor<4x8x5x3x3xf32>) affine(%s, %s : tensor<4x8xf32>, tensor<4x8xf32>) se(%b2 : tensor<8xf32>) : tensor<1x1x28x28xf32>
  return
}

// -----

func.func @layer_se_shape(%x: tensor<1x1x28x28xf32>, %k: tensor<4x8x5x3x3xf32>, %s: tensor<4x8xf32>, %wc: tensor<6x32xf32>, %bc: tensor<6xf32>, %w1: tensor<2x8xf32>, %b1: tensor<2xf32>, %w2: tensor<8x2xf32>, %b2: tensor<8xf32>) {
  // expected-error @below {{operand 'se W1' has shape [2, 8], expected [Hd, 6] (Co = 6 channels)}}
  %y = pce.layer %x patch [7, 7] router uniform experts(%k : tensor<4x8x5x3x3xf32>) affine(%s, %s : tensor<4x8xf32>, tensor<4x8xf32>) mix concat proj(%wc, %bc : tensor<6x32xf32>, tensor<6xf32>) attention se se(%w1, %b1, %w2, %b2 : tensor<2x8xf32>, tensor<2xf32>, tensor<8x2xf32>, tensor<8xf32>) : tensor<1x1x28x28xf32>
  return
}

// -----

func.func @layer_bad_mix(%x: tensor<1x1x28x28xf32>, %k: tensor<4x8x5x3x3xf32>, %s: tensor<4x8xf32>) {
  // expected-error @+1 {{expected string or keyword containing one of the following enum values for attribute 'mix' [sum, concat]}}
  %y = pce.layer %x patch [7, 7] router uniform experts(%k : tensor<4x8x5x3x3xf32>) affine(%s, %s : tensor<4x8xf32>, tensor<4x8xf32>) mix product : tensor<1x1x28x28xf32>
  return
}
