//===- Passes.td - pce passes ------------------------------*- tablegen -*-===//

#ifndef PCE_PASSES_TD
#define PCE_PASSES_TD

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

def GenerateBackward : Pass<"pce-generate-backward", "::mlir::ModuleOp"> {
  let summary = "Build the training forward and the backward of differentiable functions";
  let description = [{
    For every function marked `pce.differentiable` (after
    `pce-decompose-layer`), adds

    ```
    @<f>_train(args..., noise.<k>.normal|gumbel...)
        -> (results..., batch.<running statistic>..., saved.<k>...)
    @<f>_backward(args..., saved.<k>..., grad.<result>...) -> (grad.<arg>...)
    ```

    `<f>_train` computes the training semantics of docs/SEMANTICS.md:
    batch-statistic batch norm per expert over the patches routed to it,
    with the batch mean and unbiased variance returned as
    `batch.<running_mean/var parameter>` (the running value where no patch
    chose the expert, so `running = (1 - m) running + m batch` is always
    right); position-router and Gumbel noise read from `noise.*` inputs
    that the caller draws, so runs are reproducible; Gumbel `hard` as a
    straight-through one-hot.

    The contract of saved activations: `<f>_train` returns as `saved.<k>`
    every value that an op's adjoint reads and that is not an argument of
    `<f>`, and `<f>_backward` takes them back under the same names.
    `<f>_backward` takes one gradient per result of `<f>` (`grad.<name>`) and
    returns the gradient of every argument that receives one (`grad.<name>`);
    arguments that receive none (running statistics) have no result.

    Each op's adjoint is written by hand (`passes/Adjoint*.cpp`); an op
    without one is an error naming it. The original function is left alone.

    Under a top-k router whose mix is the only reader of the experts, the
    experts' convolution and its adjoints run on the routed (patch, expert)
    pairs only (`passes/RoutedConvolution.cpp`); `routed-convolutions=false`
    computes every pair, for comparison and debugging.
  }];
  let options = [
    Option<"routedConvolutions", "routed-convolutions", "bool",
           /*default=*/"true",
           "Convolve only the routed (patch, expert) pairs under a top-k router">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def LowerToLinalg : Pass<"pce-lower-to-linalg"> {
  let summary = "Lower pce ops to linalg, tensor, arith and math (inference semantics)";
  let description = [{
    Rewrites every primitive pce op into upstream ops on tensors, computing
    docs/SEMANTICS.md with inference semantics: experts use running BN
    statistics, routers draw no noise (`position` is `softmax(beta*onehot)`,
    `gumbel` is `softmax(cos/tau)`). `pce.layer` must be decomposed first
    (`pce-decompose-layer`); a pce op that is left over is an error naming it.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
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
      collapsed to `[B, P, E, Co, ph, pw]` and tagged
      `pce.experts_epilogue` for pce-fuse-experts-mix.

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
    program order) to the function's results, named `layer<i>.routing` by the
    `pce.routing` result attribute (`<name>.routing` in a function outlined
    from layer `<name>` by `pce-outline-layers`, which also returns the
    embedding its router reads as `<name>.embedding`), so that compiled models can report what
    their routers decided (`pce-run --routing`). Run after
    `pce-decompose-layer`. Functions that are private, or that call other
    functions containing routers, are left alone; a router inside a nested
    region is an error naming it.
  }];
}

def PrepareEntryPoints : Pass<"pce-prepare-entry-points", "::mlir::ModuleOp"> {
  let summary = "Give public functions the ABI of artifact entry points";
  let description = [{
    For every public `func.func`: sets `llvm.emit_c_interface`, so that the
    LLVM lowering emits `_mlir_ciface_<name>` taking pointers to memref
    descriptors, and marks every argument `bufferization.writable = false`,
    so that bufferization never writes into the caller's inputs or weights
    (they are reused across calls).
  }];
}

def LowerStridedCopies : Pass<"pce-lower-strided-copies"> {
  let summary = "Rewrite memref.copy between non-contiguous buffers as linalg.copy";
  let description = [{
    The LLVM lowering turns a `memref.copy` that is not between two
    contiguous identity-layout buffers into a call to `memrefCopy`, a function
    of MLIR's runner library that compiled artifacts must not depend on. This
    pass rewrites such copies as `linalg.copy`, which becomes plain loops;
    contiguous copies are left alone (they become `memcpy`).
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def HoistStaticAllocas : Pass<"pce-hoist-static-allocas", "::mlir::func::FuncOp"> {
  let summary = "Move statically shaped memref.alloca out of loops to the function entry";
  let description = [{
    `convert-vector-to-scf` lowers transposed or broadcast vector transfers
    through a small `memref.alloca` inside the loop nest; in LLVM that is a
    dynamic stack allocation per iteration, freed only when the function
    returns, so long loops overflow the stack. The buffers are scratch space
    of one transfer, never live across iterations, so this pass moves every
    statically shaped `memref.alloca` outside an `alloca_scope` to the start
    of the function's entry block. Allocas with dynamic sizes, or in an
    `alloca_scope` (whose end frees them), are left alone.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def OutlineParallelLoops
    : Pass<"pce-outline-parallel-loops", "::mlir::ModuleOp"> {
  let summary = "Run outermost scf.parallel loops on the runtime's threads";
  let description = [{
    Compiled code has no thread pool of its own: the runtime lends it one
    through a hook. Every outermost `scf.parallel` without reductions and with
    constant bounds (on buffers, after bufferization) becomes

    - a private function `@<func>_parallel<k>(%begin, %end: index,
      captures...)` (internal linkage in LLVM) that runs points
      [%begin, %end) of the leading dimensions of the loop, linearized (the
      last of them varies fastest): as few leading dimensions as give at
      least 256 points, the others stay loops inside each point. The values
      the body uses from outside are passed as arguments (constants are
      re-created inside);
    - an LLVM thunk `@<func>_parallel<k>_thunk(!llvm.ptr, i64, i64)`, marked
      `no_inline`, that unpacks the captures from a context struct and calls
      that function (its only caller, so LLVM inlines it there and the loop's
      code exists once);
    - at the loop's place: the captures packed into a stack struct, then a
      load of the global hook `@pce_parallel_for_hook` (a `void (*)(i64 n,
      void (*)(ptr ctx, i64 begin, i64 end), ptr ctx)` that the runtime
      stores after loading the library); when it is null (a library used
      without the runtime), one call of the thunk over all points;
      otherwise the hook is called with the thunk, to cover [0, n) with
      ranges.

    The hook may run iterations concurrently and in any order, which is what
    `scf.parallel` without reductions allows. Loops with reductions or with
    bounds that are not constants are left alone (later lowered to sequential
    loops), as are `scf.parallel` nested in another one and loops whose
    estimated cost (operations executed: one per op, times the trip counts
    of the loops around it) is below `min-cost`, which would cost less than
    waking another thread.

    Run it after vectorization and before `pce-hoist-static-allocas`, so
    stack buffers of a loop body stay private to the thread that runs it.
  }];
  let options = [
    Option<"minCost", "min-cost", "int64_t", /*default=*/"8192",
           "Smallest estimated cost (operations executed) of a loop to outline">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::scf::SCFDialect"
  ];
}

def VectorizeConvolutions : Pass<"pce-vectorize-convolutions"> {
  let summary = "Rewrite NCHW convolutions on buffers as register-blocked vector loops";
  let description = [{
    Rewrites every `linalg.conv_2d_nchw_fchw` on buffers with static shapes,
    one float element type, unit strides and dilations and a unit innermost
    stride on the image and the result into loops around a vector kernel:
    `filter-block` output channels times `row-block` output rows, each a
    vector along the output width (`vector-bits` wide), are accumulated in
    registers over the input channels, with the `kh x kw` taps unrolled into
    `vector.fma` of an image row (`vector.load`) and a broadcast filter
    element. Blocks that do not divide a dimension get a tail kernel of the
    remaining (static) size. The accumulators start from the result buffer,
    as the convolution accumulates into it.

    ```mlir
    linalg.conv_2d_nchw_fchw ins(%x, %k : memref<2x3x10x10xf32>, memref<8x3x3x3xf32>)
                             outs(%y : memref<2x8x8x8xf32>)
    // becomes
    scf.parallel (%n, %f0) ... step (1, 4) { scf.for %h0 ... step 2 {
      %acc = vector.load %y[...] : memref<2x8x8x8xf32>, vector<8xf32>   // x8
      scf.for %c ... iter_args(...) {
        %row = vector.load %x[%n, %c, ...] ...                           // per tap
        %w = memref.load %k[...]  %wv = vector.broadcast %w
        vector.fma %row, %wv, %acc ...
      }
      vector.store ...
    }}
    ```

    Results narrower than half a vector under filter rows of 4 lanes or more
    (a kernel gradient: a 3x3 result of 7x7 "filters") get another kernel:
    vectors along the filter rows, one accumulator per result element of a
    block of filters and a result row, summed across lanes at the end.

    The loops over items and blocks of output channels are an `scf.parallel`
    (each point writes its own part of the result).

    Convolutions on tensors, with dynamic shapes, mixed or integer element
    types, strides or dilations other than 1, or strided rows are left alone
    (`convert-linalg-to-loops` lowers them).
  }];
  let options = [
    Option<"vectorBits", "vector-bits", "int64_t", /*default=*/"256",
           "Width of one vector register in bits (256: AVX2)">,
    Option<"filterBlock", "filter-block", "int64_t", /*default=*/"4",
           "Output channels per register block">,
    Option<"rowBlock", "row-block", "int64_t", /*default=*/"2",
           "Output rows per register block">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def VectorizeGenerics : Pass<"pce-vectorize-generics", "::mlir::func::FuncOp"> {
  let summary = "Vectorize elementwise and reduction linalg.generic ops on buffers along result rows";
  let description = [{
    Tiles every `linalg.generic` on buffers (static shapes, one result, unit
    innermost strides, a body `linalg::vectorize` accepts) so that each tile
    is one row of the result: every loop gets a tile of 1 except the loop
    indexing the result's innermost dimension, which is kept whole (or cut
    into equal pieces of at most `max-lanes`); reduction loops go innermost.
    Each tile is vectorized with `linalg::vectorize`, the result row's reads
    and writes are hoisted out of the reduction loops so that accumulators
    stay in registers, and unit vector dimensions are folded away.

    ```mlir
    linalg.generic {... iterator_types = ["parallel", "parallel"]}
        ins(%a, %s : memref<16x8xf32>, memref<16xf32>) outs(%y : memref<16x8xf32>) {...}
    // becomes
    scf.for %i = %c0 to %c16 step %c1 {
      %x = vector.transfer_read %a[%i, %c0] ... : memref<16x8xf32>, vector<8xf32>
      ... arith on vector<8xf32> ...
      vector.transfer_write %r, %y[%i, %c0] ...
    }
    ```

    A reduction whose result lacks the dimension `j` that every input reads
    innermost (a weight gradient `gw[d, c] = sum x[n, p, d, j] * y[n, p, c, j]`,
    a max pooling to one bin), combined with `arith.addf` or
    `arith.maximumf`, and at least 64 rows to reduce per result element, is
    first split into `partial[..., j]` (a new buffer
    filled with 0 or -inf, vectorized along `j`) and a small reduction of
    `partial` over `j` into the result; its leading reduction loops but the
    last stay outside the parallel loops, so each step's inputs stay in
    cache. This changes the order of the sum (per lane of `j`, then across
    lanes), so `--pce-cpu-pipeline` asks for it only with its
    `split-reductions=true` (docs/Rationale.md).

    Otherwise (`transpose-inputs`, on by default) such a reduction with at
    least 64 rows per result element, when an input reads the result's
    innermost dimension `c` at another position (the embedding's weight
    gradient `gw[d, c] = sum gz[n, p, d, i, j] * core[n, p, c, i, j]`), reads
    a copy of that input with `c` moved innermost (`core[n, p, i, j, c]`,
    one pass over it) and is vectorized along result rows with its leading
    reduction loops but the last outside. Each lane is one result element
    summed in the original order: the same bits as the scalar loops.

    Generics that would read an operand across its innermost dimension (a
    gather: transposes, other reductions into the innermost dimension), with
    dynamic shapes or strided rows, several results, or bodies the
    vectorizer rejects (`memref.load` of computed indices) are left alone.
  }];
  let options = [
    Option<"maxLanes", "max-lanes", "int64_t", /*default=*/"64",
           "Longest vector kept whole; longer rows are cut into equal pieces">,
    Option<"splitReductions", "split-reductions", "bool", /*default=*/"true",
           "Split sums and maxima along the inputs' contiguous dimension "
           "(changes their summation order; off in --pce-cpu-pipeline unless "
           "its split-reductions=true)">,
    Option<"transposeInputs", "transpose-inputs", "bool", /*default=*/"true",
           "Give reductions whose result row an input reads across its "
           "innermost dimension a copy of that input with the row innermost "
           "(same summation order)">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::ub::UBDialect",
    "::mlir::vector::VectorDialect"
  ];
}

// GPU code generation (docs/GPU.md).
def GpuCollapseParallelLoops
    : Pass<"pce-gpu-collapse-parallel-loops", "::mlir::func::FuncOp"> {
  let summary = "Collapse every outermost scf.parallel into one dimension for GPU mapping";
  let description = [{
    `gpu-map-parallel-loops` maps the first three dimensions of a loop nest
    to x, y, z and runs the rest sequentially, whatever their extents. PCE's
    loops have up to six parallel dimensions with the long, contiguous ones
    last, so this pass first collapses every outermost `scf.parallel` into a
    single dimension (row-major, the innermost dimension fastest). Tiling that
    loop by N (`scf-parallel-loop-tiling{parallel-loop-tile-sizes=N}`) then
    gives blocks of N threads, and consecutive threads touch consecutive
    elements of the output.

    The pass also makes the LLVM IR translations of the builtin, LLVM, GPU
    and NVVM dialects available to the context, which `gpu-module-to-binary`
    needs later in `--pce-gpu-pipeline` (pce-opt does not register them).
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::scf::SCFDialect"
  ];
}

#endif // PCE_PASSES_TD
