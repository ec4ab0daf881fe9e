//===- Options.h - pce-bench's command line -------------------------------===//
#ifndef PCE_TOOLS_PCE_BENCH_OPTIONS_H
#define PCE_TOOLS_PCE_BENCH_OPTIONS_H

#include <cstdint>
#include <string>

namespace pce::bench {

struct Options {
  int64_t batch = 64, channels = 32, height = 32, width = 32;
  int64_t ph = 8, pw = 8, experts = 4, outChannels = 32, kernel = 3;
  int repeats = 20, warmup = 3, threads = 0, compileRuns = 3;
  uint64_t seed = 0;
  std::string workDir, compileModel;
  std::string only; ///< comma-separated parts to run (r1,...,r5,compile); empty: all

  bool wants(const std::string &part) const {
    if (only.empty())
      return true;
    std::string list = "," + only + ",";
    return list.find("," + part + ",") != std::string::npos;
  }
};

/// Reads argv by the rules of tools/support/CommandLine.h; prints the usage
/// (exit 0) or a usage error (exit 2) and exits when that is all there is.
Options parseOptions(int argc, char **argv);

} // namespace pce::bench

#endif // PCE_TOOLS_PCE_BENCH_OPTIONS_H
