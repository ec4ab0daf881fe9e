//===- Scenes.cpp - VOC-format scenes composed of Fashion-MNIST items -----===//
//
// One scene at a time: draw its layout, render colour and labels, derive
// boxes, difficult flags and the void band, then write its JPEG, mask and
// XML; the ImageSets lists and scenes.txt come last, from what was drawn.
// Nothing depends on the order files are written or on the library's
// distributions, so the output is byte-identical for the same options.
//
//===----------------------------------------------------------------------===//

#include "tools/pce-make-scenes/Scenes.h"

#include "runtime/Idx.h"
#include "runtime/datasets/ImageCodec.h"
#include "runtime/datasets/Voc.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

namespace pce {

using rt::Expected;
using rt::Image;
using rt::Status;

namespace {

namespace fs = std::filesystem;

constexpr int64_t kSide = 28;     // Fashion-MNIST items
constexpr int kPlacementTries = 100;
constexpr int64_t kDifficultSide = 12;
constexpr double kItemThreshold = 0.1; // of the item's max intensity
// Least L1 distance of an item's colour from the background's (at most 384
// is always possible), so items stand out even where they are faint.
constexpr int64_t kContrast = 280;

// Uniform draws from raw 64-bit outputs, the same on every standard library.
class Draw {
public:
  explicit Draw(uint64_t seed) : gen_(seed) {}
  // Uniform in [lo, hi], by rejection of the incomplete last block.
  int64_t integer(int64_t lo, int64_t hi) {
    const uint64_t range = uint64_t(hi - lo) + 1;
    const uint64_t limit = UINT64_MAX - (UINT64_MAX % range + 1) % range;
    for (;;) {
      uint64_t x = gen_();
      if (x <= limit)
        return lo + int64_t(x % range);
    }
  }
  // Uniform in [0, 1) with 53 random bits.
  double real() { return double(gen_() >> 11) * 0x1.0p-53; }

private:
  std::mt19937_64 gen_;
};

uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// One Fashion-MNIST file pair, checked.
struct Items {
  rt::IdxArray images, labels;
  std::string file; // the images file's name, for scenes.txt
  int64_t count = 0;
  const uint8_t *item(int64_t i) const { return images.u8() + i * kSide * kSide; }
};

Expected<Items> readItems(const std::string &dir, const std::string &prefix) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Status::error("Fashion-MNIST directory " + dir +
                         " not found (install Debian's dataset-fashion-mnist or pass --fashion-mnist DIR)");
  auto imagesPath = rt::findIdxFile(dir, prefix + "-images-idx3-ubyte");
  if (!imagesPath)
    return imagesPath.status();
  auto labelsPath = rt::findIdxFile(dir, prefix + "-labels-idx1-ubyte");
  if (!labelsPath)
    return labelsPath.status();
  Items items;
  auto images = rt::readIdx(*imagesPath);
  if (!images)
    return images.status();
  auto labels = rt::readIdx(*labelsPath);
  if (!labels)
    return labels.status();
  if (!images->u8() || images->shape.size() != 3 || images->shape[1] != kSide || images->shape[2] != kSide)
    return Status::error(*imagesPath + ": expected u8 images [N,28,28] (Fashion-MNIST)");
  if (!labels->u8() || labels->shape.size() != 1 || labels->shape[0] != images->shape[0])
    return Status::error(*labelsPath + ": expected u8 labels [" + std::to_string(images->shape[0]) + "]");
  for (int64_t i = 0; i < labels->shape[0]; ++i)
    if (labels->u8()[i] >= 10)
      return Status::error(*labelsPath + ": byte " + std::to_string(8 + i) + ": label " +
                           std::to_string(labels->u8()[i]) + " is not a Fashion-MNIST class (0..9)");
  items.count = images->shape[0];
  items.images = std::move(*images);
  items.labels = std::move(*labels);
  items.file = fs::path(*imagesPath).filename().string();
  return items;
}

using Colour = std::array<int64_t, 3>;

struct Object {
  int64_t item = 0, cls = 0;
  int64_t x = 0, y = 0, side = 0;
  int64_t x0 = 0, y0 = 0, x1 = 0, y1 = 0; // tight box in the scene, [x0, x1) x [y0, y1)
  Colour colour{};
  std::vector<double> v; // the resized item
  double threshold = 0;
  int64_t pixels = 0, visible = 0;
  bool difficult = false;
};

struct Scene {
  Image rgb, mask;
  std::vector<Object> objects;
};

double iou(const Object &a, const Object &b) {
  const int64_t w = std::min(a.x1, b.x1) - std::max(a.x0, b.x0), h = std::min(a.y1, b.y1) - std::max(a.y0, b.y0);
  if (w <= 0 || h <= 0)
    return 0;
  const double inter = double(w * h);
  const double areaA = double((a.x1 - a.x0) * (a.y1 - a.y0)), areaB = double((b.x1 - b.x0) * (b.y1 - b.y0));
  return inter / (areaA + areaB - inter);
}

int64_t l1(const Colour &a, const Colour &b) {
  return std::abs(a[0] - b[0]) + std::abs(a[1] - b[1]) + std::abs(a[2] - b[2]);
}

Colour randomColour(Draw &draw) { return {draw.integer(0, 255), draw.integer(0, 255), draw.integer(0, 255)}; }

Scene makeScene(const SceneOptions &o, const Items &items, int64_t k) {
  Draw draw(splitmix(o.seed ^ splitmix(uint64_t(k) + 1)));
  const int64_t S = o.size;
  std::vector<double> rgb(size_t(S * S * 3));
  // Background: plain, or two colours blended by smooth value noise.
  const Colour c0 = randomColour(draw);
  const bool textured = draw.integer(0, 1) == 1;
  Colour c1 = c0;
  double grid[5][5] = {};
  if (textured) { // a second colour near the first, so items stand out from both
    for (size_t c = 0; c < 3; ++c)
      c1[c] = std::min<int64_t>(255, std::max<int64_t>(0, c0[c] + draw.integer(-64, 64)));
    for (auto &row : grid)
      for (double &g : row)
        g = draw.real();
  }
  for (int64_t y = 0; y < S; ++y)
    for (int64_t x = 0; x < S; ++x) {
      double t = 0;
      if (textured) {
        const double gy = (double(y) + 0.5) * 4 / double(S), gx = (double(x) + 0.5) * 4 / double(S);
        const int iy = std::min(int(gy), 3), ix = std::min(int(gx), 3);
        const double fy = gy - iy, fx = gx - ix;
        t = (grid[iy][ix] * (1 - fx) + grid[iy][ix + 1] * fx) * (1 - fy) +
            (grid[iy + 1][ix] * (1 - fx) + grid[iy + 1][ix + 1] * fx) * fy;
      }
      for (int c = 0; c < 3; ++c)
        rgb[size_t((y * S + x) * 3 + c)] = double(c0[size_t(c)]) * (1 - t) + double(c1[size_t(c)]) * t;
    }

  // Layout: items, sides and positions, redrawn while they overlap too much.
  Scene scene;
  const int64_t count = draw.integer(o.minItems, o.maxItems);
  for (int64_t n = 0; n < count; ++n) {
    bool placed = false;
    Object ob;
    for (int tries = 0; tries < kPlacementTries && !placed; ++tries) {
      ob.item = draw.integer(0, items.count - 1);
      ob.side = draw.integer(S / 6, S / 2);
      ob.x = draw.integer(0, S - ob.side);
      ob.y = draw.integer(0, S - ob.side);
      ob.v = resizeItem(items.item(ob.item), ob.side);
      const double peak = *std::max_element(ob.v.begin(), ob.v.end());
      if (peak <= 0)
        continue;
      ob.threshold = kItemThreshold * peak;
      ob.x0 = ob.y0 = INT64_MAX;
      ob.x1 = ob.y1 = INT64_MIN;
      for (int64_t y = 0; y < ob.side; ++y)
        for (int64_t x = 0; x < ob.side; ++x)
          if (ob.v[size_t(y * ob.side + x)] > ob.threshold) {
            ob.x0 = std::min(ob.x0, ob.x + x);
            ob.y0 = std::min(ob.y0, ob.y + y);
            ob.x1 = std::max(ob.x1, ob.x + x + 1);
            ob.y1 = std::max(ob.y1, ob.y + y + 1);
          }
      placed = std::all_of(scene.objects.begin(), scene.objects.end(),
                           [&](const Object &other) { return iou(ob, other) <= o.maxOverlap; });
    }
    if (!placed)
      break;
    ob.cls = sceneClassOfFashionLabel(items.labels.u8()[ob.item]);
    do // an item colour that stands out from the background
      ob.colour = randomColour(draw);
    while (l1(ob.colour, c0) < kContrast);
    scene.objects.push_back(std::move(ob));
  }

  // Colour and labels, later items on top.
  std::vector<uint8_t> label(size_t(S * S), 0);
  std::vector<int> owner(size_t(S * S), -1);
  for (size_t i = 0; i < scene.objects.size(); ++i) {
    Object &ob = scene.objects[i];
    for (int64_t y = 0; y < ob.side; ++y)
      for (int64_t x = 0; x < ob.side; ++x) {
        const double v = ob.v[size_t(y * ob.side + x)];
        const size_t p = size_t((ob.y + y) * S + ob.x + x);
        const double a = v / 255;
        for (int c = 0; c < 3; ++c)
          rgb[p * 3 + size_t(c)] = a * double(ob.colour[size_t(c)]) + (1 - a) * rgb[p * 3 + size_t(c)];
        if (v > ob.threshold) {
          label[p] = uint8_t(ob.cls + 1);
          owner[p] = int(i);
          ++ob.pixels;
        }
      }
  }
  for (int o2 : owner)
    if (o2 >= 0)
      ++scene.objects[size_t(o2)].visible;
  for (Object &ob : scene.objects)
    ob.difficult = std::min(ob.x1 - ob.x0, ob.y1 - ob.y0) < kDifficultSide || 2 * ob.visible < ob.pixels;

  scene.rgb = Image(S, S, 3);
  for (size_t i = 0; i < rgb.size(); ++i)
    scene.rgb.pixels[i] = uint8_t(std::min(255.0, std::max(0.0, rgb[i])) + 0.5);
  // The void band: pixels next to (8-neighbourhood) a different label.
  scene.mask = Image(S, S, 1);
  for (int64_t y = 0; y < S; ++y)
    for (int64_t x = 0; x < S; ++x) {
      const uint8_t l = label[size_t(y * S + x)];
      bool edge = false;
      for (int64_t dy = -1; dy <= 1 && !edge; ++dy)
        for (int64_t dx = -1; dx <= 1 && !edge; ++dx) {
          const int64_t yy = y + dy, xx = x + dx;
          edge = yy >= 0 && yy < S && xx >= 0 && xx < S && label[size_t(yy * S + xx)] != l;
        }
      scene.mask.at(y, x) = edge ? rt::kVoidLabel : l;
    }
  return scene;
}

std::string idOf(int64_t k) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%06lld", static_cast<long long>(k + 1));
  return buf;
}

