//===- TinyImageNet.h - Tiny-ImageNet-200 in its published layout ---------===//
//
// tiny-imagenet-200/ as distributed (http://cs231n.stanford.edu/tiny-imagenet-200.zip):
//   wnids.txt                      the 200 WordNet ids, a line each; their
//                                  order is the label order
//   words.txt                      "wnid<TAB>names" for (a superset of) them;
//                                  a class's name is its first comma item
//   train/<wnid>/images/*.JPEG     500 images of the class, 64x64
//   train/<wnid>/<wnid>_boxes.txt  "file<TAB>x0<TAB>y0<TAB>x1<TAB>y1" per image
//   val/images/*.JPEG              10,000 labelled images
//   val/val_annotations.txt        "file<TAB>wnid<TAB>x0<TAB>y0<TAB>x1<TAB>y1"
//   test/images/*.JPEG             unlabelled: not a split PCE can evaluate
// Split "train" is train/, split "val" is val/ (the labelled held-out set,
// which PCE uses as the test set; validation during training is carved from
// train/). Grayscale JPEGs among them (a few hundred) become 3 channels. The
// index (file lists, labels, boxes) is read and checked on open; pixels are
// decoded by load(). Text errors name path:line:column; a box file entry for
// a missing image, an image without a box, a wnid outside wnids.txt, a
// coordinate that is not an integer inside the image, are errors.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_DATASETS_TINYIMAGENET_H
#define PCE_RUNTIME_DATASETS_TINYIMAGENET_H

#include "runtime/datasets/DataSource.h"

namespace pce::rt {

constexpr int64_t kTinyImageNetSide = 64;

Expected<std::unique_ptr<DataSource>> openTinyImageNet(const std::string &root, const std::string &split);

} // namespace pce::rt

#endif // PCE_RUNTIME_DATASETS_TINYIMAGENET_H
