//===- PCam.h - PatchCamelyon (PCam), HDF5 version ------------------------===//
//
// The published layout (https://github.com/basveeling/pcam), gunzipped into
// one directory: camelyonpatch_level_2_split_{train,valid,test}_{x,y}.h5.
// In each _x file the dataset `x` is uint8 [N,96,96,3] (HWC patches of
// Camelyon16 slides at level 2); in each _y file the dataset `y` is
// [N,1,1,1] with 0 = no tumour, 1 = tumour in the patch's centre 32x32.
//
// Validation on open is strict and reads no pixels: both files exist, both
// datasets exist, x is unsigned 8-bit [N,H,W,C] with C 1 or 3 (any H and W
// are accepted, so a re-cut PCam at another patch size reads too; the
// published files are 96x96x3), y is an integer dataset [N] or [N,1,...,1]
// with the same N, each dataset stores exactly the data its shape claims
// (contiguous bytes, or every chunk), and every label is 0 or 1 (all labels
// are read at open; they are N bytes). load(i) reads one patch by a
// hyperslab, so the 7 GB train file streams. HDF5 has no byte offsets to
// report: errors name the file, the dataset, what was expected and what was
// found, and the innermost message of HDF5's error stack. All HDF5 calls hold
// one process-wide mutex (a Debian libhdf5 need not be built thread-safe)
// and HDF5's automatic error printing is off. Truncated, mistyped, misshapen
// and lying files are errors. A file whose metadata is damaged can crash
// libhdf5 1.10.8 itself (fuzzing finds SEGVs in its root-group local-heap
// lookup, reproducible with H5Fopen + H5Lexists alone), so each file's
// metadata is first read in a child process (Contained.h): a crash there is
// reported as a damaged file, and the process reading patches never meets it.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_DATASETS_PCAM_H
#define PCE_RUNTIME_DATASETS_PCAM_H

#include "runtime/Status.h"
#include "runtime/datasets/DataSource.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace pce::rt {

// The split's files in `dir`: split is "train", "val" (files say "valid")
// or "test". Classes {"normal", "tumour"}; task Classification; Sample.image
// is HWC uint8 as stored.
Expected<std::unique_ptr<DataSource>> openPCam(const std::string &dir, const std::string &split);

// The path of a split's x or y file in `dir` (whether or not it exists);
// an unknown split is an error.
Expected<std::string> pcamFile(const std::string &dir, const std::string &split, char xOrY);

// What one PCam HDF5 file holds, as validated on open.
struct PCamArrayInfo {
  int64_t count = 0;                          // N
  int64_t height = 0, width = 0, channels = 0; // x only
  int64_t tumour = 0;                         // y only: labels equal to 1
};

// Validates the bytes of one _x (`xOrY` 'x') or _y ('y') file opened from
// memory, the checks openPCam makes; for x it also reads the first and the
// last patch. `source` names the bytes in messages. For fuzzing and tools.
// libhdf5 loops forever on some damaged metadata: the probe child
// (Contained.h) gives up after `probeSeconds`, and the file is reported damaged.
Expected<PCamArrayInfo> inspectPCamFile(std::string_view bytes, const std::string &source, char xOrY,
                                        double probeSeconds = 60);

} // namespace pce::rt

#endif // PCE_RUNTIME_DATASETS_PCAM_H
