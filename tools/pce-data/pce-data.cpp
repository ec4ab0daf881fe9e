//===- pce-data.cpp - look at a data set the way pce-train will read it ---===//
//
//   pce-data DATA_DIR --format FMT [--split S] [--task detection|segmentation]
//            [--check] [--decode N] [--size HxW] [--threads N]
//
// Opens one split of an image data set in its published layout (the
// readers of runtime/datasets), validates its index, and says what it holds;
// --check decodes every example so a damaged file is found before a
// training run meets it; --decode times the decoding pce-train does (fit to
// the model's input included). Needs no MLIR or LibTorch.
//
//===----------------------------------------------------------------------===//

#include "runtime/ThreadPool.h"
#include "runtime/datasets/Examples.h"
#include "tools/support/CommandLine.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <string>

using namespace pce::rt;

namespace {

const char *kUsage =
    "usage: pce-data DATA_DIR --format FMT [--split train|val|test]\n"
    "                [--task detection|segmentation] [--check] [--decode N]\n"
    "                [--size HxW] [--threads N] [--option NAME=VALUE ...]\n"
    "\n"
    "Reads one split of a data set in its published layout and prints what it\n"
    "holds: examples, classes and how many examples (classification), objects\n"
    "(detection) or pixels (segmentation, with --check) each has.\n"
    "\n"
    "  --format FMT   tiny-imagenet, pcam, voc or camelyon16\n"
    "  --split S      train, val or test (default: the held-out split)\n"
    "  --task T       VOC's detection or segmentation lists (default segmentation)\n"
    "  --check        decode every example; each damaged one is reported (exit 1)\n"
    "  --decode N     time decoding N examples fitted to --size (default 256; 0: skip)\n"
    "  --size HxW     the model input the examples are fitted to (default: the\n"
    "                 first example's size)\n"
    "  --threads N    decoding threads (default: $PCE_NUM_THREADS or every core)\n"
    "  --option N=V   a reader option, as training.data takes it (camelyon16:\n"
    "                 level, tile_size, stride, min_tissue); repeat for several\n"
    "  --help         this help\n"
    "  --version      the PCE version and git commit\n"
    "\n"
    "Exit status: 0 success, 1 bad data, 2 usage error.\n";

const char *taskName(Task t) {
  return t == Task::Classification ? "classification" : t == Task::Detection ? "detection" : "segmentation";
}

int error(const std::string &message) {
  std::fprintf(stderr, "pce-data: error: %s\n", message.c_str());
  return 1;
}

// Decodes every example on `threads` threads; prints each damaged one and
// what the labels hold.
int check(const DataSource &ds, int threads) {
  const size_t K = ds.classes().size();
  std::vector<std::atomic<int64_t>> count(K), pixels(K);
  std::atomic<int64_t> voidPixels{0}, bad{0};
  std::mutex mu;
  std::vector<std::pair<int64_t, std::string>> errors;
  parallelFor(ds.size(), threads, [&](int64_t i) {
    auto s = ds.load(i);
    if (!s) {
      ++bad;
      std::lock_guard<std::mutex> lock(mu);
      errors.emplace_back(i, s.error());
      return;
    }
    if (ds.task() == Task::Classification && s->label >= 0 && size_t(s->label) < K)
      ++count[size_t(s->label)];
    for (const Box &b : s->boxes)
      if (ds.task() == Task::Detection && size_t(b.label) < K)
        ++count[size_t(b.label)];
    for (uint8_t v : s->mask.pixels)
      v == kVoidLabel ? ++voidPixels : v < K ? ++pixels[v] : ++bad;
  });
  std::sort(errors.begin(), errors.end());
  for (const auto &[i, e] : errors)
    std::printf("damaged: example %lld: %s\n", static_cast<long long>(i), e.c_str());
  int64_t totalPixels = voidPixels;
  for (auto &p : pixels)
    totalPixels += p;
  for (size_t c = 0; c < K; ++c) {
    if (ds.task() == Task::Segmentation)
      std::printf("  %3zu %-24s %6.2f%% of pixels\n", c, ds.classes()[c].c_str(),
                  100.0 * double(pixels[c]) / double(std::max<int64_t>(totalPixels, 1)));
    else
      std::printf("  %3zu %-24s %lld %s\n", c, ds.classes()[c].c_str(), static_cast<long long>(count[c].load()),
                  ds.task() == Task::Detection ? "objects" : "examples");
  }
  if (ds.task() == Task::Segmentation)
    std::printf("  void (255)                   %6.2f%% of pixels\n",
                100.0 * double(voidPixels) / double(std::max<int64_t>(totalPixels, 1)));
  std::printf("check: %lld of %lld examples decoded, %zu damaged\n", static_cast<long long>(ds.size()) -
              static_cast<long long>(errors.size()), static_cast<long long>(ds.size()), errors.size());
  return errors.empty() ? 0 : 1;
}

} // namespace

