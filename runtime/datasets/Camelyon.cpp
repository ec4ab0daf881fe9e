//===- Camelyon.cpp - Camelyon16 whole-slide images as segmentation tiles -===//

#include "runtime/datasets/Camelyon.h"

#include "runtime/Failure.h"

#include <openslide.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

namespace pce::rt {

namespace fs = std::filesystem;
using detail::fail;

namespace {

// A tissue map larger than this is not a thumbnail (a slide without a
// pyramid); reading it whole would take gigabytes.
constexpr int64_t kMaxTissuePixels = int64_t(1) << 24;

// The tissue-map pixel (at downsample dT) holding the centre of pixel `at`
// of a level of downsample d. Used both to count a tile's tissue and to void
// its mask, so the two agree pixel for pixel.
int64_t tissueIndex(int64_t at, double d, double dT) {
  return static_cast<int64_t>(std::floor((static_cast<double>(at) + 0.5) * d / dT));
}

struct Slide {
  CamelyonSlide info;
  openslide_t *osr = nullptr;
  double tissueDownsample = 1;
  int64_t tissueWidth = 0, tissueHeight = 0;
  std::vector<uint64_t> tissueBits; // row-major bit per tissue-map pixel

  ~Slide() {
    if (osr)
      openslide_close(osr);
  }
  bool tissue(int64_t tx, int64_t ty) const {
    if (tx < 0 || ty < 0 || tx >= tissueWidth || ty >= tissueHeight)
      return false;
    size_t bit = static_cast<size_t>(ty * tissueWidth + tx);
    return (tissueBits[bit / 64] >> (bit % 64)) & 1;
  }
};

// The first bytes of a file, to tell a non-TIFF from a TIFF OpenSlide rejects.
std::string tiffMagicProblem(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char b[4] = {0, 0, 0, 0};
  in.read(reinterpret_cast<char *>(b), 4);
  std::streamsize got = in.gcount();
  bool le = got == 4 && b[0] == 'I' && b[1] == 'I' && (b[2] == 42 || b[2] == 43) && b[3] == 0;
  bool be = got == 4 && b[0] == 'M' && b[1] == 'M' && b[2] == 0 && (b[3] == 42 || b[3] == 43);
  if (le || be)
    return "";
  if (got < 4)
    return "byte " + std::to_string(got) + ": file ends inside the TIFF header (not a TIFF file)";
  char hex[64];
  std::snprintf(hex, sizeof hex, "byte 0: %02x %02x %02x %02x is not a TIFF header (II*\\0 or MM\\0*)", b[0], b[1],
                b[2], b[3]);
  return hex;
}

openslide_t *openSlide(const std::string &path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    fail(path + ": no such file");
  if (std::string problem = tiffMagicProblem(path); !problem.empty())
    fail(path + ": " + problem);
  openslide_t *osr = openslide_open(path.c_str());
  if (!osr)
    fail(path + ": OpenSlide cannot read this TIFF as a slide (truncated or damaged, or not a tiled, pyramidal "
         "TIFF)");
  if (const char *e = openslide_get_error(osr)) {
    std::string message = path + ": OpenSlide: " + e;
    openslide_close(osr);
    fail(message);
  }
  return osr;
}

int64_t property(openslide_t *osr, const std::string &name) {
  const char *v = openslide_get_property_value(osr, name.c_str());
  return v ? std::strtoll(v, nullptr, 10) : 0;
}

// False for a level narrower or shorter than one TIFF tile: OpenSlide 3.4
// over libtiff 4.5 reads such a level's pixels misplaced.
bool levelReadable(openslide_t *osr, int level) {
  int64_t w = 0, h = 0;
  openslide_get_level_dimensions(osr, level, &w, &h);
  std::string prefix = "openslide.level[" + std::to_string(level) + "].";
  int64_t tw = property(osr, prefix + "tile-width"), th = property(osr, prefix + "tile-height");
  return w > 0 && h > 0 && w >= tw && h >= th;
}

// A region of `level` whose top-left pixel is (x, y) at that level, as RGB:
// OpenSlide's premultiplied ARGB un-premultiplied, transparent as white.
Image readRegion(const Slide &s, int level, double downsample, int64_t x, int64_t y, int64_t w, int64_t h) {
  std::vector<uint32_t> argb(static_cast<size_t>(w * h));
  const int64_t x0 = std::llround(static_cast<double>(x) * downsample),
                y0 = std::llround(static_cast<double>(y) * downsample);
  openslide_read_region(s.osr, argb.data(), x0, y0, level, w, h);
  if (const char *e = openslide_get_error(s.osr))
    fail(s.info.path + ": OpenSlide: reading level " + std::to_string(level) + " at (" + std::to_string(x) + ", " +
         std::to_string(y) + "), " + std::to_string(w) + "x" + std::to_string(h) + ": " + e);
  Image rgb(h, w, 3);
  for (size_t i = 0; i < argb.size(); ++i) {
    uint32_t p = argb[i], a = p >> 24;
    uint32_t c[3] = {(p >> 16) & 255, (p >> 8) & 255, p & 255};
    for (int k = 0; k < 3; ++k) {
      uint32_t v = a == 255 ? c[k] : a == 0 ? 255 : std::min<uint32_t>(255, (c[k] * 255 + a / 2) / a);
      rgb.pixels[i * 3 + k] = static_cast<uint8_t>(v);
    }
  }
  return rgb;
}

// Picks the tissue level and reads its saturation map.
void computeTissue(Slide &s, const CamelyonOptions &o) {
  int levels = openslide_get_level_count(s.osr), chosen = -1, smallest = -1;
  for (int l = 0; l < levels; ++l) {
    if (!levelReadable(s.osr, l))
      continue;
    int64_t w = 0, h = 0;
    openslide_get_level_dimensions(s.osr, l, &w, &h);
    smallest = l;
    if (chosen < 0 && std::max(w, h) <= o.tissueMaxSide)
      chosen = l;
  }
  if (chosen < 0)
    chosen = smallest;
  if (chosen < 0)
    fail(s.info.path + ": no pyramid level is at least one TIFF tile in size (cannot map tissue)");
  openslide_get_level_dimensions(s.osr, chosen, &s.tissueWidth, &s.tissueHeight);
  if (s.tissueWidth * s.tissueHeight > kMaxTissuePixels)
    fail(s.info.path + ": the smallest pyramid level is " + std::to_string(s.tissueWidth) + "x" +
         std::to_string(s.tissueHeight) + " pixels, too large for a tissue map (is the slide a pyramid?)");
  s.tissueDownsample = openslide_get_level_downsample(s.osr, chosen);
  s.info.tissueLevel = chosen;
  Image rgb = readRegion(s, chosen, s.tissueDownsample, 0, 0, s.tissueWidth, s.tissueHeight);
  s.tissueBits.assign(static_cast<size_t>((s.tissueWidth * s.tissueHeight + 63) / 64), 0);
  for (int64_t i = 0; i < s.tissueWidth * s.tissueHeight; ++i)
    if (isTissue(rgb.pixels[i * 3], rgb.pixels[i * 3 + 1], rgb.pixels[i * 3 + 2], o.saturationThreshold)) {
      s.tissueBits[static_cast<size_t>(i / 64)] |= uint64_t(1) << (i % 64);
      ++s.info.tissuePixels;
    }
}

// For each tile origin along one axis, the tissue-map indices its pixels map
// to, as (index, pixel count) runs; pixels off the map are left out.
using Runs = std::vector<std::pair<int64_t, int64_t>>;
std::vector<Runs> axisRuns(int64_t tiles, int64_t stride, int64_t tileSize, double d, double dT, int64_t mapSize) {
  std::vector<Runs> out(static_cast<size_t>(tiles));
  for (int64_t t = 0; t < tiles; ++t)
    for (int64_t k = 0; k < tileSize; ++k) {
      int64_t i = tissueIndex(t * stride + k, d, dT);
      if (i < 0 || i >= mapSize)
        continue;
      Runs &r = out[static_cast<size_t>(t)];
      if (!r.empty() && r.back().first == i)
        ++r.back().second;
      else
        r.emplace_back(i, 1);
    }
  return out;
}

struct TileRef {
  uint32_t slide, gx, gy;
};

// Keeps the slide's tiles with enough tissue.
void enumerateTiles(const Slide &s, uint32_t index, const CamelyonOptions &o, std::vector<TileRef> &tiles,
                    int64_t &kept) {
  const int64_t ts = o.tileSize, stride = o.stride, w = s.info.width, h = s.info.height;
  const int64_t nx = w >= ts ? (w - ts) / stride + 1 : 0, ny = h >= ts ? (h - ts) / stride + 1 : 0;
  const double d = s.info.downsample, dT = s.tissueDownsample;
  std::vector<Runs> cols = axisRuns(nx, stride, ts, d, dT, s.tissueWidth);
  std::vector<Runs> rows = axisRuns(ny, stride, ts, d, dT, s.tissueHeight);
  const double need = o.minTissue * static_cast<double>(ts * ts);
  kept = 0;
  for (int64_t gy = 0; gy < ny; ++gy)
    for (int64_t gx = 0; gx < nx; ++gx) {
      int64_t count = 0;
      for (const auto &[ty, cy] : rows[static_cast<size_t>(gy)])
        for (const auto &[tx, cx] : cols[static_cast<size_t>(gx)])
          if (s.tissue(tx, ty))
            count += cy * cx;
      if (static_cast<double>(count) >= need) {
        tiles.push_back({index, static_cast<uint32_t>(gx), static_cast<uint32_t>(gy)});
        ++kept;
      }
    }
}

std::string trim(const std::string &s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// Where a split's slides and annotations are: the published CAMELYON16
// layout (training/{normal,tumor}/*.tif with training/lesion_annotations,
// testing/images/*.tif with testing/lesion_annotations) when DIR/training
// exists, else DIR/images and DIR/annotations.
struct Layout {
  std::vector<std::string> slideDirs;
  std::string annotations;
  std::map<std::string, std::string> slides; // stem -> path, every .tif of slideDirs
};

Layout layoutOf(const std::string &dir, const std::string &split) {
  Layout l;
  std::error_code ec;
  const fs::path root(dir);
  if (fs::is_directory(root / "training", ec)) {
    if (split == "test") {
      l.slideDirs = {(root / "testing" / "images").string()};
      l.annotations = (root / "testing" / "lesion_annotations").string();
    } else {
      l.slideDirs = {(root / "training" / "normal").string(), (root / "training" / "tumor").string()};
      l.annotations = (root / "training" / "lesion_annotations").string();
    }
  } else {
    l.slideDirs = {(root / "images").string()};
    l.annotations = (root / "annotations").string();
  }
  for (const std::string &d : l.slideDirs) {
    if (!fs::is_directory(d, ec))
      fail(d + ": no such directory (a Camelyon16 directory holds images/*.tif and annotations/*.xml, or the "
               "published training/{normal,tumor}, testing/images and */lesion_annotations)");
    for (const auto &entry : fs::directory_iterator(d, ec)) {
      fs::path p = entry.path();
      if (p.extension() == ".tif" && entry.is_regular_file(ec) &&
          !l.slides.emplace(p.stem().string(), p.string()).second)
        fail(p.string() + ": a second slide named " + p.stem().string() + " (in " + l.slides[p.stem().string()] + ")");
    }
    if (ec)
      fail(d + ": cannot list the directory: " + ec.message());
  }
  return l;
}

// The stems a list file names, in order; errors give path:line.
std::vector<std::string> readList(const std::string &path, const Layout &layout) {
  std::ifstream in(path);
  if (!in)
    fail(path + ": cannot open the slide list");
  std::vector<std::string> stems;
  std::set<std::string> seen;
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    std::string stem = trim(line.substr(0, line.find('#')));
    if (stem.empty())
      continue;
    if (stem.size() > 4 && stem.compare(stem.size() - 4, 4, ".tif") == 0)
      stem.resize(stem.size() - 4);
    if (!layout.slides.count(stem))
      fail(path + ":" + std::to_string(n) + ": no slide " + (fs::path(layout.slideDirs.back()) / (stem + ".tif")).string() +
           (layout.slideDirs.size() > 1 ? " (nor in " + layout.slideDirs.front() + ")" : ""));
    if (!seen.insert(stem).second)
      fail(path + ":" + std::to_string(n) + ": slide " + stem + " is listed twice");
    stems.push_back(stem);
  }
  if (stems.empty())
    fail(path + ": lists no slides");
  return stems;
}

std::vector<std::string> splitStems(const std::string &dir, const std::string &split, const Layout &layout) {
  if (split != "train" && split != "val" && split != "test")
    fail("Camelyon16: unknown split '" + split + "' (expected train, val or test)");
  std::error_code ec;
  std::string list = (fs::path(dir) / (split + ".txt")).string();
  if (fs::exists(list, ec))
    return readList(list, layout);
  const bool published = layout.slideDirs.size() > 1 || split == "test";
  if (split == "val" || (split == "test" && !published))
    fail(list + ": no such file (the " + split + " split lists its slide stems there)");
  // train: every slide not held out; the published test split: testing/images.
  std::set<std::string> elsewhere;
  for (const char *other : {"val.txt", "test.txt"}) {
    std::string path = (fs::path(dir) / other).string();
    if (split == "train" && fs::exists(path, ec) && !(published && std::string(other) == "test.txt"))
      for (const std::string &stem : readList(path, layout))
        elsewhere.insert(stem);
  }
  std::vector<std::string> stems;
  for (const auto &[stem, path] : layout.slides)
    if (!elsewhere.count(stem))
      stems.push_back(stem);
  if (stems.empty())
    fail(layout.slideDirs.front() + ": no .tif slides" + (elsewhere.empty() ? "" : " outside the val and test lists"));
  return stems;
}

void checkOptions(CamelyonOptions &o) {
  if (o.stride == 0)
    o.stride = o.tileSize;
  if (o.level < 0)
    fail("Camelyon16: level " + std::to_string(o.level) + " is negative");
  if (o.tileSize < 1 || o.tileSize > 16384)
    fail("Camelyon16: tile size " + std::to_string(o.tileSize) + " is not in 1..16384");
  if (o.stride < 1)
    fail("Camelyon16: stride " + std::to_string(o.stride) + " is not positive");
  if (!(o.minTissue >= 0 && o.minTissue <= 1))
    fail("Camelyon16: minimum tissue fraction " + std::to_string(o.minTissue) + " is not in [0, 1]");
  if (!(o.saturationThreshold >= 0 && o.saturationThreshold < 1))
    fail("Camelyon16: saturation threshold " + std::to_string(o.saturationThreshold) + " is not in [0, 1)");
  if (o.tissueMaxSide < 1)
    fail("Camelyon16: tissue map side " + std::to_string(o.tissueMaxSide) + " is not positive");
}

class Camelyon16 final : public CamelyonSource {
public:
  Camelyon16(std::vector<std::unique_ptr<Slide>> slides, std::vector<TileRef> tiles, CamelyonOptions options)
      : slides_(std::move(slides)), tiles_(std::move(tiles)), options_(options) {
    // One copy of the annotations, in infos_ (what slides() shows and load()
    // reads); a Slide keeps its path for OpenSlide's messages.
    for (const auto &s : slides_) {
      infos_.push_back(std::move(s->info));
      s->info = CamelyonSlide();
      s->info.path = infos_.back().path;
    }
  }

