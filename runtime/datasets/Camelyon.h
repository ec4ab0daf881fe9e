//===- Camelyon.h - Camelyon16 whole-slide images as segmentation tiles ---===//
//
// Layouts: the published CAMELYON16 one, recognised by DIR/training/:
//   training/normal/*.tif, training/tumor/*.tif   the training slides
//   training/lesion_annotations/<stem>.xml        their lesions (ASAP XML)
//   testing/images/*.tif                          the test slides
//   testing/lesion_annotations/<stem>.xml         the test slides' lesions
// or a flat one: DIR/images/<stem>.tif and DIR/annotations/<stem>.xml.
// Slides are pyramidal TIFFs read through OpenSlide; annotations are
// level-0 pixel polygons. A slide without an annotation file is a normal
// (tumour-free) slide.
//
// Splits: DIR/<split>.txt (split train, val or test), if present, lists the
// split's slide stems, one a line ('#' starts a comment, a trailing .tif is
// allowed). Without it, train is every training slide not listed in
// DIR/val.txt (nor, in the flat layout, DIR/test.txt); test is
// testing/images in the published layout and needs its list in the flat
// one; val always needs its list (CAMELYON16 ships no validation split).
//
// Annotations: groups _0, _1, Tumor (and metastases, Camelyon17's name) are
// tumour, _2 and Exclusion are exclusion; any other group is an error.
// Types Polygon, Rectangle and Spline are areas (a spline by its control
// points); Dot and PointSet mark no area and are skipped. Coordinates are
// sorted by their Order attribute. Errors name path:line:column of the
// element (the column of its start tag's '<').
//
// Masks at level L (downsample d): pixel (x, y), whose centre lies at
// level-0 ((x + 0.5) d, (y + 0.5) d), is
//   kVoidLabel (255) if the centre is inside an exclusion polygon,
//   1 (tumour)       else if it is inside a tumour polygon,
//   kVoidLabel       else if options.nonTissueVoid and the pixel is not tissue,
//   0 (normal)       otherwise.
// "Inside" is the even-odd rule per polygon (pnpoly's crossing test), so a
// self-intersecting outline still labels a definite set; a pixel is in a
// group if it is inside any of the group's polygons. Annotated tumour is kept
// on pale or glass-looking pixels: the expert's outline wins over the
// colour rule.
//
// Tissue: a low-resolution level (the highest-resolution one whose longer
// side is <= options.tissueMaxSide, else the smallest) is read whole; a pixel
// is tissue if its saturation (max - min) / max of RGB exceeds
// options.saturationThreshold (glass is white or grey). A tile pixel is
// tissue if the tissue-map pixel holding its centre is. Levels smaller than
// one TIFF tile in either direction are never used (OpenSlide 3.4 with
// libtiff 4.5 misplaces their pixels); asking for one as the tile level is an
// error.
//
// Tiles: tileSize x tileSize windows at level L, origins every `stride`
// pixels, wholly inside the level; a tile is kept if at least minTissue of
// its pixels are tissue. Tiles are enumerated on open (every slide is opened,
// measured and its tissue map computed; annotations are parsed); load(i)
// reads the tile through OpenSlide (premultiplied ARGB un-premultiplied to
// RGB, transparent pixels white) and rasterises its mask. OpenSlide handles
// stay open, one a slide; load() may run on several threads. OpenSlide keeps
// a slide's first read error: later reads of that slide fail with it too.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_DATASETS_CAMELYON_H
#define PCE_RUNTIME_DATASETS_CAMELYON_H

#include "runtime/Status.h"
#include "runtime/datasets/DataSource.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pce::rt {

enum class RegionKind { Tumour, Exclusion };

// One annotation's outline in level-0 pixels, vertices in Order order.
struct AnnotationPolygon {
  RegionKind kind = RegionKind::Tumour;
  std::string name, group;
  std::vector<double> x, y;
  double minX = 0, minY = 0, maxX = 0, maxY = 0; // bounding box
  int64_t line = 0;                             // of its <Annotation>, for messages
};

struct SlideAnnotations {
  std::vector<AnnotationPolygon> polygons;
  int64_t count(RegionKind kind) const;
};

// An ASAP XML document (bytes of a file named `source` in messages). Parsed by
// libxml2 without network access or entity substitution.
Expected<SlideAnnotations> parseAsapXml(std::string_view bytes, const std::string &source);
Expected<SlideAnnotations> readAsapXml(const std::string &path);

// The mask of a width x height window of a level of downsample `downsample`
// whose top-left pixel is (x0, y0) at that level, by the rule above without
// the tissue step: 1 tumour, kVoidLabel exclusion, 0 elsewhere.
Image rasteriseAnnotations(const SlideAnnotations &annotations, double downsample, int64_t x0, int64_t y0,
                           int64_t width, int64_t height);

// The saturation rule on one RGB pixel.
bool isTissue(uint8_t r, uint8_t g, uint8_t b, double saturationThreshold);

struct CamelyonOptions {
  int level = 0;                     // pyramid level of tiles and masks
  int64_t tileSize = 256;            // tile side at that level
  int64_t stride = 0;                // 0: tileSize
  double minTissue = 0.5;            // least fraction of tissue pixels in a kept tile
  bool nonTissueVoid = true;         // normal pixels that are not tissue become kVoidLabel
  double saturationThreshold = 0.07; // tissue: (max - min) / max above this
  int64_t tissueMaxSide = 2048;      // longer side of the tissue map's level, at most
};

// One slide of an opened split.
struct CamelyonSlide {
  std::string path, stem, annotationPath; // annotationPath empty: normal slide
  int64_t width = 0, height = 0;          // at the tile level
  double downsample = 1;                  // of the tile level
  int tissueLevel = 0;
  int64_t tissuePixels = 0; // in the tissue map
  int64_t tiles = 0;        // kept
  SlideAnnotations annotations;
};

struct CamelyonTile {
  int64_t slide = 0; // index into slides()
  int64_t x = 0, y = 0; // top-left pixel at the tile level
};

class CamelyonSource : public DataSource {
public:
  virtual const std::vector<CamelyonSlide> &slides() const = 0;
  virtual CamelyonTile tile(int64_t i) const = 0;
  virtual const CamelyonOptions &options() const = 0;
};

// Task Segmentation, classes {"normal", "tumour"}; Sample.image is RGB
// tileSize x tileSize, Sample.mask 1 channel of the same size.
Expected<std::unique_ptr<CamelyonSource>> openCamelyon16Tiles(const std::string &dir, const std::string &split,
                                                               const CamelyonOptions &options = {});
Expected<std::unique_ptr<DataSource>> openCamelyon16(const std::string &dir, const std::string &split,
                                                     const CamelyonOptions &options = {});

} // namespace pce::rt

#endif // PCE_RUNTIME_DATASETS_CAMELYON_H