int main(int argc, char **argv) {
  std::string dir, format, split, task = "segmentation", size;
  bool checkAll = false;
  int64_t decode = 256, threads = defaultThreadCount();
  pce::tool::CommandLine cl("pce-data", kUsage);
  CLI::App &app = cl.app();
  app.add_option("DATA_DIR", dir);
  app.add_option("--format", format)->check(CLI::IsMember({"tiny-imagenet", "pcam", "voc", "camelyon16"}));
  app.add_option("--split", split)->check(CLI::IsMember({"train", "val", "test"}));
  app.add_option("--task", task)->check(CLI::IsMember({"detection", "segmentation"}));
  app.add_option("--size", size);
  DataOptions options;
  app.add_option_function<std::vector<std::string>>("--option", [&](const std::vector<std::string> &items) {
    for (const std::string &item : items) {
      const size_t eq = item.find('=');
      char *end = nullptr;
      const double value = eq == std::string::npos ? 0 : std::strtod(item.c_str() + eq + 1, &end);
      if (eq == std::string::npos || eq == 0 || end == item.c_str() + eq + 1 || *end != 0)
        throw pce::tool::UsageError("--option: expected NAME=NUMBER, found '" + item + "'");
      options[item.substr(0, eq)] = value;
    }
  });
  app.add_flag("--check", checkAll);
  cl.addInteger("--decode", "a count >= 0", 0, INT64_MAX, [&](int64_t n) { decode = n; });
  cl.addInteger("--threads", "a positive count", 1, 1024, [&](int64_t n) { threads = n; });
  int64_t height = 0, width = 0;
  if (std::optional<int> exit = cl.handle(argc, argv, [&] {
        if (dir.empty())
          throw pce::tool::UsageError("missing DATA_DIR");
        if (format.empty())
          throw pce::tool::UsageError("missing --format");
        if (!size.empty()) {
          long long h = 0, w = 0;
          char tail = 0;
          if (std::sscanf(size.c_str(), "%lldx%lld%c", &h, &w, &tail) != 2 || h < 1 || w < 1 || h > 65536 ||
              w > 65536)
            throw pce::tool::UsageError("--size: expected HxW with positive H and W, found '" + size + "'");
          height = h, width = w;
        }
      }))
    return *exit;
  if (split.empty())
    split = heldOutSplit(format);

  auto opened =
      openDataSource(format, dir, split, task == "detection" ? Task::Detection : Task::Segmentation, options);
  if (!opened)
    return error(opened.error());
  const DataSource &ds = **opened;
  std::printf("%s %s (%s): %lld examples, %zu classes, %s\n", format.c_str(), split.c_str(), ds.source().c_str(),
              static_cast<long long>(ds.size()), ds.classes().size(), taskName(ds.task()));
  if (ds.task() == Task::Classification && !checkAll) {
    std::vector<int64_t> count(ds.classes().size());
    for (int64_t i = 0; i < ds.size(); ++i) {
      auto c = ds.classOf(i);
      if (!c)
        return error(c.error());
      if (*c >= 0 && size_t(*c) < count.size())
        ++count[size_t(*c)];
    }
    for (size_t c = 0; c < count.size() && c < 20; ++c)
      std::printf("  %3zu %-24s %lld examples\n", c, ds.classes()[c].c_str(), static_cast<long long>(count[c]));
    if (count.size() > 20)
      std::printf("  ... (%zu classes)\n", count.size());
  }
  if (checkAll)
    if (int status = check(ds, int(threads)); status != 0)
      return status;

  const int64_t n = std::min(decode, ds.size());
  if (n > 0) {
    if (height == 0) {
      auto first = ds.load(0);
      if (!first)
        return error(first.error());
      height = first->image.height, width = first->image.width;
    }
    auto first = ds.load(0);
    const int64_t channels = first && first->image.channels == 1 ? 1 : 3;
    std::vector<int64_t> examples(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      examples[size_t(i)] = i;
    std::vector<uint8_t> out(size_t(n * channels * height * width));
    auto start = std::chrono::steady_clock::now();
    if (Status s = fitExamples(ds, examples, channels, height, width, int(threads), out.data()); !s)
      return error(s.message());
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("decode: %lld examples fitted to %lldx%lldx%lld in %.3f s: %.0f images/s on %lld thread%s\n",
                static_cast<long long>(n), static_cast<long long>(channels), static_cast<long long>(height),
                static_cast<long long>(width), seconds, double(n) / std::max(seconds, 1e-9),
                static_cast<long long>(threads), threads == 1 ? "" : "s");
  }
  return 0;
}
