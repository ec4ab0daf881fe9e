//===- Measure.h - pce-bench's timing: alternating loops and medians -------===//
#ifndef PCE_TOOLS_PCE_BENCH_MEASURE_H
#define PCE_TOOLS_PCE_BENCH_MEASURE_H

#include <chrono>
#include <functional>
#include <vector>

namespace pce::bench {

double median(std::vector<double> v);

/// Median wall time and median process CPU time (every thread) of one side.
struct Timing {
  double wallMs = 0, cpuMs = 0;
};

/// Runs every function `warmup` times untimed, then `repeats` rounds in which
/// each runs once, timed; the order rotates each round so no side always
/// runs right after the same neighbour.
std::vector<Timing> timeAlternating(const std::vector<std::function<void()>> &fns, int warmup, int repeats);

double msSince(std::chrono::steady_clock::time_point start);

/// Median of `v` without its first `skip` entries (the warm-up calls).
double medianAfter(const std::vector<double> &v, size_t skip);

} // namespace pce::bench

#endif // PCE_TOOLS_PCE_BENCH_MEASURE_H
