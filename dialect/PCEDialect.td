//===- PCEDialect.td - the pce dialect ----------------------*- tablegen -*-===//
//
// Positional Convolution Experts: value-semantics tensor ops for patching with
// coordinates, patch embedding, routing, convolutional experts, mixing,
// attention and unpatching (docs/SEMANTICS.md is the contract).
//
//===----------------------------------------------------------------------===//

#ifndef PCE_DIALECT_TD
#define PCE_DIALECT_TD

include "mlir/IR/OpBase.td"

def PCE_Dialect : Dialect {
  let name = "pce";
  let cppNamespace = "::mlir::pce";
  let summary = "Positional Convolution Experts";
  let description = [{
    The `pce` dialect describes Positional Convolution Experts (PCE) layers:
    a feature map is cut into patches that carry four coordinate channels,
    each patch is embedded, routed to convolutional experts (Conv-BN-ReLU),
    and the experts' outputs are mixed with the router's weights and put back
    into a feature map.

    All ops have value semantics on ranked, statically shaped tensors of a
    floating-point element type. Result types are inferred: a reader never
    writes a shape the op can compute. Tensors keep the batch `B` and the
    patch index `P` as separate leading dimensions:

    | value | shape |
    |---|---|
    | image / feature map | `[B, C, H, W]` |
    | patches (with halo) | `[B, P, C+4, ph+2r, pw+2r]` |
    | embeddings | `[B, P, D]`, `D = De * sum(l*l)` |
    | routing weights | `[B, P, E]` |
    | expert outputs | `[B, P, E, Co, ph, pw]` |
    | mixed patches | `[B, P, Co, ph, pw]` |

    `pce.layer` is a composite carrying a whole layer's configuration; the
    `pce-decompose-layer` pass rewrites it into the primitive ops.

    The dialect also owns the `pce.*` attributes that name the tensors of a
    function (dialect/PCEAttributes.h): `pce.input` and `pce.param` on
    arguments, `pce.output` and `pce.routing` on results (and on the
    out-parameters bufferization makes of them), `pce.differentiable` and
    `pce.layer_name` on functions, and `pce.training_plan` on a module. Its
    attribute verifier rejects any other `pce.*` name, and a known one in
    another place or with another value (names are non-empty strings,
    markers unit attributes).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
  let hasConstantMaterializer = 1;
  // The `pce.*` attributes on functions, arguments, results and modules
  // (PCEAttributes.h names them, PCEAttributes.cpp checks them).
  let hasOperationAttrVerify = 1;
  let hasRegionArgAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;
  let useDefaultAttributePrinterParser = 0;
}

class PCE_Op<string mnemonic, list<Trait> traits = []>
    : Op<PCE_Dialect, mnemonic, traits>;

#endif // PCE_DIALECT_TD
