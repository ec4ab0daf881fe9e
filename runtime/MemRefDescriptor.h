//===- MemRefDescriptor.h - Packing buffers for compiled entry points -----===//
//
// Compiled entry points take `void **args`, args[i] pointing to the ranked
// memref descriptor of the i-th buffer (arguments, then results):
//   struct { T *allocated; T *aligned; int64_t offset;
//            int64_t sizes[R]; int64_t strides[R]; }   // rank 0: first three
// This is MLIR's standard descriptor layout. The runtime only ever passes
// row-major contiguous buffers with offset 0. Kept separate from Artifact so
// other callers (the LibTorch adapter) can pack their own buffers.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_MEMREFDESCRIPTOR_H
#define PCE_RUNTIME_MEMREFDESCRIPTOR_H

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pce::rt {

static_assert(sizeof(void *) == sizeof(int64_t), "descriptor packing assumes 64-bit pointers");

class MemRefPack {
public:
  // Appends a descriptor for a row-major contiguous buffer of the given shape.
  // The buffer must outlive every call made with args().
  void add(void *data, const std::vector<int64_t> &shape);
  // The args array to pass to the entry point; valid until the next add().
  void **args();
  size_t size() const { return descriptors_.size(); }
  // Descriptor i as int64 words (pointers in words 0 and 1), for tests.
  const std::vector<int64_t> &descriptor(size_t i) const { return descriptors_[i]; }

private:
  std::vector<std::vector<int64_t>> descriptors_;
  std::vector<void *> argv_;
};

} // namespace pce::rt

#endif // PCE_RUNTIME_MEMREFDESCRIPTOR_H
