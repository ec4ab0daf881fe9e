//===- Passes.td ---------------------------------------*- tablegen -*-===//
//
// pce -> pce transforms: decomposition, routing outputs, training outlines, fusions.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_PASSES_TRANSFORMS_PASSES_TD
#define PCE_PASSES_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def DecomposeLayer : Pass<"pce-decompose-layer"> {
  let summary = "Rewrite pce.layer into patchify, embed, route, experts, mix, attention, unpatchify";
  let description = [{
    Replaces every `pce.layer` by the primitive ops it stands for, with the
    halo radius `r = k/2` of its kernels:

    ```
    %p = pce.patchify %x patch [ph, pw] radius r halo H
    %e = pce.embed %p, %We, %be radius r levels L    // cosine, mlp, gumbel only
    %w = pce.route KIND %e ...                       // uniform/position route %p
    %y = pce.experts %p, %K bn(...) | affine(...)
    %m = pce.mix sum|concat %w, %y proj(...)
    %a = pce.attention se %m weights(...)            // attention se only
    %o = pce.unpatchify %m grid [H/ph, W/pw]
    ```

    Ops other than `pce.layer` are left alone. The pass cannot fail on
    verified IR: every rule it relies on is a `pce.layer` verifier rule.
  }];
  let dependentDialects = ["::mlir::pce::PCEDialect"];
}