  int64_t size() const override { return static_cast<int64_t>(tiles_.size()); }
  Task task() const override { return Task::Segmentation; }
  const std::vector<std::string> &classes() const override { return classes_; }
  std::string source() const override {
    std::string out;
    for (const auto &s : slides_)
      out += (out.empty() ? "" : ", ") + s->info.path;
    return out;
  }
  const std::vector<CamelyonSlide> &slides() const override { return infos_; }
  const CamelyonOptions &options() const override { return options_; }
  CamelyonTile tile(int64_t i) const override {
    if (i < 0 || i >= size())
      return {};
    const TileRef &t = tiles_[static_cast<size_t>(i)];
    return {t.slide, t.gx * options_.stride, t.gy * options_.stride};
  }

  Expected<Sample> load(int64_t i) const override {
    return detail::guard<Sample>([&] {
      if (i < 0 || i >= size())
        fail("Camelyon16: tile " + std::to_string(i) + " is out of range (the split has " + std::to_string(size()) +
             ")");
      CamelyonTile t = tile(i);
      const Slide &s = *slides_[static_cast<size_t>(t.slide)];
      const CamelyonSlide &info = infos_[static_cast<size_t>(t.slide)];
      const int64_t ts = options_.tileSize;
      const double d = info.downsample;
      Sample out;
      out.image = readRegion(s, options_.level, d, t.x, t.y, ts, ts);
      out.mask = rasteriseAnnotations(info.annotations, d, t.x, t.y, ts, ts);
      if (options_.nonTissueVoid) {
        std::vector<int64_t> tx(static_cast<size_t>(ts));
        for (int64_t x = 0; x < ts; ++x)
          tx[static_cast<size_t>(x)] = tissueIndex(t.x + x, d, s.tissueDownsample);
        for (int64_t y = 0; y < ts; ++y) {
          int64_t ty = tissueIndex(t.y + y, d, s.tissueDownsample);
          for (int64_t x = 0; x < ts; ++x)
            if (out.mask.at(y, x) == 0 && !s.tissue(tx[static_cast<size_t>(x)], ty))
              out.mask.at(y, x) = kVoidLabel;
        }
      }
      out.source = info.path + " (level " + std::to_string(options_.level) + ", tile at x " + std::to_string(t.x) +
                   ", y " + std::to_string(t.y) + ")";
      out.group = info.stem;
      return out;
    });
  }

private:
  std::vector<std::unique_ptr<Slide>> slides_;
  std::vector<CamelyonSlide> infos_;
  std::vector<TileRef> tiles_;
  CamelyonOptions options_;
  std::vector<std::string> classes_{"normal", "tumour"};
};

} // namespace

Expected<std::unique_ptr<CamelyonSource>> openCamelyon16Tiles(const std::string &dir, const std::string &split,
                                                               const CamelyonOptions &options) {
  return detail::guard<std::unique_ptr<CamelyonSource>>([&]() -> std::unique_ptr<CamelyonSource> {
    CamelyonOptions o = options;
    checkOptions(o);
    std::error_code ec;
    const Layout layout = layoutOf(dir, split);
    std::vector<std::unique_ptr<Slide>> slides;
    std::vector<TileRef> tiles;
    for (const std::string &stem : splitStems(dir, split, layout)) {
      auto s = std::make_unique<Slide>();
      s->info.stem = stem;
      s->info.path = layout.slides.at(stem);
      s->osr = openSlide(s->info.path);
      int levels = openslide_get_level_count(s->osr);
      if (o.level >= levels)
        fail(s->info.path + ": level " + std::to_string(o.level) + " asked for, but the slide has " +
             std::to_string(levels) + " (0.." + std::to_string(levels - 1) + ")");
      openslide_get_level_dimensions(s->osr, o.level, &s->info.width, &s->info.height);
      s->info.downsample = openslide_get_level_downsample(s->osr, o.level);
      if (!levelReadable(s->osr, o.level))
        fail(s->info.path + ": level " + std::to_string(o.level) + " (" + std::to_string(s->info.width) + "x" +
             std::to_string(s->info.height) + ") is smaller than one TIFF tile; OpenSlide reads it misplaced");
      if (!(s->info.downsample >= 1))
        fail(s->info.path + ": OpenSlide gives level " + std::to_string(o.level) + " a downsample of " +
             std::to_string(s->info.downsample));
      std::string xml = (fs::path(layout.annotations) / (stem + ".xml")).string();
      if (fs::exists(xml, ec)) {
        auto annotations = readAsapXml(xml);
        if (!annotations)
          fail(annotations.error());
        s->info.annotations = std::move(*annotations);
        s->info.annotationPath = xml;
      }
      computeTissue(*s, o);
      enumerateTiles(*s, static_cast<uint32_t>(slides.size()), o, tiles, s->info.tiles);
      slides.push_back(std::move(s));
    }
    if (tiles.empty())
      fail(dir + ": split " + split + ": no tile of " + std::to_string(o.tileSize) + " pixels at level " +
           std::to_string(o.level) + " holds at least " + std::to_string(o.minTissue) + " tissue in " +
           std::to_string(slides.size()) + " slides");
    return std::make_unique<Camelyon16>(std::move(slides), std::move(tiles), o);
  });
}

Expected<std::unique_ptr<DataSource>> openCamelyon16(const std::string &dir, const std::string &split,
                                                     const CamelyonOptions &options) {
  auto tiles = openCamelyon16Tiles(dir, split, options);
  if (!tiles)
    return tiles.status();
  return std::unique_ptr<DataSource>(std::move(*tiles));
}

} // namespace pce::rt
