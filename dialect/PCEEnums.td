//===- PCEEnums.td - enum attributes of the pce dialect -----*- tablegen -*-===//

#ifndef PCE_ENUMS_TD
#define PCE_ENUMS_TD

include "mlir/IR/EnumAttr.td"

def PCE_HaloMode : I32EnumAttr<"HaloMode",
    "what a patch's halo holds (pixels of the neighbours, or zeros)", [
      I32EnumAttrCase<"context", 0>,
      I32EnumAttrCase<"isolated", 1>]> {
  let cppNamespace = "::mlir::pce";
}

def PCE_RouterKind : I32EnumAttr<"RouterKind", "how a router computes weights", [
      I32EnumAttrCase<"uniform", 0>,
      I32EnumAttrCase<"position", 1>,
      I32EnumAttrCase<"cosine", 2>,
      I32EnumAttrCase<"mlp", 3>,
      I32EnumAttrCase<"gumbel", 4>]> {
  let cppNamespace = "::mlir::pce";
}

def PCE_MixKind : I32EnumAttr<"MixKind", "how expert outputs are combined", [
      I32EnumAttrCase<"sum", 0>,
      I32EnumAttrCase<"concat", 1>]> {
  let cppNamespace = "::mlir::pce";
}

def PCE_AttentionKind : I32EnumAttr<"AttentionKind",
    "the attention module after a concat mix", [
      I32EnumAttrCase<"none", 0>,
      I32EnumAttrCase<"se", 1>]> {
  let cppNamespace = "::mlir::pce";
}

#endif // PCE_ENUMS_TD
