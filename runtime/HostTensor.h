//===- HostTensor.h - A dense tensor in host memory -----------------------===//
//
// The runtime's one tensor type: dtype + shape + row-major contiguous bytes,
// 64-byte aligned so compiled (vectorised) code can read it directly through a
// memref descriptor without a copy.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_HOSTTENSOR_H
#define PCE_RUNTIME_HOSTTENSOR_H

#include "runtime/DType.h"
#include "runtime/Status.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pce::rt {

// Owning, zero-initialised, 64-byte aligned byte buffer with deep copy.
// data() is never null (empty buffers still own one aligned block), so a
// zero-sized tensor still yields a valid pointer for a descriptor.
class AlignedBuffer {
public:
  static constexpr size_t kAlignment = 64;

  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t size); // throws std::bad_alloc
  AlignedBuffer(const AlignedBuffer &other);
  AlignedBuffer &operator=(const AlignedBuffer &other);
  AlignedBuffer(AlignedBuffer &&other) noexcept;
  AlignedBuffer &operator=(AlignedBuffer &&other) noexcept;
  ~AlignedBuffer();

  uint8_t *data();
  const uint8_t *data() const;
  size_t size() const { return size_; }

private:
  void allocate(size_t size);
  uint8_t *ptr_ = nullptr;
  size_t size_ = 0;
};

struct HostTensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  AlignedBuffer data; // numel() * dtypeSize(dtype) bytes, row-major

  // A zero-filled tensor; fails on negative dims or a size that overflows.
  static Expected<HostTensor> create(DType dtype, std::vector<int64_t> shape);

  // Product of shape (1 for rank 0); -1 if the shape is invalid.
  int64_t numel() const;
  size_t nbytes() const { return data.size(); }
  // True when data holds exactly numel() * itemsize bytes.
  bool consistent() const;
  // "f32[2,3]": used in error messages.
  std::string typeString() const;

  // Typed views; nullptr when dtype differs.
  float *f32() { return dtype == DType::F32 ? reinterpret_cast<float *>(data.data()) : nullptr; }
  const float *f32() const {
    return dtype == DType::F32 ? reinterpret_cast<const float *>(data.data()) : nullptr;
  }
  double *f64() { return dtype == DType::F64 ? reinterpret_cast<double *>(data.data()) : nullptr; }
  const double *f64() const {
    return dtype == DType::F64 ? reinterpret_cast<const double *>(data.data()) : nullptr;
  }
  int64_t *i64() { return dtype == DType::I64 ? reinterpret_cast<int64_t *>(data.data()) : nullptr; }
  const int64_t *i64() const {
    return dtype == DType::I64 ? reinterpret_cast<const int64_t *>(data.data()) : nullptr;
  }
  int32_t *i32() { return dtype == DType::I32 ? reinterpret_cast<int32_t *>(data.data()) : nullptr; }
  const int32_t *i32() const {
    return dtype == DType::I32 ? reinterpret_cast<const int32_t *>(data.data()) : nullptr;
  }
  uint8_t *u8() { return dtype == DType::U8 ? data.data() : nullptr; }
  const uint8_t *u8() const { return dtype == DType::U8 ? data.data() : nullptr; }
};

} // namespace pce::rt

#endif // PCE_RUNTIME_HOSTTENSOR_H
