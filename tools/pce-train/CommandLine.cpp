//===- CommandLine.cpp - pce-train's command line -------------------------===//

#include "tools/pce-train/CommandLine.h"

#include "runtime/TrainingPlan.h"

namespace pce::train {

const char *kUsage =
    "usage: pce-train MODEL.yaml -o RUN_DIR [--dense | --coordconv | --condconv] [--epochs N] [--resume | --force]\n"
    "                 [--finetune SOURCE]\n"
    "                 [--limit-train N] [--threads N] [--compiled DIR] [--data DIR]\n"
    "                 [--data-format FMT] [--seed N]\n"
    "\n"
    "Trains the model description MODEL.yaml (with a training: section) on\n"
    "Fashion-MNIST; PCE layers run their compiled training entry points\n"
    "(docs/Training.md). RUN_DIR receives compiled/, log.jsonl, checkpoint.*,\n"
    "weights.safetensors and summary.json.\n"
    "\n"
    "  -o RUN_DIR         the run directory (created)\n"
    "  --dense            baseline: every PCE layer becomes a LibTorch Conv(3x3)-BN-ReLU\n"
    "                     with the same output channels (needs no compiled layers)\n"
    "  --coordconv        baseline: every PCE layer becomes one LibTorch Conv-BN-ReLU over\n"
    "                     the map and the layer's 4 coordinate planes (its kernel size)\n"
    "  --condconv         baseline: every PCE layer becomes a CondConv (per image, one\n"
    "                     convolution with a mixture of E kernels) with BN and ReLU\n"
    "  --epochs N         run every phase for N epochs instead of the plan's count\n"
    "  --finetune SOURCE  train only the plan's last phase, from SOURCE's weights (a run,\n"
    "                     a pce-reshape output, whose split keys are refitted, or a\n"
    "                     .safetensors file) instead of the initialisers\n"
    "  --resume           continue from RUN_DIR/checkpoint.*\n"
    "  --force            start over in a RUN_DIR that already holds a run\n"
    "  --limit-train N    train on the first N images of the training split only\n"
    "  --threads N        LibTorch and runtime threads (default: training.threads)\n"
    "  --compiled DIR     use DIR (training.json, phase<q>/) instead of running\n"
    "                     pce-compile MODEL.yaml --training -o RUN_DIR/compiled\n"
    "  --data DIR         the data set's directory (default: training.data)\n"
    "  --data-format FMT  its format: idx, cifar10, cifar100, npy, tiny-imagenet,\n"
    "                     pcam, voc or camelyon16 (default: training.data's);\n"
    "                     normalisation statistics are then the format's (IDX:\n"
    "                     Fashion-MNIST's; others: measured on the training split)\n"
    "  --data-cache-mb N  decode an image data set once into memory when its\n"
    "                     splits fit in N MiB (default 4096), else per batch\n"
    "  --data-threads N   threads decoding a streamed data set one batch ahead of\n"
    "                     the training step (default 1)\n"
    "  --seed N           overrides training.seed\n"
    "  --stop-after N     stop after N epochs of this session (for tests of --resume)\n"
    "  --progress-every N progress lines every N batches when stdout is not a terminal\n"
    "  --help             this help\n"
    "  --version          the PCE version and git commit\n"
    "\n"
    "Options take their value as --opt VALUE or --opt=VALUE (-o RUN_DIR); none may\n"
    "be repeated.\n"
    "\n"
    "Exit status: 0 success, 1 error, 2 usage error.\n";

tool::Request parseOptions(const std::vector<std::string> &args, Options &o) {
  tool::CommandLine cl("pce-train", kUsage);
  CLI::App &app = cl.app();
  auto atLeast = [&](const char *name, int64_t min, auto set) {
    cl.addInteger(name, "an integer >= " + std::to_string(min), min, INT64_MAX, set);
  };
  app.add_option("MODEL.yaml", o.model);
  app.add_option("-o", o.runDir);
  app.add_flag("--dense", o.dense);
  bool coordConv = false, condConv = false;
  app.add_flag("--coordconv", coordConv);
  app.add_flag("--condconv", condConv);
  app.add_flag("--resume", o.resume);
  app.add_flag("--force", o.force);
  atLeast("--epochs", 0, [&](int64_t n) { o.epochs = n; });
  atLeast("--limit-train", 1, [&](int64_t n) { o.limitTrain = n; });
  atLeast("--threads", 1, [&](int64_t n) { o.threads = n; });
  app.add_option("--compiled", o.compiled);
  app.add_option("--finetune", o.finetune);
  app.add_option("--data", o.data);
  app.add_option("--data-format", o.dataFormat)->check(CLI::IsMember(rt::kDataFormats));
  atLeast("--seed", 0, [&](int64_t n) { o.seed = n; });
  atLeast("--data-cache-mb", 0, [&](int64_t n) { o.dataCacheBytes = n << 20; });
  atLeast("--data-threads", 1, [&](int64_t n) { o.dataThreads = int(n); });
  atLeast("--stop-after", 1, [&](int64_t n) { o.stopAfter = n; });
  atLeast("--progress-every", 1, [&](int64_t n) { o.progressEvery = n; });
  for (CLI::Option *flag : {app.get_option("--dense"), app.get_option("--coordconv"), app.get_option("--condconv"),
                            app.get_option("--resume"), app.get_option("--force")})
    flag->disable_flag_override();

  tool::Request request = cl.parse(args);
  if (request != tool::Request::Run)
    return request;
  if (o.model.empty())
    throw UsageError("missing MODEL.yaml");
  if (o.runDir.empty())
    throw UsageError("missing -o RUN_DIR");
  if (o.resume && o.force)
    throw UsageError("--resume and --force exclude each other");
  if (int(o.dense) + int(coordConv) + int(condConv) > 1)
    throw UsageError("--dense, --coordconv and --condconv exclude each other");
  // Each twin is a LibTorch baseline.
  o.baseline = coordConv ? "coordconv" : condConv ? "condconv" : o.dense ? "dense" : "";
  o.dense = !o.baseline.empty();
  return request;
}

} // namespace pce::train
