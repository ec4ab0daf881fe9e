//===- CommandLine.h - pce-train's command line ---------------------------===//
//
// The rules are every MLIR-free tool's (tools/support/CommandLine.h); this
// file says which options pce-train has and how they fill Options.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_TOOLS_PCE_TRAIN_COMMANDLINE_H
#define PCE_TOOLS_PCE_TRAIN_COMMANDLINE_H

#include "runtime/train/Options.h"
#include "tools/support/CommandLine.h"

#include <string>
#include <vector>

namespace pce::train {

/// The --help text.
extern const char *kUsage;

using tool::UsageError;

/// Parses `args` (argv without argv[0]) into `options`; throws UsageError.
/// Returns Help or Version when that is all that was asked for.
tool::Request parseOptions(const std::vector<std::string> &args, Options &options);

} // namespace pce::train

#endif // PCE_TOOLS_PCE_TRAIN_COMMANDLINE_H
