//===- NpyPairs.h - a data set as .npy files: images and labels -----------===//
//
// For data sets PCE has no reader for: DIR/train/images.npy with
// DIR/train/labels.npy, and DIR/test/images.npy with DIR/test/labels.npy.
// Images are [N,C,H,W] or [N,H,W,C] (C of 1, 3 or 4 tells which; an image
// whose layout cannot be told is an error), u8 pixels (read as x/255) or f32 /
// f64 values already in [0,1]; labels are an integer [N] (u8, i32 or i64)
// with no negative value. Errors name the file (Npy.h's carry the byte).
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_NPYPAIRS_H
#define PCE_RUNTIME_NPYPAIRS_H

#include "runtime/HostTensor.h"
#include "runtime/Status.h"

#include <string>
#include <vector>

namespace pce::rt {

struct NpyPair {
  HostTensor images; // f32 [N,C,H,W] in [0,1] (u8 / 255), or normalised
  HostTensor labels; // i64 [N]
  std::string source; // the images file
};

// DIR/SPLIT/images.npy and labels.npy (split "train" or "test"), unnormalised.
Expected<NpyPair> readNpyPair(const std::string &dir, const std::string &split);
// Subtracts mean[c] and divides by std[c] in place (one value per channel).
Status normalizeChannels(HostTensor &images, const std::vector<float> &mean, const std::vector<float> &std);

} // namespace pce::rt

#endif // PCE_RUNTIME_NPYPAIRS_H
