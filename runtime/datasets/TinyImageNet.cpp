//===- TinyImageNet.cpp - Tiny-ImageNet-200 in its published layout -------===//

#include "runtime/datasets/TinyImageNet.h"

#include "runtime/FileIO.h"
#include "runtime/Failure.h"
#include "runtime/datasets/ImageCodec.h"
#include "runtime/datasets/TextFields.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

namespace pce::rt {

namespace {

namespace fs = std::filesystem;
using detail::fail;

struct Entry {
  std::string path;
  int64_t label;
  Box box;
};

class TinyImageNet final : public DataSource {
public:
  TinyImageNet(std::vector<Entry> entries, std::vector<std::string> classes, std::string source)
      : entries_(std::move(entries)), classes_(std::move(classes)), source_(std::move(source)) {}

  int64_t size() const override { return int64_t(entries_.size()); }
  Task task() const override { return Task::Classification; }
  const std::vector<std::string> &classes() const override { return classes_; }
  std::string source() const override { return source_; }
  Expected<int64_t> classOf(int64_t i) const override { return entries_.at(size_t(i)).label; }

  Expected<Sample> load(int64_t i) const override {
    if (i < 0 || i >= size())
      return Status::error(source_ + ": example " + std::to_string(i) + " of " + std::to_string(size()));
    const Entry &e = entries_[size_t(i)];
    auto image = readImageFile(e.path);
    if (!image)
      return image.status();
    if (image->channels == 1) { // a grayscale JPEG: replicate to RGB
      Image rgb(image->height, image->width, 3);
      for (size_t p = 0; p < image->pixels.size(); ++p)
        rgb.pixels[3 * p] = rgb.pixels[3 * p + 1] = rgb.pixels[3 * p + 2] = image->pixels[p];
      *image = std::move(rgb);
    }
    if (image->channels != 3)
      return Status::error(e.path + ": " + std::to_string(image->channels) + " channels (expected RGB or grayscale)");
    if (e.box.xmax > image->width || e.box.ymax > image->height)
      return Status::error(e.path + ": its box reaches (" + std::to_string(int64_t(e.box.xmax) - 1) + ", " +
                           std::to_string(int64_t(e.box.ymax) - 1) + ") outside the " +
                           std::to_string(image->width) + "x" + std::to_string(image->height) + " image");
    Sample s;
    s.image = std::move(*image);
    s.label = e.label;
    s.boxes.push_back(e.box);
    s.source = e.path;
    return s;
  }

private:
  std::vector<Entry> entries_;
  std::vector<std::string> classes_;
  std::string source_;
};

std::string readText(const fs::path &path, const std::string &why) {
  if (!fs::is_regular_file(path))
    fail(path.string() + ": not found (" + why + ")");
  return detail::readWholeFile(path.string());
}

// x0 y0 x1 y1 (inclusive pixel corners, 0-based) in fields [first, first+4).
Box parseBox(const std::string &path, const std::vector<TextField> &f, size_t first, int64_t label) {
  int64_t v[4];
  for (int k = 0; k < 4; ++k) {
    auto n = parseInteger(f[first + k].text);
    if (!n || *n < 0 || *n >= kTinyImageNetSide)
      fail(positionError(path, f[first + k], "expected a pixel coordinate in 0.." +
                                                 std::to_string(kTinyImageNetSide - 1) + ", found '" +
                                                 std::string(f[first + k].text) + "'"));
    v[k] = *n;
  }
  if (v[2] < v[0] || v[3] < v[1])
    fail(positionError(path, f[first], "box corner (x1, y1) lies before (x0, y0)"));
  Box b;
  b.xmin = float(v[0]), b.ymin = float(v[1]), b.xmax = float(v[2] + 1), b.ymax = float(v[3] + 1);
  b.label = label;
  return b;
}

void expectFields(const std::string &path, const std::vector<TextField> &f, size_t n, const char *form) {
  if (f.size() != n)
    fail(positionError(path, f.front(), "expected " + std::to_string(n) + " tab-separated fields (" + form +
                                            "), found " + std::to_string(f.size())));
}

// The *.JPEG names in `dir`, sorted.
std::set<std::string> jpegNames(const fs::path &dir, const std::string &why) {
  if (!fs::is_directory(dir))
    fail(dir.string() + ": not found (" + why + ")");
  std::set<std::string> names;
  for (const auto &e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".JPEG")
      names.insert(e.path().filename().string());
  return names;
}

std::unique_ptr<DataSource> open(const fs::path &root, const std::string &split) {
  const fs::path wnidsPath = root / "wnids.txt";
  const std::string wnidsText = readText(wnidsPath, "the class list of Tiny-ImageNet-200");
  std::vector<std::string> wnids;
  std::map<std::string, int64_t, std::less<>> labelOf;
  for (const auto &f : splitFields(wnidsText, false)) {
    if (f.size() != 1)
      fail(positionError(wnidsPath.string(), f[1], "expected one WordNet id per line"));
    // A wnid names a directory under train/: a plain name, never a path.
    if (f[0].text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
        std::string_view::npos)
      fail(positionError(wnidsPath.string(), f[0], "a WordNet id is letters, digits, '_' and '-' (like n01443537)"));
    if (!labelOf.emplace(std::string(f[0].text), int64_t(wnids.size())).second)
      fail(positionError(wnidsPath.string(), f[0], "WordNet id '" + std::string(f[0].text) + "' listed twice"));
    wnids.emplace_back(f[0].text);
  }
  if (wnids.empty())
    fail(wnidsPath.string() + ": no WordNet id");

  // Names: words.txt's first comma item; the wnid itself where it has none.
  std::vector<std::string> classes = wnids;
  const fs::path wordsPath = root / "words.txt";
  const std::string words = readText(wordsPath, "the class names of Tiny-ImageNet-200");
  for (const auto &f : splitFields(words, true)) {
    auto it = labelOf.find(f[0].text);
    if (it == labelOf.end())
      continue;
    if (f.size() < 2)
      fail(positionError(wordsPath.string(), f[0], "expected 'wnid<TAB>names'"));
    std::string_view name = f[1].text.substr(0, f[1].text.find(','));
    classes[size_t(it->second)] = std::string(name);
  }

  std::vector<Entry> entries;
  auto labelAt = [&](const std::string &path, const TextField &f) {
    auto it = labelOf.find(f.text);
    if (it == labelOf.end())
      fail(positionError(path, f, "WordNet id '" + std::string(f.text) + "' is not in " + wnidsPath.string()));
    return it->second;
  };
  std::string source;
  if (split == "train") {
    source = (root / "train").string();
    for (size_t c = 0; c < wnids.size(); ++c) {
      const fs::path dir = root / "train" / wnids[c];
      std::set<std::string> images = jpegNames(dir / "images", "the training images of " + wnids[c]);
      const std::string boxesPath = (dir / (wnids[c] + "_boxes.txt")).string();
      std::set<std::string> boxed;
      const std::string boxesText = readText(boxesPath, "the boxes of " + wnids[c]);
      for (const auto &f : splitFields(boxesText, true)) {
        expectFields(boxesPath, f, 5, "file x0 y0 x1 y1");
        std::string name(f[0].text);
        if (!images.count(name))
          fail(positionError(boxesPath, f[0], "no image '" + name + "' in " + (dir / "images").string()));
        if (!boxed.insert(name).second)
          fail(positionError(boxesPath, f[0], "'" + name + "' listed twice"));
        entries.push_back({(dir / "images" / name).string(), int64_t(c), parseBox(boxesPath, f, 1, int64_t(c))});
      }
      for (const std::string &name : images)
        if (!boxed.count(name))
          fail((dir / "images" / name).string() + ": has no line in " + boxesPath);
    }
  } else if (split == "val") {
    const fs::path dir = root / "val";
    source = dir.string();
    std::set<std::string> images = jpegNames(dir / "images", "Tiny-ImageNet's labelled validation images");
    const std::string annotations = (dir / "val_annotations.txt").string();
    std::set<std::string> seen;
    const std::string annotationsText = readText(annotations, "the labels of val/images");
    for (const auto &f : splitFields(annotationsText, true)) {
      expectFields(annotations, f, 6, "file wnid x0 y0 x1 y1");
      std::string name(f[0].text);
      if (!images.count(name))
        fail(positionError(annotations, f[0], "no image '" + name + "' in " + (dir / "images").string()));
      if (!seen.insert(name).second)
        fail(positionError(annotations, f[0], "'" + name + "' listed twice"));
      int64_t label = labelAt(annotations, f[1]);
      entries.push_back({(dir / "images" / name).string(), label, parseBox(annotations, f, 2, label)});
    }
    for (const std::string &name : images)
      if (!seen.count(name))
        fail((dir / "images" / name).string() + ": has no line in " + annotations);
  } else if (split == "test") {
    fail(root.string() + ": Tiny-ImageNet's test images have no labels; its labelled held-out split is 'val'");
  } else {
    fail(root.string() + ": unknown split '" + split + "' (Tiny-ImageNet has train and val)");
  }
  if (entries.empty())
    fail(source + ": no images");
  return std::make_unique<TinyImageNet>(std::move(entries), std::move(classes), source);
}

} // namespace

Expected<std::unique_ptr<DataSource>> openTinyImageNet(const std::string &root, const std::string &split) {
  try {
    return open(root, split);
  } catch (...) {
    return detail::statusFromCurrentException();
  }
}

} // namespace pce::rt
