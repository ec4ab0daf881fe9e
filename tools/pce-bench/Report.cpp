//===- Report.cpp - pce-bench's report lines ------------------------------===//

#include "tools/pce-bench/Report.h"

#include "runtime/reference/ModelText.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

namespace pce::bench {

std::string cpuModel() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0)
      return line.substr(line.find(':') + 2);
  return "unknown";
}

std::string verdict(double ratio, double target, bool atMost) {
  bool met = atMost ? ratio <= target : ratio >= target;
  if (met)
    return "met";
  char buf[64];
  std::snprintf(buf, sizeof buf, "missed by %.2fx", atMost ? ratio / target : target / ratio);
  return buf;
}

void check(const std::string &what, double error) {
  std::printf("check  %-44s relative error %.2e  (%s)\n", what.c_str(), error,
              error <= agree::kTolerance ? "ok" : "MISMATCH: timings below are suspect");
}

[[noreturn]] void fail(const std::string &message) {
  std::cerr << "pce-bench: " << message << "\n";
  std::exit(1);
}

} // namespace pce::bench
