//===- CommandLine.h - one set of command-line rules for the PCE tools ----===//
//
// The MLIR-free tools (pce-run, pce-init, pce-train, pce-bench) read their
// command lines through this class, on CLI11, so that they all follow the same
// rules (docs/Runtime.md, "Command lines"):
//   - `--opt=value` and `--opt value` are the same;
//   - a single-valued option or a flag given twice is an error (options meant
//     to repeat, such as pce-run's --input, are declared as lists);
//   - an empty value is an error;
//   - an unknown option is an error naming the closest known option ("did you
//     mean '--weights'?");
//   - --help prints the tool's usage text and exits 0; --version prints
//     "TOOL VERSION (git COMMIT)" and exits 0;
//   - every mistake is reported as "TOOL: MESSAGE" with a hint to run --help,
//     exit status 2 (kExitUsage).
//
//===----------------------------------------------------------------------===//
#ifndef PCE_TOOLS_SUPPORT_COMMANDLINE_H
#define PCE_TOOLS_SUPPORT_COMMANDLINE_H

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace pce::tool {

/// Exit statuses shared by every tool.
constexpr int kExitSuccess = 0;
constexpr int kExitError = 1; ///< files, artifacts, data: anything but the command line
constexpr int kExitUsage = 2; ///< the command line itself

/// A mistake in the command line; what() is the message without the tool name.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// What a well-formed command line asks for.
enum class Request { Run, Help, Version };

class CommandLine {
public:
  /// `usage` is the complete --help text.
  CommandLine(std::string tool, std::string usage);

  /// Declare options here (add_option, add_flag) or with the helpers below.
  CLI::App &app() { return app_; }
  const std::string &tool() const { return tool_; }

  /// An integer option: the value must be a whole decimal number in
  /// [min, max], else "option '--N' needs WHAT, found 'V'". `set` receives it.
  CLI::Option *addInteger(const std::string &name, const std::string &what, int64_t min, int64_t max,
                          std::function<void(int64_t)> set, const std::string &description = "");

  /// Parses `args` (argv without argv[0]); throws UsageError.
  Request parse(const std::vector<std::string> &args);

  /// For main(): parses argv, then runs `check` (cross-option rules; throws
  /// UsageError). Prints the usage text, the version line or the error, and
  /// returns the exit status; returns nullopt when the tool should run.
  std::optional<int> handle(int argc, char **argv, const std::function<void()> &check = {});

  /// Prints the answer to Help or Version on stdout; returns kExitSuccess.
  int answer(Request request) const;

private:
  void checkAfterParse();

  std::string tool_, usage_;
  CLI::App app_;
};

/// Prints "TOOL: MESSAGE" and the --help hint on stderr; returns kExitUsage.
int reportUsageError(const std::string &tool, const std::string &message);

/// The known option closest to `unknown` ("--weigths" -> "--weights") by edit
/// distance, if one is close enough to be a likely misspelling.
std::optional<std::string> closestOption(const std::string &unknown,
                                         const std::vector<std::string> &known);

} // namespace pce::tool

#endif // PCE_TOOLS_SUPPORT_COMMANDLINE_H
