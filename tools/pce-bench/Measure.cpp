//===- Measure.cpp - pce-bench's timing: alternating loops and medians -----===//

#include "tools/pce-bench/Measure.h"

#include <algorithm>
#include <cmath>
#include <time.h>

namespace pce::bench {

namespace {
double processCpuMs() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}
} // namespace

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::vector<Timing> timeAlternating(const std::vector<std::function<void()>> &fns,
                                    int warmup, int repeats) {
  for (int i = 0; i < warmup; ++i)
    for (const auto &f : fns)
      f();
  std::vector<std::vector<double>> wall(fns.size()), cpu(fns.size());
  for (int i = 0; i < repeats; ++i)
    for (size_t j = 0; j < fns.size(); ++j) {
      size_t f = (i + j) % fns.size();
      double cpuStart = processCpuMs();
      auto start = std::chrono::steady_clock::now();
      fns[f]();
      wall[f].push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count());
      cpu[f].push_back(processCpuMs() - cpuStart);
    }
  std::vector<Timing> medians;
  for (size_t f = 0; f < fns.size(); ++f)
    medians.push_back({median(wall[f]), median(cpu[f])});
  return medians;
}

double msSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

double medianAfter(const std::vector<double> &v, size_t skip) {
  if (v.size() <= skip)
    return std::nan("");
  return median(std::vector<double>(v.begin() + skip, v.end()));
}

} // namespace pce::bench
