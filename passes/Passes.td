//===- Passes.td - every pce pass, for the reference ------*- tablegen -*-===//
//
// Each layer declares its passes in its own Passes.td (passes/<Layer>/); this
// file only gathers them for the generated reference, docs/Passes.md.
//
//===----------------------------------------------------------------------===//

include "passes/Transforms/Passes.td"
include "passes/Conversion/Passes.td"
include "passes/Autodiff/Passes.td"
include "passes/CPU/Passes.td"
include "passes/GPU/Passes.td"
include "passes/Artifact/Passes.td"
