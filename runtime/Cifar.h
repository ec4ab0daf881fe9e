//===- Cifar.h - CIFAR-10 / CIFAR-100, binary version ---------------------===//
//
// The published binary layout (https://www.cs.toronto.edu/~kriz/cifar.html):
//   CIFAR-10  (cifar-10-batches-bin/): data_batch_1.bin .. data_batch_5.bin,
//             test_batch.bin, batches.meta.txt (the 10 class names, a line
//             each). A record is 1 label byte then 3072 pixel bytes: the red,
//             green and blue planes of a 32x32 image, each row-major.
//   CIFAR-100 (cifar-100-binary/): train.bin, test.bin, fine_label_names.txt,
//             coarse_label_names.txt. A record is the coarse label byte, the
//             fine label byte, then the same 3072 bytes.
// Validation is strict; every error names the file and a byte offset (or a
// line for the name files): an empty file, a file that is not a whole number
// of records (truncated), a label outside the classes. Files are read whole
// (CIFAR-10's batches are 30 MB each); nothing is kept but the records.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_CIFAR_H
#define PCE_RUNTIME_CIFAR_H

#include "runtime/HostTensor.h"
#include "runtime/Status.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pce::rt {

enum class CifarVariant { Cifar10, Cifar100 };

constexpr int64_t kCifarSide = 32, kCifarChannels = 3;
constexpr int64_t kCifarPixels = kCifarChannels * kCifarSide * kCifarSide; // 3072

struct CifarRecords {
  int64_t count = 0;
  std::vector<uint8_t> pixels; // [count, 3, 32, 32], channel-major as in the file
  std::vector<uint8_t> labels; // CIFAR-10's label, CIFAR-100's fine label
  std::vector<uint8_t> coarse; // CIFAR-100 only
};

// Bytes of a record and the number of (fine) classes.
int64_t cifarRecordBytes(CifarVariant variant);
int64_t cifarClasses(CifarVariant variant);

// One batch file's records (appended to `into`, so a split's batches collect
// in one); `source` names the bytes in messages.
Status parseCifar(std::string_view bytes, CifarVariant variant, const std::string &source, CifarRecords &into);
Status readCifarFile(const std::string &path, CifarVariant variant, CifarRecords &into);

// The files of a split in `dir` (errors name what is missing), and the class
// names (one per line, `expected` of them; blank trailing lines allowed).
struct CifarFiles {
  std::vector<std::string> train;
  std::string test, names;
};
Expected<CifarFiles> findCifarFiles(const std::string &dir, CifarVariant variant);
Expected<std::vector<std::string>> readCifarNames(const std::string &path, int64_t expected);

// A whole split as a compiled model takes it: f32 [N,3,32,32], x/255 then
// (x - mean[c]) / std[c], and i64 labels [N]; `limit` > 0 keeps the first
// `limit` images. `train` reads every training batch, else the test batch.
struct CifarSplit {
  HostTensor images, labels;
  std::vector<std::string> classes;
  std::string source; // the first file read, for messages
};
Expected<CifarSplit> readCifarSplit(const std::string &dir, CifarVariant variant, bool train,
                                    const std::vector<float> &mean, const std::vector<float> &std,
                                    int64_t limit = 0);

} // namespace pce::rt

#endif // PCE_RUNTIME_CIFAR_H
