//===- MemRefDescriptor.cpp - Packing buffers for compiled entry points ---===//

#include "runtime/MemRefDescriptor.h"

#include <cstring>

namespace pce::rt {

void MemRefPack::add(void *data, const std::vector<int64_t> &shape) {
  const size_t rank = shape.size();
  std::vector<int64_t> words(3 + 2 * rank, 0);
  std::memcpy(&words[0], &data, sizeof(void *)); // allocated
  std::memcpy(&words[1], &data, sizeof(void *)); // aligned
  words[2] = 0;                                  // offset
  int64_t stride = 1;
  for (size_t i = rank; i-- > 0;) {
    words[3 + i] = shape[i];
    words[3 + rank + i] = stride;
    stride *= shape[i];
  }
  descriptors_.push_back(std::move(words));
}

void **MemRefPack::args() {
  argv_.clear();
  for (auto &d : descriptors_)
    argv_.push_back(d.data());
  return argv_.data();
}

} // namespace pce::rt
