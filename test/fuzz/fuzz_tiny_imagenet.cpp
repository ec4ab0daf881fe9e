//===- fuzz_tiny_imagenet.cpp - libFuzzer target: Tiny-ImageNet's index ---===//
//
// The input is cut at "\n--\n" into wnids.txt, words.txt, a class's
// _boxes.txt and val/val_annotations.txt of a tree in a per-process
// directory under /dev/shm (image files exist, empty: only the index is
// read); openTinyImageNet on both splits must give a data source whose
// labels lie within its classes, or an error naming a file under the tree.
// Built and run by scripts/fuzz-data.sh.
//
//===----------------------------------------------------------------------===//

#include "runtime/datasets/TinyImageNet.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

using namespace pce::rt;
namespace fs = std::filesystem;

namespace {

fs::path root() {
  static const fs::path dir = [] {
    fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    fs::path d = base / ("pce-fuzz-tin-" + std::to_string(getpid()));
    // Images the index may name: n00000001_0..3.JPEG and val_0..3.JPEG.
    fs::create_directories(d / "train" / "n00000001" / "images");
    fs::create_directories(d / "val" / "images");
    for (int k = 0; k < 4; ++k) {
      std::ofstream(d / "train" / "n00000001" / "images" / ("n00000001_" + std::to_string(k) + ".JPEG"));
      std::ofstream(d / "val" / "images" / ("val_" + std::to_string(k) + ".JPEG"));
    }
    return d;
  }();
  return dir;
}

void put(const fs::path &p, std::string_view text) { std::ofstream(p, std::ios::binary) << text; }

void check(const Expected<std::unique_ptr<DataSource>> &ds, const std::string &rootText) {
  if (!ds) {
    if (ds.error().find(rootText) == std::string::npos)
      std::abort();
    return;
  }
  const DataSource &d = **ds;
  for (int64_t i = 0; i < d.size(); ++i) {
    auto c = d.classOf(i);
    if (!c || *c < 0 || *c >= int64_t(d.classes().size()))
      std::abort();
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view in(reinterpret_cast<const char *>(data), size);
  std::string_view parts[4];
  for (int k = 0; k < 4; ++k) {
    size_t cut = k < 3 ? in.find("\n--\n") : std::string_view::npos;
    parts[k] = in.substr(0, cut);
    in = cut == std::string_view::npos ? std::string_view() : in.substr(cut + 4);
  }
  const fs::path r = root();
  put(r / "wnids.txt", parts[0]);
  put(r / "words.txt", parts[1]);
  put(r / "train" / "n00000001" / "n00000001_boxes.txt", parts[2]);
  put(r / "val" / "val_annotations.txt", parts[3]);
  check(openTinyImageNet(r.string(), "train"), r.string());
  check(openTinyImageNet(r.string(), "val"), r.string());
  return 0;
}
