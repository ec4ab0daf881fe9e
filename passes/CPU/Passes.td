//===- Passes.td - CPU code generation ---------------------------*- tablegen -*-===//

#ifndef PCE_PASSES_CPU_PASSES_TD
#define PCE_PASSES_CPU_PASSES_TD

include "mlir/Pass/PassBase.td"

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

#endif // PCE_PASSES_CPU_PASSES_TD
