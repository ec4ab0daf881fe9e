//===- Options.cpp - pce-bench's command line -----------------------------===//

#include "tools/pce-bench/Options.h"

#include "tools/support/CommandLine.h"

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace pce::bench {

namespace {
const char *kUsage = R"(usage: pce-bench [options]

Times compiled PCE layers against LibTorch (docs/BENCHMARKS.md).

layer shape (float32):
  --batch N          items per timed call (default 64)
  --channels C       input channels (default 32)
  --image N          height and width (default 32); or --height H, --width W
                     (which win over --image)
  --patch N          patch height and width (default 8); or --patch-h, --patch-w
                     (which win over --patch)
  --experts E        experts (default 4)
  --out-channels Co  output channels (default 32)
  --kernel k         expert kernel size, odd (default 3)
timing:
  --repeats N        timed calls of each side, medians reported (default 20)
  --warmup N         untimed calls of each side first (default 3)
  --threads N        threads for both sides (default: every hardware thread);
                     --batch must be a multiple of it
  --compile-runs N   pce-compile runs for the compile-time line (default 3)
other:
  --seed N           LibTorch seed of the random parameters (default 0)
  --work-dir DIR     keep the compiled artifacts here (default: a temporary
                     directory, removed at exit)
  --compile-model F  model for the compile-time line
                     (default: examples/fashion_pce.mlir of the source tree)
  --only LIST        run only these parts, comma-separated: r1,r2,r3,r4,r5,compile
                     (default: all; r3 includes the breakdown line)
  --help             this text
  --version          the PCE version and git commit

Options take their value as --opt VALUE or --opt=VALUE; none may be repeated.
)";

// Rules between options, once all are read; throws tool::UsageError.
void check(Options &o) {
  for (size_t start = 0; !o.only.empty() && start <= o.only.size();) {
    size_t end = std::min(o.only.find(',', start), o.only.size());
    std::string part = o.only.substr(start, end - start);
    if (part != "r1" && part != "r2" && part != "r3" && part != "r4" && part != "r5" &&
        part != "compile")
      throw tool::UsageError("--only: unknown part '" + part + "' (r1, r2, r3, r4, r5, compile)");
    start = end + 1;
  }
  if (o.threads == 0)
    o.threads = int(std::max(1u, std::thread::hardware_concurrency()));
  if (o.height % o.ph || o.width % o.pw)
    throw tool::UsageError("the image (" + std::to_string(o.height) + "x" + std::to_string(o.width) +
               ") must be a whole number of patches (" + std::to_string(o.ph) + "x" +
               std::to_string(o.pw) + ")");
  if (o.kernel % 2 == 0)
    throw tool::UsageError("--kernel must be odd");
  if (o.batch % o.threads)
    throw tool::UsageError("--batch " + std::to_string(o.batch) + " must be a multiple of --threads " +
               std::to_string(o.threads) + " (each thread runs one compiled chunk)");
}
} // namespace

Options parseOptions(int argc, char **argv) {
  Options o;
  tool::CommandLine cl("pce-bench", kUsage);
  CLI::App &app = cl.app();
  auto count = [&](const char *name, int64_t min, auto set) {
    cl.addInteger(name, "an integer >= " + std::to_string(min), min, INT64_MAX, set);
  };
  count("--batch", 1, [&](int64_t n) { o.batch = n; });
  count("--channels", 1, [&](int64_t n) { o.channels = n; });
  count("--image", 1, [&](int64_t n) { o.height = o.width = n; });
  count("--height", 1, [&](int64_t n) { o.height = n; });
  count("--width", 1, [&](int64_t n) { o.width = n; });
  count("--patch", 1, [&](int64_t n) { o.ph = o.pw = n; });
  count("--patch-h", 1, [&](int64_t n) { o.ph = n; });
  count("--patch-w", 1, [&](int64_t n) { o.pw = n; });
  count("--experts", 1, [&](int64_t n) { o.experts = n; });
  count("--out-channels", 1, [&](int64_t n) { o.outChannels = n; });
  count("--kernel", 1, [&](int64_t n) { o.kernel = n; });
  count("--repeats", 1, [&](int64_t n) { o.repeats = int(n); });
  count("--warmup", 0, [&](int64_t n) { o.warmup = int(n); });
  count("--threads", 1, [&](int64_t n) { o.threads = int(n); });
  count("--compile-runs", 0, [&](int64_t n) { o.compileRuns = int(n); });
  count("--seed", 0, [&](int64_t n) { o.seed = uint64_t(n); });
  app.add_option("--work-dir", o.workDir);
  app.add_option("--compile-model", o.compileModel);
  app.add_option("--only", o.only);
  if (std::optional<int> exit = cl.handle(argc, argv, [&] { check(o); }))
    std::exit(*exit);
  return o;
}

} // namespace pce::bench
