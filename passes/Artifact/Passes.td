//===- Passes.td - artifact passes ------------------------*- tablegen -*-===//
//
// What turns a lowered module into an artifact's code (docs/Artifact.md).
//
//===----------------------------------------------------------------------===//

#ifndef PCE_PASSES_ARTIFACT_PASSES_TD
#define PCE_PASSES_ARTIFACT_PASSES_TD

include "mlir/Pass/PassBase.td"

def EmitEntryPoints : Pass<"pce-emit-entry-points", "::mlir::ModuleOp"> {
  let summary = "Add an artifact's C entry points and signature strings to a module lowered to LLVM";
  let description = [{
    For every entry point of an artifact, adds to a module in the LLVM
    dialect (after `--pce-cpu-pipeline` or `--pce-gpu-pipeline`)

    ```mlir
    llvm.func @pce_entry_<name>(%args: !llvm.ptr)   // args[i]: descriptor i
    llvm.mlir.global external constant @pce_entry_<name>_signature("...")
    ```

    The wrapper loads each descriptor pointer and calls
    `_mlir_ciface_<name>`; the signature string is the manifest's canonical
    signature of the entry point (`docs/Artifact.md`), which the runtime
    checks before the first call. The `pce.*` argument and result names are
    removed from the lowered functions (LLVM IR has no place for them).

    The entry points come from the artifact's manifest (`manifest=PATH`) or,
    in `pce-compile`, from the model before lowering. A module without
    `_mlir_ciface_<name>` taking one descriptor per buffer is an error.
  }];
  let options = [
    Option<"manifestPath", "manifest", "std::string", /*default=*/"\"\"",
           "manifest.json whose entry points to emit">
  ];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

#endif // PCE_PASSES_ARTIFACT_PASSES_TD