std::string annotationXml(const std::string &id, int64_t S, const std::vector<Object> &objects) {
  const std::string s = std::to_string(S);
  std::string x = "<annotation>\n\t<folder>PCE-Scenes</folder>\n\t<filename>" + id +
                  ".jpg</filename>\n\t<source>\n\t\t<database>pce-make-scenes (Fashion-MNIST)</database>\n"
                  "\t</source>\n\t<size>\n\t\t<width>" + s + "</width>\n\t\t<height>" + s +
                  "</height>\n\t\t<depth>3</depth>\n\t</size>\n\t<segmented>1</segmented>\n";
  for (const Object &ob : objects)
    x += "\t<object>\n\t\t<name>" + sceneClassNames()[size_t(ob.cls)] +
         "</name>\n\t\t<pose>Unspecified</pose>\n\t\t<truncated>0</truncated>\n\t\t<difficult>" +
         (ob.difficult ? "1" : "0") + "</difficult>\n\t\t<bndbox>\n\t\t\t<xmin>" + std::to_string(ob.x0 + 1) +
         "</xmin>\n\t\t\t<ymin>" + std::to_string(ob.y0 + 1) + "</ymin>\n\t\t\t<xmax>" + std::to_string(ob.x1) +
         "</xmax>\n\t\t\t<ymax>" + std::to_string(ob.y1) + "</ymax>\n\t\t</bndbox>\n\t</object>\n";
  return x + "</annotation>\n";
}

