//===- HostTensor.cpp - A dense tensor in host memory ---------------------===//

#include "runtime/HostTensor.h"

#include "runtime/Failure.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace pce::rt {

// The runtime reads and writes little-endian files with memcpy.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the PCE runtime assumes a little-endian host");

void AlignedBuffer::allocate(size_t size) {
  // aligned_alloc needs a multiple of the alignment; keep at least one block
  // so data() is never null.
  size_t rounded = size == 0 ? kAlignment : (size + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded < size)
    throw std::bad_alloc();
  void *p = std::aligned_alloc(kAlignment, rounded);
  if (!p)
    throw std::bad_alloc();
  std::memset(p, 0, rounded);
  ptr_ = static_cast<uint8_t *>(p);
  size_ = size;
}

AlignedBuffer::AlignedBuffer(size_t size) { allocate(size); }

AlignedBuffer::AlignedBuffer(const AlignedBuffer &other) {
  if (!other.ptr_)
    return;
  allocate(other.size_);
  std::memcpy(ptr_, other.ptr_, size_);
}

AlignedBuffer &AlignedBuffer::operator=(const AlignedBuffer &other) {
  if (this != &other) {
    AlignedBuffer copy(other);
    *this = std::move(copy);
  }
  return *this;
}

AlignedBuffer::AlignedBuffer(AlignedBuffer &&other) noexcept : ptr_(other.ptr_), size_(other.size_) {
  other.ptr_ = nullptr;
  other.size_ = 0;
}

AlignedBuffer &AlignedBuffer::operator=(AlignedBuffer &&other) noexcept {
  if (this != &other) {
    std::free(ptr_);
    ptr_ = other.ptr_;
    size_ = other.size_;
    other.ptr_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

AlignedBuffer::~AlignedBuffer() { std::free(ptr_); }

uint8_t *AlignedBuffer::data() {
  if (!ptr_)
    allocate(0);
  return ptr_;
}

const uint8_t *AlignedBuffer::data() const {
  // A default-constructed buffer has no block yet; hand out a shared aligned
  // empty block rather than null.
  alignas(kAlignment) static const uint8_t empty[kAlignment] = {};
  return ptr_ ? ptr_ : empty;
}

Expected<HostTensor> HostTensor::create(DType dtype, std::vector<int64_t> shape) {
  return detail::guard<HostTensor>([&] {
    auto n = checkedNumel(shape, dtypeSize(dtype));
    if (!n)
      detail::fail("invalid tensor shape " + shapeToString(shape) + " for " + dtypeName(dtype) +
                   " (negative dimension or size overflow)");
    HostTensor t;
    t.dtype = dtype;
    t.shape = std::move(shape);
    t.data = AlignedBuffer(static_cast<size_t>(*n) * dtypeSize(dtype));
    return t;
  });
}

int64_t HostTensor::numel() const {
  auto n = checkedNumel(shape, dtypeSize(dtype));
  return n ? *n : -1;
}

bool HostTensor::consistent() const {
  int64_t n = numel();
  return n >= 0 && static_cast<uint64_t>(n) * dtypeSize(dtype) == data.size();
}

std::string HostTensor::typeString() const { return std::string(dtypeName(dtype)) + shapeToString(shape); }

} // namespace pce::rt
