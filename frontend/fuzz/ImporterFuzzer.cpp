//===- ImporterFuzzer.cpp - libFuzzer target for the model importer -------===//
//
// Feeds arbitrary bytes to the importer as a model description. Errors are
// expected and swallowed; the fuzzer looks for crashes, sanitizer reports,
// hangs, and "internal error" diagnostics (an imported module that does not
// verify is an importer bug, so it aborts here). Built by
// scripts/fuzz-importer.sh with clang; not part of the CMake build.
//
//===----------------------------------------------------------------------===//

#include "frontend/Importer.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <cstdlib>
#include <memory>

namespace {

std::unique_ptr<mlir::MLIRContext> makeContext() {
  mlir::DialectRegistry registry;
  pce::frontend::registerImporterDialects(registry);
  auto context = std::make_unique<mlir::MLIRContext>(
      registry, mlir::MLIRContext::Threading::DISABLED);
  context->loadAllAvailableDialects();
  return context;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // A context lives for many inputs (loading dialects is slow) but not for
  // all: attributes and types it uniques are never freed.
  static std::unique_ptr<mlir::MLIRContext> context;
  static unsigned uses = 0;
  if (!context || ++uses % 2000 == 0)
    context = makeContext();

  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(
          llvm::StringRef(reinterpret_cast<const char *>(data), size),
          "fuzz.yaml"),
      llvm::SMLoc());
  mlir::ScopedDiagnosticHandler handler(
      context.get(), [](mlir::Diagnostic &diag) {
        if (llvm::StringRef(diag.str()).starts_with("internal error")) {
          llvm::errs() << "importer bug: " << diag.str() << "\n";
          std::abort();
        }
        return mlir::success();
      });
  mlir::OwningOpRef<mlir::ModuleOp> module =
      pce::frontend::importModelDescription(sourceMgr, context.get());
  if (module) {
    // Printing walks every op and attribute the importer built.
    std::string text;
    llvm::raw_string_ostream os(text);
    module->print(os);
  }
  return 0;
}