Status checkOptions(const SceneOptions &o) {
  if (o.out.empty())
    return Status::error("no output directory given (--out DIR)");
  if (o.images < 10 || o.images > 10000000)
    return Status::error("--images " + std::to_string(o.images) +
                         ": a count in [10, 10000000] (at least 10 for an 80/10/10 train/val/test split)");
  if (o.size < 32 || o.size > 4096)
    return Status::error("--size " + std::to_string(o.size) + ": a scene side in [32, 4096] pixels");
  if (o.minItems < 1 || o.minItems > o.maxItems || o.maxItems > 20)
    return Status::error("--items " + std::to_string(o.minItems) + ":" + std::to_string(o.maxItems) +
                         ": MIN:MAX with 1 <= MIN <= MAX <= 20");
  if (!(o.maxOverlap >= 0 && o.maxOverlap <= 1))
    return Status::error("--max-overlap: an IoU in [0, 1]");
  if (o.quality < 1 || o.quality > 100)
    return Status::error("--quality " + std::to_string(o.quality) + ": a JPEG quality in [1, 100]");
  return Status::success();
}

// Makes `out` ready: absent or empty, or (force) with our tree removed.
Status prepareOut(const SceneOptions &o) {
  std::error_code ec;
  const fs::path out(o.out);
  if (fs::exists(out, ec)) {
    if (!fs::is_directory(out, ec))
      return Status::error(o.out + ": exists and is not a directory");
    if (!fs::is_empty(out, ec)) {
      if (!o.force)
        return Status::error(o.out + ": directory is not empty (pass --force to replace the VOC tree in it)");
      for (const char *ours : {"JPEGImages", "Annotations", "SegmentationClass", "ImageSets", "scenes.txt"}) {
        fs::remove_all(out / ours, ec);
        if (ec)
          return Status::error((out / ours).string() + ": cannot remove: " + ec.message());
      }
    }
  }
  for (const char *d : {"JPEGImages", "Annotations", "SegmentationClass", "ImageSets/Main", "ImageSets/Segmentation"}) {
    fs::create_directories(out / d, ec);
    if (ec)
      return Status::error((out / d).string() + ": cannot create: " + ec.message());
  }
  return Status::success();
}

} // namespace

