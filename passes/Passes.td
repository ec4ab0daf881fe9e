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

#endif // PCE_PASSES_TD
