//===- ImageData.h - image data sets (runtime/datasets) for training ------===//
//
// Tiny-ImageNet and PatchCamelyon (classification; VOC and Camelyon16 are
// read but need dense heads) as a DataSplit: the training split carved (or
// the data set's own validation split), every image fitted to the model's
// input by the rule of runtime/datasets/Examples.h, kept as u8 when the
// splits fit ImageDataOptions::cacheBytes, else streamed (Data.h).
// Without the codec libraries (PCE_HAVE_DATASETS unset) these formats are
// refused with what to install.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_TRAIN_IMAGEDATA_H
#define PCE_RUNTIME_TRAIN_IMAGEDATA_H

#include "runtime/train/Data.h"

namespace pce::train {

DataSplit loadImageData(const rt::TrainingConfig &t, int64_t limitTrain, const std::vector<int64_t> &item,
                        const ImageDataOptions &options);

} // namespace pce::train

#endif // PCE_RUNTIME_TRAIN_IMAGEDATA_H
