//===- Idx.h - IDX data sets (MNIST, Fashion-MNIST) -----------------------===//
//
// The IDX format: a big-endian header `0x00 0x00 TYPE NDIMS`, NDIMS sizes as
// big-endian uint32, then the items row-major in big-endian order. TYPE is
// 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32 or 0x0E f64. Files may be
// gzip-compressed (as MNIST and the Debian package dataset-fashion-mnist ship
// them): readIdx recognises the gzip magic and inflates with zlib.
//
// Validation is strict, every error names the file and a byte offset:
//   t10k-images-idx3-ubyte: byte 2: unknown IDX element type 0x07 (...)
//   x.gz: byte 7840016 of the decompressed data: trailing bytes ...
//   x.gz: corrupt gzip stream at compressed byte 1033 (after 65536 decompressed bytes): ...
// A magic whose first two bytes are not zero, an unknown type, 0 or more than
// kIdxMaxRank dimensions, a dimension of size 0, a data section that is not
// exactly product(dims) * itemsize bytes (truncated or trailing bytes), a
// corrupt or truncated gzip stream are all errors.
//
// The helpers turn an image file into the f32 [N,1,H,W] batch a compiled
// model takes (x/255, then optionally (x - mean) / std) and a label file into
// i64 [N]; readIdxDataset does both and checks the two files agree on N.
//
//   auto ds = pce::rt::readIdxDataset("t10k-images-idx3-ubyte.gz",
//                                     "t10k-labels-idx1-ubyte.gz", {});
//   if (!ds) { report(ds.error()); return; }
//   HostTensor &x = ds->images;   // f32 [10000,1,28,28]
//   HostTensor &y = *ds->labels;  // i64 [10000]
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_IDX_H
#define PCE_RUNTIME_IDX_H

#include "runtime/HostTensor.h"
#include "runtime/Status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pce::rt {

// The element type byte of an IDX header (the values are the format's).
enum class IdxType : uint8_t { U8 = 0x08, I8 = 0x09, I16 = 0x0B, I32 = 0x0C, F32 = 0x0D, F64 = 0x0E };

size_t idxTypeSize(IdxType type);
// "u8", "i8", "i16", "i32", "f32", "f64".
const char *idxTypeName(IdxType type);

// No real IDX file has more than 4 dimensions; more is treated as corruption.
constexpr int kIdxMaxRank = 8;

// One IDX file's contents, converted to the host's byte order.
struct IdxArray {
  IdxType type = IdxType::U8;
  std::vector<int64_t> shape;   // every dimension >= 1
  AlignedBuffer data;           // numel() * idxTypeSize(type) bytes, row-major
  bool gzipped = false;         // the file was gzip-compressed

  int64_t numel() const;
  // The items for U8 files (images, labels); nullptr for any other type.
  const uint8_t *u8() const { return type == IdxType::U8 ? data.data() : nullptr; }
  // Item i (flat index) of any type, as a double.
  double at(int64_t i) const;
};

// Reads an IDX file, plain or gzip-compressed (detected by its magic 1f 8b).
Expected<IdxArray> readIdx(const std::string &path);
// Same, from bytes in memory (plain or gzip); source names them in messages.
Expected<IdxArray> parseIdx(std::string_view bytes, const std::string &source);

// The same values as a HostTensor: u8, i32, f32, f64 as they are; i8 and i16
// widened to i32 (HostTensor has no narrower signed types).
Expected<HostTensor> idxToHostTensor(const IdxArray &array);

// Applied after scaling to [0,1]: x' = (x - mean) / std; std > 0.
struct IdxNormalization {
  float mean = 0.0f;
  float std = 1.0f;
};

// u8 images [N,H,W] -> f32 [M,1,H,W] with x/255 (then normalised), where
// M = N, or min(N, limit) when limit > 0. source names the file in messages.
Expected<HostTensor> idxImagesToTensor(const IdxArray &images, const std::string &source,
                                       const std::optional<IdxNormalization> &normalization = std::nullopt,
                                       int64_t limit = 0);
// Integer labels [N] -> i64 [M] (M as above).
Expected<HostTensor> idxLabelsToTensor(const IdxArray &labels, const std::string &source, int64_t limit = 0);

struct IdxDatasetOptions {
  int64_t limit = 0; // > 0: keep only the first `limit` items
  std::optional<IdxNormalization> normalization;
};

struct IdxDataset {
  HostTensor images;                // f32 [N,1,H,W]
  std::optional<HostTensor> labels; // i64 [N] when a labels file was given
  int64_t count = 0;                // items in the files (before the limit)
};

// Reads an images file and, unless labelsPath is empty, a labels file; the
// two must hold the same number of items.
// DIR/NAME.gz if it exists, else DIR/NAME; an error naming both when neither
// does (the published files are gzipped, unpacked copies are common).
Expected<std::string> findIdxFile(const std::string &dir, const std::string &name);

Expected<IdxDataset> readIdxDataset(const std::string &imagesPath, const std::string &labelsPath,
                                    const IdxDatasetOptions &options = {});

} // namespace pce::rt

#endif // PCE_RUNTIME_IDX_H
