//===- pce-train.cpp - train a PCE model through its compiled layers ------===//
//
//   pce-train MODEL.yaml -o RUN_DIR [--dense] [--epochs N] [--resume | --force]
//             [--limit-train N] [--threads N] [--compiled DIR]
//
// docs/Training.md. Exit status: 0 success, 1 error, 2 usage error.
//
//===----------------------------------------------------------------------===//

#include "runtime/train/Trainer.h"
#include "tools/pce-train/CommandLine.h"
#include "tools/pce-train/Compile.h"

#include <c10/util/Exception.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <malloc.h>
#include <unistd.h>
#include <string>
#include <vector>

int main(int argc, char **argv) {
  // LibTorch's OpenMP threads spin between parallel regions by default,
  // taking the core that compiled code and the runtime's threads need (about
  // a quarter of the time on 2 cores). libgomp reads its settings while
  // loading, so re-execute once with OMP_WAIT_POLICY=PASSIVE unless the
  // caller chose a policy.
  if (!std::getenv("OMP_WAIT_POLICY") && setenv("OMP_WAIT_POLICY", "PASSIVE", 1) == 0)
    execv("/proc/self/exe", argv); // returns only on failure: carry on as we are
  // Every compiled call allocates its results and temporaries afresh; keep
  // freed blocks (up to glibc's 32 MiB maximum) in the heap instead of
  // returning them to the kernel, or page faults take a fifth of the time.
  // PCE_TRAIN_MALLOC_DEFAULT=1 keeps glibc's defaults (for comparison).
  if (!std::getenv("PCE_TRAIN_MALLOC_DEFAULT")) {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  pce::train::Options options;
  try {
    pce::tool::Request request = pce::train::parseOptions(args, options);
    if (request != pce::tool::Request::Run)
      return pce::tool::CommandLine("pce-train", pce::train::kUsage).answer(request);
  } catch (const pce::train::UsageError &e) {
    return pce::tool::reportUsageError("pce-train", e.what());
  }
  for (int i = 0; i < argc; ++i)
    options.commandLine += (i ? " " : "") + std::string(argv[i]);
  try {
    pce::train::runTraining(options, pce::train::compileSteps());
  } catch (const c10::Error &e) {
    std::fflush(stdout);
    std::fprintf(stderr, "pce-train: error: %s\n", e.what_without_backtrace());
    return 1;
  } catch (const std::exception &e) {
    std::fflush(stdout);
    std::fprintf(stderr, "pce-train: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
