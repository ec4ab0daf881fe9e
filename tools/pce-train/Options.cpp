//===- Options.cpp - pce-train's command line -----------------------------===//

#include "tools/pce-train/Options.h"

#include <cstdlib>
#include <set>

namespace pce::train {

const char *kUsage =
    "usage: pce-train MODEL.yaml -o RUN_DIR [--dense] [--epochs N] [--resume | --force]\n"
    "                 [--limit-train N] [--threads N] [--compiled DIR] [--data DIR] [--seed N]\n"
    "\n"
    "Trains the model description MODEL.yaml (with a training: section) on\n"
    "Fashion-MNIST; PCE layers run their compiled training entry points\n"
    "(docs/Training.md). RUN_DIR receives compiled/, log.jsonl, checkpoint.*,\n"
    "weights.safetensors and summary.json.\n"
    "\n"
    "  -o RUN_DIR         the run directory (created)\n"
    "  --dense            baseline: every PCE layer becomes a LibTorch Conv(3x3)-BN-ReLU\n"
    "                     with the same output channels (needs no compiled layers)\n"
    "  --epochs N         run every phase for N epochs instead of the plan's count\n"
    "  --resume           continue from RUN_DIR/checkpoint.*\n"
    "  --force            start over in a RUN_DIR that already holds a run\n"
    "  --limit-train N    train on the first N images of the training split only\n"
    "  --threads N        LibTorch and runtime threads (default: training.threads)\n"
    "  --compiled DIR     use DIR (training.json, phase<q>/) instead of running\n"
    "                     pce-compile MODEL.yaml --training -o RUN_DIR/compiled\n"
    "  --data DIR         the IDX files' directory (default: training.data)\n"
    "  --seed N           overrides training.seed\n"
    "  --stop-after N     stop after N epochs of this session (for tests of --resume)\n"
    "  --progress-every N progress lines every N batches when stdout is not a terminal\n"
    "  --help             this help\n"
    "\n"
    "Exit status: 0 success, 1 error, 2 usage error.\n";

namespace {
int64_t parseCount(const std::string &option, const std::string &value, int64_t min) {
  char *end = nullptr;
  long long v = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || v < min)
    throw UsageError{"option '" + option + "' needs an integer >= " + std::to_string(min) + ", found '" + value +
                     "'"};
  return v;
}
} // namespace

Options parseOptions(const std::vector<std::string> &args) {
  Options o;
  std::set<std::string> seen;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i], value;
    bool hasInline = false;
    if (arg.rfind("--", 0) == 0) {
      size_t eq = arg.find('=');
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        hasInline = true;
      }
    }
    static const std::set<std::string> flags = {"--dense", "--resume", "--force", "--help", "-h"};
    static const std::set<std::string> valued = {"-o",     "--epochs", "--limit-train", "--threads",
                                                 "--compiled", "--data", "--seed", "--stop-after",
                                                 "--progress-every"};
    if (flags.count(arg)) {
      if (hasInline)
        throw UsageError{"option '" + arg + "' takes no value"};
    } else if (valued.count(arg)) {
      if (!hasInline) {
        if (i + 1 >= args.size())
          throw UsageError{"option '" + arg + "' needs a value"};
        value = args[++i];
      }
    } else if (!arg.empty() && arg[0] == '-') {
      throw UsageError{"unknown option '" + arg + "'"};
    } else {
      positional.push_back(arg);
      continue;
    }
    if (!seen.insert(arg).second)
      throw UsageError{"option '" + arg + "' given twice"};
    if (arg == "--help" || arg == "-h")
      throw UsageError{""}; // the caller prints the usage and exits 0
    else if (arg == "--dense") o.dense = true;
    else if (arg == "--resume") o.resume = true;
    else if (arg == "--force") o.force = true;
    else if (arg == "-o") o.runDir = value;
    else if (arg == "--epochs") o.epochs = parseCount(arg, value, 0);
    else if (arg == "--limit-train") o.limitTrain = parseCount(arg, value, 1);
    else if (arg == "--threads") o.threads = parseCount(arg, value, 1);
    else if (arg == "--compiled") o.compiled = value;
    else if (arg == "--data") o.data = value;
    else if (arg == "--seed") o.seed = parseCount(arg, value, 0);
    else if (arg == "--stop-after") o.stopAfter = parseCount(arg, value, 1);
    else if (arg == "--progress-every") o.progressEvery = parseCount(arg, value, 1);
  }
  if (positional.size() > 1)
    throw UsageError{"unexpected argument '" + positional[1] + "'"};
  if (positional.empty())
    throw UsageError{"missing MODEL.yaml"};
  o.model = positional[0];
  if (o.runDir.empty())
    throw UsageError{"missing -o RUN_DIR"};
  if (o.resume && o.force)
    throw UsageError{"--resume and --force exclude each other"};
  return o;
}

} // namespace pce::train
