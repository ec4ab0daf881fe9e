//===- pce-make-scenes.cpp - write a VOC-format data set of Fashion-MNIST scenes
//
//   pce-make-scenes --out DIR --images N --size S --seed K
//                   [--fashion-mnist DIR] [--items MIN:MAX] [--max-overlap F]
//                   [--quality Q] [--force]
//
// The scenes and their layout are described in Scenes.h. Exit codes: 0
// success, 1 error (Fashion-MNIST missing, a file that cannot be written,
// a non-empty --out), 2 usage error.
//
//===----------------------------------------------------------------------===//

#include "tools/pce-make-scenes/Scenes.h"

#include "tools/support/CommandLine.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>

using pce::tool::UsageError;

namespace {

const char *kUsage =
    "usage: pce-make-scenes --out DIR --images N --size S --seed K\n"
    "                       [--fashion-mnist DIR] [--items MIN:MAX]\n"
    "                       [--max-overlap F] [--quality Q] [--force]\n"
    "\n"
    "Composes Fashion-MNIST items into S x S RGB scenes and writes them as a\n"
    "Pascal VOC tree (detection boxes and segmentation masks) under DIR:\n"
    "JPEGImages/, Annotations/, SegmentationClass/, ImageSets/Main/ and\n"
    "ImageSets/Segmentation/ with the splits train (80%), val (10%), test (10%,\n"
    "items from Fashion-MNIST's test file) and trainval; scenes.txt records\n"
    "which item each object is. The same options give identical files.\n"
    "\n"
    "  --out DIR            the VOC root to write (absent or empty)\n"
    "  --images N           number of scenes, at least 10\n"
    "  --size S             scene side in pixels, 32..4096\n"
    "  --seed K             random seed (a whole number >= 0)\n"
    "  --fashion-mnist DIR  the {train,t10k}-{images-idx3,labels-idx1}-ubyte(.gz)\n"
    "                       files (default /usr/share/datasets/fashion-mnist)\n"
    "  --items MIN:MAX      items per scene (default 1:4; at most 20)\n"
    "  --max-overlap F      largest IoU between two items' boxes (default 0.3)\n"
    "  --quality Q          JPEG quality 1..100 (default 90)\n"
    "  --force              replace the VOC tree in a non-empty DIR\n"
    "  --help               show this help\n"
    "  --version            show the PCE version and git commit\n"
    "\n"
    "Exit status: 0 success, 1 error, 2 usage error.\n";

// "MIN:MAX", whole numbers.
std::pair<int64_t, int64_t> parseItems(const std::string &value) {
  auto bad = [&] {
    return UsageError("option '--items' needs MIN:MAX (1 <= MIN <= MAX <= 20), found '" + value + "'");
  };
  size_t colon = value.find(':');
  if (colon == std::string::npos)
    throw bad();
  auto number = [&](const std::string &text) {
    char *end = nullptr;
    long v = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || v < 1 || v > 20)
      throw bad();
    return int64_t(v);
  };
  std::pair<int64_t, int64_t> range{number(value.substr(0, colon)), number(value.substr(colon + 1))};
  if (range.first > range.second)
    throw bad();
  return range;
}

double parseOverlap(const std::string &value) {
  char *end = nullptr;
  double v = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || !(v >= 0 && v <= 1))
    throw UsageError("option '--max-overlap' needs an IoU in [0, 1], found '" + value + "'");
  return v;
}

} // namespace

int main(int argc, char **argv) {
  try {
    pce::SceneOptions o;
    pce::tool::CommandLine cl("pce-make-scenes", kUsage);
    CLI::App &app = cl.app();
    app.add_option("--out", o.out);
    cl.addInteger("--images", "a count of at least 10", 10, 10000000, [&](int64_t n) { o.images = n; });
    cl.addInteger("--size", "a side in [32, 4096] pixels", 32, 4096, [&](int64_t n) { o.size = n; });
    cl.addInteger("--seed", "a whole number >= 0", 0, INT64_MAX, [&](int64_t n) { o.seed = uint64_t(n); });
    app.add_option("--fashion-mnist", o.fashionMnist);
    app.add_option_function<std::string>("--items", [&](const std::string &v) {
      auto [lo, hi] = parseItems(v);
      o.minItems = lo;
      o.maxItems = hi;
    });
    app.add_option_function<std::string>("--max-overlap",
                                         [&](const std::string &v) { o.maxOverlap = parseOverlap(v); });
    cl.addInteger("--quality", "a JPEG quality in [1, 100]", 1, 100, [&](int64_t n) { o.quality = int(n); });
    app.add_flag("--force", o.force);
    auto required = [&] {
      for (const char *name : {"--out", "--images", "--size", "--seed"})
        if (app.get_option(name)->count() == 0)
          throw UsageError(std::string("missing ") + name);
    };
    if (std::optional<int> exit = cl.handle(argc, argv, required))
      return *exit;
    auto start = std::chrono::steady_clock::now();
    if (pce::rt::Status s = pce::makeScenes(o); !s) {
      std::fprintf(stderr, "pce-make-scenes: error: %s\n", s.message().c_str());
      return pce::tool::kExitError;
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("pce-make-scenes: wrote %lld scenes of %lldx%lld to %s in %.1f s\n", static_cast<long long>(o.images),
                static_cast<long long>(o.size), static_cast<long long>(o.size), o.out.c_str(), seconds);
    return pce::tool::kExitSuccess;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "pce-make-scenes: error: internal error: %s\n", e.what());
    return pce::tool::kExitError;
  }
}
