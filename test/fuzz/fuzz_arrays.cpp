//===- fuzz_arrays.cpp - libFuzzer target: IDX, .npy and CIFAR records ----===//
//
// The same bytes go to the runtime's array readers (parseIdx, plain or
// gzip; parseNpy; parseCifar, both variants): each returns a value whose
// size agrees with its header, or an error naming the source; never a crash,
// a hang or an allocation the bytes do not justify. Built and run by
// scripts/fuzz-data.sh.
//
//===----------------------------------------------------------------------===//

#include "runtime/Cifar.h"
#include "runtime/Idx.h"
#include "runtime/Npy.h"

#include <cstdlib>

using namespace pce::rt;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char *>(data), size);
  if (auto idx = parseIdx(bytes, "fuzz.idx")) {
    if (int64_t(idx->data.size()) != idx->numel() * int64_t(idxTypeSize(idx->type)))
      std::abort();
  } else if (idx.error().rfind("fuzz.idx", 0) != 0) {
    std::abort();
  }
  if (auto npy = parseNpy(bytes, "fuzz.npy")) {
    if (npy->data.size() != size_t(npy->numel()) * dtypeSize(npy->dtype))
      std::abort();
  } else if (npy.error().rfind("fuzz.npy", 0) != 0) {
    std::abort();
  }
  for (CifarVariant v : {CifarVariant::Cifar10, CifarVariant::Cifar100}) {
    CifarRecords records;
    if (Status s = parseCifar(bytes, v, "fuzz.bin", records); s) {
      if (int64_t(records.pixels.size()) != records.count * kCifarPixels)
        std::abort();
    } else if (s.message().rfind("fuzz.bin", 0) != 0) {
      std::abort();
    }
  }
  return 0;
}
