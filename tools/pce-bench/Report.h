//===- Report.h - pce-bench's report lines --------------------------------===//
#ifndef PCE_TOOLS_PCE_BENCH_REPORT_H
#define PCE_TOOLS_PCE_BENCH_REPORT_H

#include <string>

namespace pce::bench {

/// The CPU's model name from /proc/cpuinfo, or "unknown".
std::string cpuModel();

/// "met", or "missed by 3.46x" (how far the ratio is from the target).
std::string verdict(double ratio, double target, bool atMost);

/// A "check" line: a timed computation against its reference.
void check(const std::string &what, double error);

/// Prints `message` on stderr and exits with status 1.
[[noreturn]] void fail(const std::string &message);

} // namespace pce::bench

#endif // PCE_TOOLS_PCE_BENCH_REPORT_H
