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

def ExposeRouting : Pass<"pce-expose-routing", "::mlir::ModuleOp"> {
  let summary = "Return every router's weights from the public functions";
  let description = [{
    Appends the result of every `pce.route` in a public `func.func` (in
    program order) to the function's results, named `layer<i>.routing` by the
    `pce.routing` result attribute, so that compiled models can report what
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

#endif // PCE_PASSES_TD
