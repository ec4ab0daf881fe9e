//===- LLVMCommandLine.h - --version and a short --help for llvm::cl tools -===//
//
// pce-opt, pce-translate and pce-compile read their command lines with
// llvm::cl (MLIR's drivers do). These two calls give them the version line
// every PCE tool prints and, for pce-compile, a --help without LLVM's options.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_TOOLS_SUPPORT_LLVMCOMMANDLINE_H
#define PCE_TOOLS_SUPPORT_LLVMCOMMANDLINE_H

#include "llvm/Support/CommandLine.h"

namespace pce::tool {

/// --version prints "TOOL 0.1.0 (git 64feb93)", then the LLVM version the
/// tool was built with. Call before parsing the command line.
void setVersionPrinter(const char *tool);

/// Hides every option outside `category` (and --help, --version) from --help;
/// unlike llvm::cl::HideUnrelatedOptions, they stay listed by --help-hidden.
/// Call after every option is registered, before parsing.
void hideUnrelatedOptions(llvm::cl::OptionCategory &category);

} // namespace pce::tool

#endif // PCE_TOOLS_SUPPORT_LLVMCOMMANDLINE_H