def OutlineLayers : Pass<"pce-outline-layers", "::mlir::ModuleOp"> {
  let summary = "Copy every pce.layer into a function of its own, for training";
  let description = [{
    For every `pce.layer` in a public function, adds a public function named
    after the layer (the prefix of its parameters' names, `layer1` for
    `layer1.experts.kernel`) that maps `{pce.input = "x"}` and the layer's
    parameters (with their `pce.param` names) to `{pce.output = "y"}`:

    ```mlir
    func.func @layer1(%x: tensor<16x8x28x28xf32> {pce.input = "x"},
                      %k: tensor<4x16x12x3x3xf32> {pce.param = "layer1.experts.kernel"}, ...)
        -> (tensor<16x16x28x28xf32> {pce.output = "y"})
        attributes {pce.differentiable, pce.layer_name = "layer1"}
    ```

    The new functions are marked `pce.differentiable` for
    `pce-generate-backward`, and `pce-expose-routing` names their router
    `<layer name>.routing`. The original functions are left as they are. This
    is how `pce-compile --training` gives `pce-train` one entry point per
    layer (docs/Training.md). Two layers whose parameters share a prefix, or a
    layer whose parameters are not function arguments, are errors.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

def SparseDispatch : Pass<"pce-sparse-dispatch"> {
  let summary = "Compute only the routed experts of a top-k router, fused with the mix";
  let description = [{
    Rewrites `pce.mix sum %w, %y` whose weights come from a `pce.route` with
    `top_k = k` (`0 < k < E`) and whose experts `%y = pce.experts` have no
    other user into loops over the patches and the experts that compute
    expert `e` on patch `(b, p)` only when `w[b, p, e] != 0` and accumulate
    `w * y` into the mixed output (docs/SEMANTICS.md §4):

    ```mlir
    %w = pce.route position %p experts 4 top_k 1 : tensor<2x4x5x6x6xf32>
    %y = pce.experts %p, %k affine(%s, %t : ...) : ...
    %m = pce.mix sum %w, %y : tensor<2x4x4xf32>, tensor<2x4x4x8x4x4xf32>
    // becomes
    scf.for %b ... { scf.for %p ... { scf.for %e ... {
      %we = tensor.extract %w[%b, %p, %e]
      scf.if (%we != 0) {
        %c = linalg.conv_2d_nchw_fchw ins(%patch, %kernel : tensor<1x5x6x6xf32>, tensor<8x5x3x3xf32>) ...
        linalg.generic ... // acc + %we * relu(scale[e] * %c + shift[e])
      }
    }}}
    ```

    The per-(patch, expert) convolution reads contiguous slices, so
    `pce-vectorize-convolutions` still vectorizes it after bufferization.
    Runs on pce ops before `pce-lower-to-linalg`, which lowers the router and
    the patches. Dense routers (`top_k` 0 or `>= E`), experts with another
    user, `concat` mixes and dynamic shapes are left alone.

    With `read-image` (the default) and patches from a context-halo
    `pce.patchify` (as pce-fuse-patches requires), each routed pair's
    convolution reads its window `[1, C, ph+2r, pw+2r]` of the zero-padded
    feature map instead of the patch, with the kernel's C image channels,
    and its epilogue adds the coordinate channels' term `[P, E, Co, ph, pw]`
    (computed once, independent of the input): the halo patches are not
    built, and the embedding and routers read patch cores
    (`[B, P, C+4, ph, pw]`) instead.
  }];
  let options = [
    Option<"readImage", "read-image", "bool", /*default=*/"true",
           "Convolve windows of the padded feature map instead of patches">
  ];

  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def FoldBatchNorm : Pass<"pce-fold-batch-norm"> {
  let summary = "Fold the experts' inference batch norm into their kernels and a bias";
  let description = [{
    Rewrites `pce.experts %p, %K bn(%gamma, %beta, %mean, %var)` (running
    statistics: inference semantics) into
    `pce.experts %p, %K' affine(%ones, %shift)` with
    `scale = gamma / sqrt(var + eps)`, `K'[e, o] = scale[e, o] * K[e, o]` and
    `shift = beta - mean * scale` (the bias), since the convolution is linear
    in its kernel. `%ones` is a constant that the lowerings recognise: the
    experts' epilogue becomes `relu(conv + shift)`, one multiply per output
    element fewer. Experts given `affine(...)` and dynamic shapes are left
    alone. Training does not see it: pce-generate-backward has replaced
    training experts (batch statistics) before the pipeline runs.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def FusePatches : Pass<"pce-fuse-patches"> {
  let summary = "Expert convolutions read the feature map, not the patches";
  let description = [{
    Rewrites `pce.experts` over `pce.patchify %x patch [ph, pw] radius r`
    with a context halo into linalg on tensors that never builds the patches
    `[B, P, C+4, ph+2r, pw+2r]`:

    - the image part: one `linalg.conv_2d_nchw_fchw` of the zero-padded
      feature map `[B, C, H+2r, W+2r]` with the kernels' first C channels as
      `E*Co` filters, `[B, E*Co, H, W]` (a context halo is exactly the padded
      image around the patch);
    - the coordinate part, independent of the input, `[P, E*Co, ph, pw]`: the
      coordinate planes convolved with the kernels' last 4 channels, computed
      as a per-row, a per-column and a per-patch term (each plane varies
      along one index only) from constant tables of `lin` values;
    - one epilogue `relu(scale * (image + coordinates) + shift)` over
      `(b, a, bcol, e, o, i, j)` into `[B, nph, npw, E, Co, ph, pw]`,
      collapsed to `[B, P, E, Co, ph, pw]` (pce-fuse-experts-mix recognises
      this form and fuses a `sum` mix into it).

    The embedding and position/uniform routers that read the same patchify
    then read one without a halo (`[B, P, C+4, ph, pw]`). Left alone:
    isolated halos, dynamic shapes, kernels whose size is not `2r+1`, and
    experts over anything but a patchify (e.g. top-k experts already taken
    by pce-sparse-dispatch). The sums run in a different order than one
    convolution over C+4 channels: results agree to float rounding.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def FuseExpertsMix : Pass<"pce-fuse-experts-mix"> {
  let summary = "Compute a dense router's mix in the experts' epilogue";
  let description = [{
    Rewrites `pce.mix sum %w, %y` whose experts `%y` have no other user into
    one linalg.generic that computes each expert's batch norm and ReLU and
    accumulates `w[b, p, e] * y` over `e` (in order 0 .. E-1, as the unfused
    mix), so the `[B, P, E, Co, ph, pw]` tensor of every expert's output is
    never written. `%y` is a `pce.experts` (lowered here first, as
    pce-lower-to-linalg would) or the epilogue that pce-fuse-patches built
    (`[B, nph, npw, E, Co, ph, pw]`; the weights are then read as
    `[B, nph, npw, E]`). `concat` mixes and experts or epilogues with
    another user are left alone; top-k mixes normally are pce-sparse-dispatch's.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def ExposeRouting : Pass<"pce-expose-routing", "::mlir::ModuleOp"> {
  let summary = "Return every router's weights from the public functions";
  let description = [{
    Appends the result of every `pce.route` in a public `func.func` (in
    program order) to the function's results, each named by a `pce.routing`
    result attribute after its layer: `<name>.routing` for a router whose
    location is a `NameLoc` (the model importer names each `pce.layer` after
    its layer in the description, and `pce-decompose-layer` keeps the
    location), or in a function outlined from layer `<name>` by
    `pce-outline-layers` (which also returns the embedding its router reads
    as `<name>.embedding`); `layer<i>.routing` otherwise. Two routers that
    would get one name are an error. Compiled models thus report what their
    routers decided under the names `pce-train` uses (`pce-run --routing`).
    Run after `pce-decompose-layer`. Functions that are private, or that call
    other functions containing routers, are left alone; a router inside a
    nested region is an error naming it.
    region is an error naming it.
  }];
}

#endif // PCE_PASSES_TRANSFORMS_PASSES_TD
