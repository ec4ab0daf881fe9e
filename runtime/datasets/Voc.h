//===- Voc.h - Pascal VOC 2007/2012 detection and segmentation ------------===//
//
// The published layout of a VOC year directory (VOCdevkit/VOC2007,
// VOCdevkit/VOC2012, or a tree written by pce-make-scenes):
//   ImageSets/Main/<split>.txt          image ids of a detection split, one a line
//   ImageSets/Main/<class>_<split>.txt  per class: "<id>  1|-1|0"; only the file
//                                       names are read, to find the classes
//   ImageSets/Segmentation/<split>.txt  image ids of a segmentation split
//   Annotations/<id>.xml                size and objects (name, difficult,
//                                       truncated, bndbox)
//   JPEGImages/<id>.jpg                 the image (grayscale ones become RGB)
//   SegmentationClass/<id>.png          palette PNG of class indices, 255 void
// Splits are train, val, trainval and test.
//
// Classes are the sorted <class> names of ImageSets/Main/<class>_<split>.txt
// (for real VOC that is its index order, aeroplane..tvmonitor), found for the
// split asked for, else for trainval, train, val or test; with none, VOC's 20
// (vocClassNames()). For segmentation, class 0 is "background" and mask value
// v is class v.
//
// openVoc validates the split's index up front: every id line, every
// annotation (parsed with libxml2, no network, no external entities), and
// that every listed JPEG (and mask) exists. load() decodes one example and
// checks it against its annotation. Every error names the file and where in
// it: path:line:column for a split list or XML, the byte offset for an image,
// the (x, y) of a bad mask pixel; a missing file says which list required it:
//   VOC2012/Annotations/2008_000008.xml:14:4: <name> 'dgo' is not one of the
//     20 classes (aeroplane, bicycle, ...)
//   VOC2012/JPEGImages/2008_000008.jpg: cannot open: No such file or directory
//     (image listed in VOC2012/ImageSets/Main/train.txt:3)
//
//   auto voc = pce::rt::openVoc("VOCdevkit/VOC2012", "train", Task::Detection);
//   if (!voc) { report(voc.error()); return; }
//   auto sample = (*voc)->load(0); // image, boxes with difficult flags
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_DATASETS_VOC_H
#define PCE_RUNTIME_DATASETS_VOC_H

#include "runtime/Status.h"
#include "runtime/datasets/DataSource.h"
#include "runtime/datasets/Image.h"

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pce::rt {

// VOC's 20 classes in its index order (alphabetical): aeroplane .. tvmonitor.
const std::vector<std::string> &vocClassNames();

// VOC's colour map for SegmentationClass PNGs (256 entries, the standard
// bit-interleaving palette: 1 = (128,0,0), 2 = (0,128,0), 255 = (224,224,192)).
const std::vector<std::array<uint8_t, 3>> &vocPalette();

// One Annotations/<id>.xml.
struct VocAnnotation {
  std::string filename; // <filename> as written (empty if absent)
  int64_t width = 0, height = 0, depth = 0;
  bool segmented = false;
  // One per <object>, in file order: label indexes the classes passed to the
  // parser, coordinates in Image.h's convention (VOC's 1-based inclusive
  // x1..x2 becomes [x1 - 1, x2)).
  std::vector<Box> boxes;
};

// Parses and validates one annotation. `source` names it in messages (as
// path:line:column); `classes` are the known object names. Requires <size>
// with <width>, <height> (>= 1) and <depth> (1 or 3); every <object> needs a
// known <name> and a <bndbox> with 1 <= xmin <= xmax <= width and likewise
// for y (numbers may be written as "48.0"); <difficult> and <truncated> are
// 0 or 1, missing means 0. Other elements (pose, part, actions) are ignored.
Expected<VocAnnotation> parseVocAnnotation(std::string_view xml, const std::string &source,
                                           const std::vector<std::string> &classes);

// The classes of the VOC tree at `root` as described above (no "background").
Expected<std::vector<std::string>> vocClasses(const std::string &root, const std::string &split);

// Opens split "train", "val", "trainval" or "test" of the VOC year directory
// `root` for Task::Detection (ImageSets/Main) or Task::Segmentation
// (ImageSets/Segmentation; annotations optional there, masks required).
Expected<std::unique_ptr<DataSource>> openVoc(const std::string &root, const std::string &split, Task task);

} // namespace pce::rt

#endif // PCE_RUNTIME_DATASETS_VOC_H
