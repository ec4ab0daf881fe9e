//===- Options.cpp - pce-run's command line -------------------------------===//

#include "tools/pce-run/Options.h"

#include "tools/support/CommandLine.h"

#include "runtime/DataDescription.h"

#include <cmath>
#include <cstdlib>

namespace pce::run {

namespace {

const char *kUsage =
    "usage: pce-run DIR --input X.npy --output Y.npy [--weights W.safetensors]\n"
    "               [--routing RDIR] [--entry NAME]\n"
    "       pce-run DIR --idx-images IMAGES [--idx-labels LABELS] [--limit N]\n"
    "               [--normalize MEAN,STD] [--weights W.safetensors]\n"
    "               [--output Y.npy] [--routing RDIR] [--entry NAME]\n"
    "       pce-run DIR --data DATA_DIR [--data-format FMT] [--split test|val|train]\n"
    "               [--limit N] --weights W.safetensors [--output Y.npy]\n"
    "               [--routing RDIR] [--entry NAME] [--scores S.json]\n"
    "               [--masks MDIR | --detections D.json]\n"
    "\n"
    "Runs entry point NAME (default: forward) of the compiled artifact in DIR.\n"
    "\n"
    "  --weights W.safetensors  parameters of the model (needed when the entry\n"
    "                           point takes parameters)\n"
    "  --input X.npy            the entry point's single \"input\" argument\n"
    "  --input NAME=X.npy       one input by name (repeat for several inputs)\n"
    "  --output Y.npy           where to write the first \"output\" result\n"
    "  --routing RDIR           create RDIR and write every \"routing\" result\n"
    "                           as RDIR/<result name>.npy, and the routing\n"
    "                           statistics (entropy, expert usage, routing map,\n"
    "                           mutual information, warnings, route clusters)\n"
    "                           as RDIR/report.json, report.md and report.html\n"
    "                           (one page: example images, pictures); a summary\n"
    "                           line per layer goes to stdout\n"
    "  --clusters K             k of the report's route clustering (k-means over\n"
    "                           the images' routing; default 4, 0: none)\n"
    "  --run RUN_DIR            a pce-train run directory: report.html also shows\n"
    "                           its training curves (RUN_DIR/log.jsonl)\n"
    "  --entry NAME             entry point to run (default: forward)\n"
    "  --threads N              threads for inputs holding several compiled batches\n"
    "                           (default: $PCE_NUM_THREADS, else all cores)\n"
    "  --repeat N               after the call whose results are written, time N\n"
    "                           more calls of the entry point on the same inputs\n"
    "                           and print their median and minimum (with --input;\n"
    "                           e.g. a CUDA artifact's time for R5, docs/GPU.md)\n"
    "  --help                   show this help\n"
    "  --version                show the PCE version and git commit\n"
    "\n"
    "Data sets in the IDX format (MNIST, Fashion-MNIST; plain or .gz), instead of\n"
    "--input; the entry point must take one f32 input [B,1,H,W]:\n"
    "  --idx-images IMAGES      u8 images [N,H,W], scaled to [0,1] (x/255), run in\n"
    "                           batches of B (the last one padded with zeros)\n"
    "  --idx-labels LABELS      labels [N]: print top-1 (and, with >= 5 classes,\n"
    "                           top-5) accuracy of the first output [N,classes];\n"
    "                           with --routing, also I(expert; class)\n"
    "  --limit N                use only the first N images\n"
    "  --normalize MEAN,STD     after scaling, x = (x - MEAN) / STD (default: as the\n"
    "                           weights' training did, from their pce.data.*\n"
    "                           metadata; a value that differs is a warning)\n"
    "  --output, --routing      optional here; they receive all N items\n"
    "\n"
    "--data: a data set in its published layout, labels included (accuracy as\n"
    "with --idx-labels; mIoU or VOC mAP@0.5 for a segmentation or detection\n"
    "head, as pce-train computes them):\n"
    "  --data DATA_DIR          the data set's directory\n"
    "  --data-format FMT        idx, cifar10, cifar100, npy, tiny-imagenet, pcam,\n"
    "                           voc or camelyon16\n"
    "                           (default: the format the weights were trained\n"
    "                           on, pce.data.format)\n"
    "  --split test|val|train   which split (default: the held-out one: test, or\n"
    "                           val for Tiny-ImageNet, whose test has no labels;\n"
    "                           val only where the data set ships one)\n"
    "  (images of tiny-imagenet, pcam, voc and camelyon16 are resized to the model's input:\n"
    "  shorter side to the input, centre crop, as pce-train does)\n"
    "  --limit N                use only the first N images\n"
    "  --scores FILE.json       segmentation / detection heads (voc, camelyon16):\n"
    "                           every number of the evaluation (per class too)\n"
    "  --masks DIR              segmentation: each predicted mask as DIR/<id>.png\n"
    "                           (VOC palette, the model's input geometry)\n"
    "  --detections FILE.json   detection: every box (image id, class, score,\n"
    "                           [xmin, ymin, xmax, ymax] in the image's pixels)\n"
    "  (images are normalised as the weights' pce.data.* metadata says;\n"
    "  --normalize overrides it for IDX)\n"
    "\n"
    "Options take their value as --opt VALUE or --opt=VALUE; only --input may\n"
    "be repeated.\n"
    "\n"
    "Exit status: 0 success, 1 runtime error, 2 usage error.\n";

using tool::UsageError;

// "MEAN,STD": two finite numbers, STD > 0.
rt::IdxNormalization parseNormalization(const std::string &value) {
  auto bad = [&] {
    return UsageError("option '--normalize' needs MEAN,STD (two numbers, STD > 0), found '" + value + "'");
  };
  size_t comma = value.find(',');
  if (comma == std::string::npos)
    throw bad();
  auto number = [&](const std::string &text) {
    char *end = nullptr;
    float v = std::strtof(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !std::isfinite(v))
      throw bad();
    return v;
  };
  rt::IdxNormalization n{number(value.substr(0, comma)), number(value.substr(comma + 1))};
  if (!(n.std > 0))
    throw bad();
  return n;
}

// Which options go together: the two modes (--input, --idx-images).
void checkModes(const Options &o, const CLI::App &app) {
  auto given = [&](const char *name) { return app.get_option(name)->count() > 0; };
  if (o.dir.empty())
    throw UsageError("missing the artifact directory");
  if (o.data) {
    if (o.idxImages || !o.inputs.empty())
      throw UsageError("--data, --idx-images and --input are alternatives: give one of them");
    if (given("--idx-labels"))
      throw UsageError("option '--idx-labels' needs --idx-images (--data reads the labels of its split)");
    if (o.repeat)
      throw UsageError("option '--repeat' needs --input (it times one call on the same inputs)");
    return;
  }
  for (const char *dataOnly : {"--data-format", "--split", "--masks", "--detections", "--scores"})
    if (given(dataOnly))
      throw UsageError(std::string("option '") + dataOnly + "' needs --data");
  if (o.idxImages) {
    if (!o.inputs.empty())
      throw UsageError("--input and --idx-images are alternatives: give one of them");
    if (o.repeat)
      throw UsageError("option '--repeat' needs --input (it times one call on the same inputs)");
    return; // --output is optional: the accuracy may be all one wants
  }
  for (const char *idxOnly : {"--idx-labels", "--limit", "--normalize"})
    if (given(idxOnly))
      throw UsageError(std::string("option '") + idxOnly + "' needs --idx-images or --data");
  if (o.inputs.empty())
    throw UsageError("missing --input (or --idx-images)");
  if (!o.output)
    throw UsageError("missing --output");
}

} // namespace

std::optional<int> parseCommandLine(int argc, char **argv, Options &o) {
  tool::CommandLine cl("pce-run", kUsage);
  CLI::App &app = cl.app();
  app.add_option("DIR", o.dir, "the artifact directory");
  app.add_option("--weights", o.weights);
  app.add_option("--input", o.inputs);
  app.add_option("--output", o.output);
  app.add_option("--routing", o.routing);
  app.add_option("--entry", o.entry);
  app.add_option("--run", o.run);
  cl.addInteger("--clusters", "a count in [0, 64]", 0, 64, [&](int64_t n) { o.clusters = n; });
  cl.addInteger("--threads", "a count in [1, 1024]", 1, 1024, [&](int64_t n) { o.threads = int(n); });
  cl.addInteger("--repeat", "a count in [1, 100000]", 1, 100000, [&](int64_t n) { o.repeat = int(n); });
  app.add_option("--idx-images", o.idxImages);
  app.add_option("--idx-labels", o.idxLabels);
  cl.addInteger("--limit", "a positive count", 1, INT64_MAX, [&](int64_t n) { o.limit = n; });
  app.add_option("--data", o.data);
  app.add_option("--data-format", o.dataFormat)->check(CLI::IsMember(rt::kDataFormats));
  app.add_option("--split", o.split)->check(CLI::IsMember({"test", "val", "train"}));
  app.add_option("--masks", o.masks);
  app.add_option("--detections", o.detections);
  app.add_option("--scores", o.scores);
  app.add_option_function<std::string>("--normalize",
                                       [&](const std::string &v) { o.normalization = parseNormalization(v); });
  return cl.handle(argc, argv, [&] { checkModes(o, app); });
}

} // namespace pce::run