const std::vector<std::string> &sceneClassNames() {
  static const std::vector<std::string> names = {"ankle_boot", "bag",   "coat",    "dress",   "pullover",
                                                 "sandal",     "shirt", "sneaker", "trouser", "tshirt_top"};
  return names;
}

int64_t sceneClassOfFashionLabel(int64_t label) {
  // T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot.
  static const int64_t sorted[10] = {9, 8, 4, 3, 2, 5, 6, 7, 1, 0};
  return label >= 0 && label < 10 ? sorted[label] : -1;
}

const char *sceneSplit(int64_t k, int64_t n) {
  const int64_t train = n * 8 / 10, val = n / 10;
  return k < train ? "train" : k < train + val ? "val" : "test";
}

std::vector<double> resizeItem(const uint8_t *item28, int64_t side) {
  std::vector<double> out(size_t(side * side));
  auto source = [&](int64_t d) {
    double s = (double(d) + 0.5) * double(kSide) / double(side) - 0.5;
    return std::min(std::max(s, 0.0), double(kSide - 1));
  };
  for (int64_t y = 0; y < side; ++y) {
    const double sy = source(y);
    const int64_t y0 = int64_t(sy), y1 = std::min(y0 + 1, kSide - 1);
    const double fy = sy - double(y0);
    for (int64_t x = 0; x < side; ++x) {
      const double sx = source(x);
      const int64_t x0 = int64_t(sx), x1 = std::min(x0 + 1, kSide - 1);
      const double fx = sx - double(x0);
      const double top = double(item28[y0 * kSide + x0]) * (1 - fx) + double(item28[y0 * kSide + x1]) * fx;
      const double bottom = double(item28[y1 * kSide + x0]) * (1 - fx) + double(item28[y1 * kSide + x1]) * fx;
      out[size_t(y * side + x)] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

Status makeScenes(const SceneOptions &o) {
  if (Status s = checkOptions(o); !s)
    return s;
  auto train = readItems(o.fashionMnist, "train");
  if (!train)
    return train.status();
  auto test = readItems(o.fashionMnist, "t10k");
  if (!test)
    return test.status();
  if (Status s = prepareOut(o); !s)
    return s;

  const std::vector<std::string> &classes = sceneClassNames();
  const std::string root = o.out + "/";
  std::vector<std::string> ids;
  // Per image and class: 1 a non-difficult object, 0 only difficult ones, -1 none.
  std::vector<std::array<int, 10>> present;
  char header[256];
  std::snprintf(header, sizeof header,
                "# pce-make-scenes --images %lld --size %lld --seed %llu --items %lld:%lld --max-overlap %g "
                "--quality %d\n",
                static_cast<long long>(o.images), static_cast<long long>(o.size),
                static_cast<unsigned long long>(o.seed), static_cast<long long>(o.minItems),
                static_cast<long long>(o.maxItems), o.maxOverlap, o.quality);
  std::string layout = std::string(header) +
                       "# id split file item class x y side r,g,b xmin ymin xmax ymax difficult "
                       "(an object a line, drawn in this order; box VOC 1-based inclusive)\n";
  for (int64_t k = 0; k < o.images; ++k) {
    const std::string id = idOf(k);
    const std::string split = sceneSplit(k, o.images);
    const Items &items = split == "test" ? *test : *train;
    Scene scene = makeScene(o, items, k);
    auto jpeg = rt::encodeJpeg(scene.rgb, o.quality);
    if (!jpeg)
      return jpeg.status();
    auto png = rt::encodePalettePng(scene.mask, rt::vocPalette());
    if (!png)
      return png.status();
    const std::string xml = annotationXml(id, o.size, scene.objects);
    for (const auto &[path, bytes] : {std::pair<std::string, const std::string *>{"JPEGImages/" + id + ".jpg", &*jpeg},
                                      {"SegmentationClass/" + id + ".png", &*png},
                                      {"Annotations/" + id + ".xml", &xml}})
      if (Status s = rt::writeBytes(root + path, *bytes); !s)
        return s;
    std::array<int, 10> flags;
    flags.fill(-1);
    for (const Object &ob : scene.objects) {
      int &f = flags[size_t(ob.cls)];
      f = std::max(f, ob.difficult ? 0 : 1);
      char line[256];
      std::snprintf(line, sizeof line, "%s %s %s %lld %s %lld %lld %lld %lld,%lld,%lld %lld %lld %lld %lld %d\n",
                    id.c_str(), split.c_str(), items.file.c_str(), static_cast<long long>(ob.item),
                    classes[size_t(ob.cls)].c_str(), static_cast<long long>(ob.x), static_cast<long long>(ob.y),
                    static_cast<long long>(ob.side), static_cast<long long>(ob.colour[0]),
                    static_cast<long long>(ob.colour[1]), static_cast<long long>(ob.colour[2]),
                    static_cast<long long>(ob.x0 + 1), static_cast<long long>(ob.y0 + 1),
                    static_cast<long long>(ob.x1), static_cast<long long>(ob.y1), ob.difficult ? 1 : 0);
      layout += line;
    }
    ids.push_back(id);
    present.push_back(flags);
  }

  // The split lists: VOC's ImageSets/Main (with a list per class) and Segmentation.
  for (const char *split : {"train", "val", "test", "trainval"}) {
    std::string list;
    std::vector<std::string> perClass(classes.size());
    for (int64_t k = 0; k < o.images; ++k) {
      const std::string s = sceneSplit(k, o.images);
      if (s != split && !(std::string(split) == "trainval" && s != "test"))
        continue;
      list += ids[size_t(k)] + "\n";
      for (size_t c = 0; c < classes.size(); ++c) {
        char line[32];
        std::snprintf(line, sizeof line, "%s %2d\n", ids[size_t(k)].c_str(), present[size_t(k)][c]);
        perClass[c] += line;
      }
    }
    for (const char *dir : {"ImageSets/Main/", "ImageSets/Segmentation/"})
      if (Status s = rt::writeBytes(root + dir + split + ".txt", list); !s)
        return s;
    for (size_t c = 0; c < classes.size(); ++c)
      if (Status s = rt::writeBytes(root + "ImageSets/Main/" + classes[c] + "_" + split + ".txt", perClass[c]); !s)
        return s;
  }
  return rt::writeBytes(root + "scenes.txt", layout);
}

} // namespace pce
