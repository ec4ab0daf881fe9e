//===- Scenes.h - VOC-format scenes composed of Fashion-MNIST items -------===//
//
// A detection and segmentation data set small enough to train on a CPU yet
// in Pascal VOC's exact layout, so the VOC reader, the box and mask
// pipelines and mAP/mIoU run unchanged on it. makeScenes writes, under
// options.out (the VOC year directory itself):
//   JPEGImages/<id>.jpg, Annotations/<id>.xml, SegmentationClass/<id>.png,
//   ImageSets/Main/{train,val,test,trainval}.txt and <class>_<split>.txt,
//   ImageSets/Segmentation/{train,val,test,trainval}.txt,
//   scenes.txt: what each object is (the Fashion-MNIST file and item, its
//   placement and colour), for provenance and for tests.
// ids run 000001..; the first 80% are train, the next 10% val, the rest test.
// train/val items come from Fashion-MNIST's training file, test items from
// its test file, so a test scene shows only unseen items.
//
// Scene k is drawn from its own std::mt19937_64 (seeded from the seed and k)
// through the integer and real draws below, not the standard library's
// distributions, so the same options give byte-identical files everywhere.
// In a scene of S x S pixels:
//   - background: a random colour, or (half the scenes) a smooth blend of it
//     and a colour near it (each channel within 64) by a bilinear
//     value-noise field (a 5x5 grid);
//   - items: MIN..MAX of them, each an item scaled to a random side in
//     [S/6, S/2] (resizeItem), at a random position fully inside; a
//     placement whose box has IoU > maxOverlap with a placed one is redrawn
//     (at most 100 tries, then the scene keeps fewer items);
//   - colour: each item's intensity a = v/255 blends a random colour (at L1
//     distance >= 280 from the background's) over what is below: out = a*colour + (1-a)*below,
//     drawn in order, so later items lie on top;
//   - an item's pixels are those with v > 0.1 * (its max v); its box is their
//     tight box (VOC's 1-based inclusive in the XML); mask value class + 1
//     there, the later item winning; then every pixel with a differently
//     labelled pixel among its 8 neighbours becomes 255 (void), a band along
//     each object boundary as in VOC's masks (none between background pixels
//     or along the image border);
//   - difficult: box side < 12 px, or more than half the item's pixels
//     covered by later items; truncated is always 0.
// Classes are Fashion-MNIST's ten made file-safe, sorted (sceneClassNames);
// a class's index in that order is its VOC class index.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_TOOLS_PCE_MAKE_SCENES_SCENES_H
#define PCE_TOOLS_PCE_MAKE_SCENES_SCENES_H

#include "runtime/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace pce {

struct SceneOptions {
  std::string out;                                            // the VOC root to write
  int64_t images = 0;                                         // >= 10
  int64_t size = 0;                                           // scene side, 32..4096
  uint64_t seed = 0;
  std::string fashionMnist = "/usr/share/datasets/fashion-mnist"; // {train,t10k}-*-ubyte(.gz)
  int64_t minItems = 1, maxItems = 4;                         // 1 <= min <= max <= 20
  double maxOverlap = 0.3;                                    // IoU in [0, 1]
  int quality = 90;                                           // JPEG, 1..100
  bool force = false; // replace the VOC tree in a non-empty `out`
};

// ankle_boot, bag, coat, dress, pullover, sandal, shirt, sneaker, trouser,
// tshirt_top: Fashion-MNIST's names, file-safe and sorted.
const std::vector<std::string> &sceneClassNames();
// The sorted index of Fashion-MNIST label l (0 T-shirt/top .. 9 Ankle boot).
int64_t sceneClassOfFashionLabel(int64_t label);

// The split of scene k (0-based) of n: "train", "val" or "test".
const char *sceneSplit(int64_t k, int64_t n);

// An item of side x side pixels from a 28x28 one, bilinear: pixel (y, x)
// samples the source at ((y + 0.5) * 28 / side - 0.5, likewise x), clamped to
// [0, 27], in double; values stay in [0, 255] (not rounded).
std::vector<double> resizeItem(const uint8_t *item28, int64_t side);

// Writes the data set; every failure (a missing Fashion-MNIST directory, bad
// options, an existing non-empty `out` without force, a write error) is a
// Status naming the option or file.
rt::Status makeScenes(const SceneOptions &options);

} // namespace pce

#endif // PCE_TOOLS_PCE_MAKE_SCENES_SCENES_H
