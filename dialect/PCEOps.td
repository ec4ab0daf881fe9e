//===- PCEOps.td - operations of the pce dialect ------------*- tablegen -*-===//
//
// Each op's description states its math briefly; docs/SEMANTICS.md is the
// full contract and docs/Rationale.md records the decisions it left open.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_OPS_TD
#define PCE_OPS_TD

include "dialect/PCEDialect.td"
include "dialect/PCEEnums.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/CommonAttrConstraints.td"

def PCE_FloatTensor : RankedTensorOf<[AnyFloat]>;

class PCE_InferredOp<string mnemonic, list<Trait> traits = []>
    : PCE_Op<mnemonic, !listconcat(traits,
        [Pure, InferTypeOpAdaptor])> {
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// patchify
//===----------------------------------------------------------------------===//

def PCE_PatchifyOp : PCE_InferredOp<"patchify"> {
  let summary = "cut a feature map into patches with a halo and 4 coordinate channels";
  let description = [{
    Cuts `input [B, C, H, W]` into `P = (H/ph)*(W/pw)` patches, numbered row
    major, each extended by a halo of `radius` pixels on every side (the
    expert convolution's `r = k/2`), and appends four coordinate channels:
    row and column inside the patch, row and column of the patch in the
    image, each `lin(n, i) = 2*i/(n-1) - 1` (`0` when `n == 1`). The result
    is `[B, P, C+4, ph+2r, pw+2r]`.

    With `halo context` (the default) halo pixels are the neighbours' pixels
    (zero outside the image); with `halo isolated` they are zero. Coordinate
    channels are the same in both modes and extrapolate past `[-1, 1]` on the
    halo.

    ```mlir
    %p = pce.patchify %x patch [7, 7] radius 1 : tensor<2x1x28x28xf32>
    // %p : tensor<2x16x5x9x9xf32>
    ```
  }];
  let arguments = (ins PCE_FloatTensor:$input,
                       DenseI64ArrayAttr:$patch,
                       DefaultValuedAttr<I64Attr, "0">:$radius,
                       DefaultValuedAttr<PCE_HaloMode, "::mlir::pce::HaloMode::context">:$halo);
  let results = (outs PCE_FloatTensor:$result);
  let assemblyFormat = [{
    $input `patch` $patch (`radius` $radius^)? (`halo` $halo^)? attr-dict `:` type($input)
  }];
}

//===----------------------------------------------------------------------===//
// embed
//===----------------------------------------------------------------------===//

def PCE_EmbedOp : PCE_InferredOp<"embed"> {
  let summary = "patch embedding: 1x1 convolution then spatial pyramid max pooling";
  let description = [{
    For each patch of `patches [B, P, Cin, ph+2r, pw+2r]` takes the core
    (offsets `r .. r+ph-1`, `r .. r+pw-1`), applies `z = weight * core + bias`
    (a 1x1 convolution, `weight [De, Cin]`, `bias [De]`), then adaptive max
    pooling to `l x l` bins for each of `levels` (default `[1, 2, 4]`), bin
    `(u, v)` covering rows `floor(u*ph/l) .. ceil((u+1)*ph/l)-1`. Each level
    flattens channel-major; levels are concatenated in order. The result is
    `[B, P, D]` with `D = De * sum(l*l)`.

    ```mlir
    %e = pce.embed %p, %we, %be radius 1
           : tensor<2x16x5x9x9xf32>, tensor<5x5xf32>, tensor<5xf32>
    // %e : tensor<2x16x105xf32>
    ```
  }];
  let arguments = (ins PCE_FloatTensor:$patches,
                       PCE_FloatTensor:$weight,
                       PCE_FloatTensor:$bias,
                       DefaultValuedAttr<I64Attr, "0">:$radius,
                       DefaultValuedAttr<DenseI64ArrayAttr, "{1, 2, 4}">:$levels);
  let results = (outs PCE_FloatTensor:$result);
  let assemblyFormat = [{
    $patches `,` $weight `,` $bias (`radius` $radius^)? (`levels` $levels^)? attr-dict
    `:` type($patches) `,` type($weight) `,` type($bias)
  }];
}

//===----------------------------------------------------------------------===//
// route
//===----------------------------------------------------------------------===//

def PCE_RouteOp : PCE_InferredOp<"route", [AttrSizedOperandSegments]> {
  let summary = "router: weights of every patch over the experts";
  let description = [{
    Computes routing weights `[B, P, E]`; each row sums to 1 before top-k.

    | kind | weights | operands |
    |---|---|---|
    | `uniform` | `1/E` | none (`experts E` required) |
    | `position` | `softmax(beta*[e == table[p]])`; noise only in training | none (`experts E` required) |
    | `cosine` | `softmax(cos(emb, k_e) / tau)` | `keys [E, D]` |
    | `mlp` | `softmax(W2 h + b2)`, `h = relu(W1 u + b1)`, `u = emb` or, with `normalize_input`, `emb / max(|emb|, 1e-12)` | `mlp(W1 [Hd,D], b1 [Hd], W2 [E,Hd], b2 [E])` |
    | `mlp` `cosine_head` | `softmax(cos(h, W2_e) / tau)`, `h` as above | `mlp(W1 [Hd,D], b1 [Hd], W2 [E,Hd])` |
    | `mlp` `linear_hidden` | as above with `h = W1 u + b1` (no ReLU) | as above |
    | `gumbel` | inference: `softmax(cos / tau)` | `keys [E, D]` |

    The routed operand is the embeddings `[B, P, D]` for `cosine`, `mlp` and
    `gumbel`; `uniform` and `position` only read its two leading dimensions
    `B, P`, so any tensor of rank >= 2 (e.g. the patches) may be routed.

    `tau` is the temperature (default 1); `log_tau(%t : tensor<f32>)` makes it
    a learnable value `exp(%t)` instead, and `tau` then only says where it
    starts (`%t`'s initialiser in the manifest is `log tau`). `top_k = k > 0` keeps the `k` largest
    weights (ties: lower expert index first) and zeroes the others, dividing
    the kept ones by their sum only with `renormalize`. `table` maps each
    patch to its expert for `position` (default `p mod E`), `beta`/`sigma`
    are its logit scale and training noise; `gumbel_tau` and `hard` configure
    the training-time Gumbel softmax. `normalize_input` (MLP only) feeds the
    MLP unit-length embeddings, which bounds its first layer's input as the
    cosine router's is (docs/Rationale.md, "The MLP router reads unit
    embeddings"). `cosine_head` (MLP only) replaces the MLP's output layer by a
    cosine router over its hidden features, with `W2`'s rows as the keys and
    no `b2`: its logits are bounded by `1/tau` and have no part that is the
    same for every input (docs/Rationale.md, "The MLP router's cosine head");
    `tau` and `log_tau` then apply as for `cosine`. `linear_hidden` (MLP only)
    drops the ReLU: `h = W1 u + b1` is signed, so with `cosine_head` the router
    is X-MoE's, a cosine router in a learned projection (docs/Rationale.md).

    ```mlir
    %w = pce.route cosine %e keys(%k : tensor<4x105xf32>) tau 5.000000e-01 top_k 1
           : tensor<2x16x105xf32>
    // %w : tensor<2x16x4xf32>
    ```
  }];
  let arguments = (ins PCE_RouterKind:$kind,
                       PCE_FloatTensor:$input,
                       Optional<PCE_FloatTensor>:$keys,
                       Variadic<PCE_FloatTensor>:$mlp,
                       Optional<0DTensorOf<[AnyFloat]>>:$log_tau,
                       OptionalAttr<I64Attr>:$num_experts,
                       OptionalAttr<F64Attr>:$tau,
                       DefaultValuedAttr<I64Attr, "0">:$top_k,
                       UnitAttr:$renormalize,
                       OptionalAttr<DenseI64ArrayAttr>:$table,
                       DefaultValuedAttr<F64Attr, "1.0">:$beta,
                       DefaultValuedAttr<F64Attr, "0.0">:$sigma,
                       DefaultValuedAttr<F64Attr, "1.0">:$gumbel_tau,
                       UnitAttr:$hard,
                       UnitAttr:$normalize_input,
                       UnitAttr:$cosine_head,
                       UnitAttr:$linear_hidden);
  let results = (outs PCE_FloatTensor:$result);
  let assemblyFormat = [{
    $kind $input
    (`keys` `(` $keys^ `:` type($keys) `)`)?
    (`mlp` `(` $mlp^ `:` type($mlp) `)`)?
    (`log_tau` `(` $log_tau^ `:` type($log_tau) `)`)?
    (`experts` $num_experts^)?
    (`tau` $tau^)?
    (`top_k` $top_k^)?
    (`renormalize` $renormalize^)?
    (`table` $table^)?
    (`beta` $beta^)?
    (`sigma` $sigma^)?
    (`gumbel_tau` $gumbel_tau^)?
    (`hard` $hard^)?
    (`normalize_input` $normalize_input^)?
    (`cosine_head` $cosine_head^)?
    (`linear_hidden` $linear_hidden^)?
    attr-dict `:` type($input)
  }];
  let extraClassDeclaration = [{
    /// The number of experts E, from the keys, the MLP or `experts`.
    int64_t getNumExpertsValue();
    /// The temperature attribute, or 1 when absent.
    double getTauValue() { return getTau() ? getTau()->convertToDouble() : 1.0; }
  }];
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

//===----------------------------------------------------------------------===//
// experts
//===----------------------------------------------------------------------===//

def PCE_ExpertsOp : PCE_InferredOp<"experts", [AttrSizedOperandSegments]> {
  let summary = "E convolutional experts: Conv-BN-ReLU over every patch";
  let description = [{
    Expert `e` computes `relu(BN_e(conv(patch, K_e)))` with a valid
    convolution of `kernels [E, Co, Cin, k, k]` (`k` odd, no bias) over each
    patch `[Cin, ph+2r, pw+2r]` of `patches [B, P, Cin, ph+2r, pw+2r]`; the
    result is `[B, P, E, Co, ph, pw]` with `ph = ph+2r-k+1`.

    Batch normalisation is given either as `bn(gamma, beta, mean, var)`
    (each `[E, Co]`; `y = gamma*(x-mean)/sqrt(var+eps) + beta`, `eps`
    default 1e-5) or, folded, as `affine(scale, shift)` (`y = scale*x + shift`).

    ```mlir
    %y = pce.experts %p, %k bn(%g, %b, %m, %v : tensor<4x8xf32>, tensor<4x8xf32>,
           tensor<4x8xf32>, tensor<4x8xf32>) : tensor<2x16x5x9x9xf32>, tensor<4x8x5x3x3xf32>
    // %y : tensor<2x16x4x8x7x7xf32>
    ```
  }];
  let arguments = (ins PCE_FloatTensor:$patches,
                       PCE_FloatTensor:$kernels,
                       Variadic<PCE_FloatTensor>:$bn,
                       Variadic<PCE_FloatTensor>:$affine,
                       DefaultValuedAttr<F64Attr, "1.0e-5">:$eps);
  let results = (outs PCE_FloatTensor:$result);
  let assemblyFormat = [{
    $patches `,` $kernels
    (`bn` `(` $bn^ `:` type($bn) `)`)?
    (`affine` `(` $affine^ `:` type($affine) `)`)?
    (`eps` $eps^)?
    attr-dict `:` type($patches) `,` type($kernels)
  }];
}

//===----------------------------------------------------------------------===//
// mix
//===----------------------------------------------------------------------===//

def PCE_MixOp : PCE_InferredOp<"mix"> {
  let summary = "combine the experts' outputs with the routing weights";
  let description = [{
    `sum`: `out[b,p] = sum_e weights[b,p,e] * experts[b,p,e]`.

    `concat`: `out = conv1x1(concat_e(weights_e * experts_e); Wc, bc)` with
    `proj(Wc [Co, E*Co], bc [Co])`; channel `e*Co + c` of the concatenation
    is channel `c` of expert `e`.

    `weights [B, P, E]`, `experts [B, P, E, Co, ph, pw]`; the result is
    `[B, P, Co, ph, pw]`.

    ```mlir
    %m = pce.mix sum %w, %y : tensor<2x16x4xf32>, tensor<2x16x4x8x7x7xf32>
    ```
  }];
  let arguments = (ins PCE_MixKind:$kind,
                       PCE_FloatTensor:$weights,
                       PCE_FloatTensor:$experts,
                       Variadic<PCE_FloatTensor>:$proj);
  let results = (outs PCE_FloatTensor:$result);
  let assemblyFormat = [{
    $kind $weights `,` $experts (`proj` `(` $proj^ `:` type($proj) `)`)? attr-dict
    `:` type($weights) `,` type($experts)
  }];
  let hasCanonicalizer = 1;
}

//===----------------------------------------------------------------------===//
// attention
//===----------------------------------------------------------------------===//

def PCE_AttentionOp : PCE_Op<"attention",
    [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "attention module on mixed patches (squeeze-excitation or none)";
  let description = [{
    `se`: for each patch of `input [B, P, Co, ph, pw]`,
    `out = input * sigmoid(W2 relu(W1 avgpool(input) + b1) + b2)` where
    `avgpool` averages the patch's `ph x pw` pixels per channel, with
    `weights(W1 [Hd, Co], b1 [Hd], W2 [Co, Hd], b2 [Co])` (the decomposition of
    `pce.layer` uses `Hd = max(1, Co/4)`, reduction 4). `none` is the identity
    and folds away.

    ```mlir
    %a = pce.attention se %m weights(%w1, %b1, %w2, %b2 : tensor<2x8xf32>,
           tensor<2xf32>, tensor<8x2xf32>, tensor<8xf32>) : tensor<2x16x8x7x7xf32>
    ```
  }];
  let arguments = (ins PCE_AttentionKind:$kind,
                       PCE_FloatTensor:$input,
                       Variadic<PCE_FloatTensor>:$weights);
  let results = (outs PCE_FloatTensor:$result);
  let assemblyFormat = [{
    $kind $input (`weights` `(` $weights^ `:` type($weights) `)`)? attr-dict `:` type($input)
  }];
  let hasFolder = 1;
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// unpatchify
//===----------------------------------------------------------------------===//

def PCE_UnpatchifyOp : PCE_InferredOp<"unpatchify"> {
  let summary = "put patches back into a feature map";
  let description = [{
    Places patch `p = a*npw + b` of `input [B, P, Co, ph, pw]` at rows
    `a*ph ..`, columns `b*pw ..` of the result `[B, Co, nph*ph, npw*pw]`,
    where `grid = [nph, npw]` and `P = nph*npw`.

    ```mlir
    %o = pce.unpatchify %m grid [4, 4] : tensor<2x16x8x7x7xf32>
    // %o : tensor<2x8x28x28xf32>
    ```
  }];
  let arguments = (ins PCE_FloatTensor:$input, DenseI64ArrayAttr:$grid);
  let results = (outs PCE_FloatTensor:$result);
  let assemblyFormat = "$input `grid` $grid attr-dict `:` type($input)";
}

//===----------------------------------------------------------------------===//
// layer (composite)
//===----------------------------------------------------------------------===//

def PCE_LayerOp : PCE_InferredOp<"layer", [AttrSizedOperandSegments]> {
  let summary = "a whole PCE layer: patchify, embed, route, experts, mix, attention, unpatchify";
  let description = [{
    A composite carrying one layer's configuration; `pce-decompose-layer`
    rewrites it into the primitive ops. Maps `input [B, C, H, W]` to
    `[B, Co, H, W]`.

    Operand groups (each present only when the configuration needs it):
    `embed(We [De, C+4], be [De])` for routers that read embeddings
    (`cosine`, `mlp`, `gumbel`); `keys(...)`, `mlp(...)`, `log_tau(...)` as for
    `pce.route`; `experts(K [E, Co, C+4, k, k])`; `bn(...)` or `affine(...)` as
    for `pce.experts`; `proj(Wc, bc)` for `mix concat`; `se(W1, b1, W2, b2)`
    for `attention se` (only after `mix concat`).

    ```mlir
    %y = pce.layer %x patch [7, 7]
           embed(%we, %be : tensor<5x5xf32>, tensor<5xf32>)
           router cosine keys(%keys : tensor<4x105xf32>) tau 5.000000e-01 top_k 1
           experts(%k : tensor<4x8x5x3x3xf32>)
           bn(%g, %b, %m, %v : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>)
           : tensor<2x1x28x28xf32>
    // %y : tensor<2x8x28x28xf32>
    ```
  }];
  let arguments = (ins PCE_FloatTensor:$input,
                       Variadic<PCE_FloatTensor>:$embed,
                       Optional<PCE_FloatTensor>:$keys,
                       Variadic<PCE_FloatTensor>:$mlp,
                       Optional<0DTensorOf<[AnyFloat]>>:$log_tau,
                       PCE_FloatTensor:$kernels,
                       Variadic<PCE_FloatTensor>:$bn,
                       Variadic<PCE_FloatTensor>:$affine,
                       Variadic<PCE_FloatTensor>:$proj,
                       Variadic<PCE_FloatTensor>:$se,
                       DenseI64ArrayAttr:$patch,
                       DefaultValuedAttr<PCE_HaloMode, "::mlir::pce::HaloMode::context">:$halo,
                       DefaultValuedAttr<DenseI64ArrayAttr, "{1, 2, 4}">:$levels,
                       PCE_RouterKind:$router,
                       OptionalAttr<F64Attr>:$tau,
                       DefaultValuedAttr<I64Attr, "0">:$top_k,
                       UnitAttr:$renormalize,
                       OptionalAttr<DenseI64ArrayAttr>:$table,
                       DefaultValuedAttr<F64Attr, "1.0">:$beta,
                       DefaultValuedAttr<F64Attr, "0.0">:$sigma,
                       DefaultValuedAttr<F64Attr, "1.0">:$gumbel_tau,
                       UnitAttr:$hard,
                       UnitAttr:$normalize_input,
                       UnitAttr:$cosine_head,
                       UnitAttr:$linear_hidden,
                       DefaultValuedAttr<F64Attr, "1.0e-5">:$eps,
                       DefaultValuedAttr<PCE_MixKind, "::mlir::pce::MixKind::sum">:$mix,
                       DefaultValuedAttr<PCE_AttentionKind, "::mlir::pce::AttentionKind::none">:$attention);
  let results = (outs PCE_FloatTensor:$result);
  let assemblyFormat = [{
    $input `patch` $patch (`halo` $halo^)?
    (`embed` `(` $embed^ `:` type($embed) `)`)? (`levels` $levels^)?
    `router` $router
    (`keys` `(` $keys^ `:` type($keys) `)`)?
    (`mlp` `(` $mlp^ `:` type($mlp) `)`)?
    (`log_tau` `(` $log_tau^ `:` type($log_tau) `)`)?
    (`tau` $tau^)?
    (`top_k` $top_k^)?
    (`renormalize` $renormalize^)?
    (`table` $table^)?
    (`beta` $beta^)?
    (`sigma` $sigma^)?
    (`gumbel_tau` $gumbel_tau^)?
    (`hard` $hard^)?
    (`normalize_input` $normalize_input^)?
    (`cosine_head` $cosine_head^)?
    (`linear_hidden` $linear_hidden^)?
    `experts` `(` $kernels `:` type($kernels) `)`
    (`bn` `(` $bn^ `:` type($bn) `)`)?
    (`affine` `(` $affine^ `:` type($affine) `)`)?
    (`eps` $eps^)?
    (`mix` $mix^)?
    (`proj` `(` $proj^ `:` type($proj) `)`)?
    (`attention` $attention^)?
    (`se` `(` $se^ `:` type($se) `)`)?
    attr-dict `:` type($input)
  }];
  let hasCanonicalizer = 1;
}

#endif // PCE_OPS_TD
