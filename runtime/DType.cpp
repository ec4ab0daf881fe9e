//===- DType.cpp - Element types the runtime moves around -----------------===//

#include "runtime/DType.h"

namespace pce::rt {

namespace {
struct DTypeInfo {
  DType dtype;
  size_t size;
  const char *name;
  const char *safetensors;
  const char *npy;
};
constexpr DTypeInfo kInfo[] = {
    {DType::F32, 4, "f32", "F32", "<f4"}, {DType::F64, 8, "f64", "F64", "<f8"},
    {DType::I64, 8, "i64", "I64", "<i8"}, {DType::I32, 4, "i32", "I32", "<i4"},
    {DType::U8, 1, "u8", "U8", "|u1"},
};
const DTypeInfo &info(DType d) {
  for (const auto &i : kInfo)
    if (i.dtype == d)
      return i;
  return kInfo[0]; // unreachable for valid enum values
}
} // namespace

size_t dtypeSize(DType dtype) { return info(dtype).size; }
const char *dtypeName(DType dtype) { return info(dtype).name; }
const char *dtypeSafetensorsName(DType dtype) { return info(dtype).safetensors; }
const char *dtypeNpyDescr(DType dtype) { return info(dtype).npy; }

std::optional<DType> dtypeFromName(std::string_view name) {
  for (const auto &i : kInfo)
    if (name == i.name)
      return i.dtype;
  return std::nullopt;
}
std::optional<DType> dtypeFromSafetensorsName(std::string_view name) {
  for (const auto &i : kInfo)
    if (name == i.safetensors)
      return i.dtype;
  return std::nullopt;
}
std::optional<DType> dtypeFromNpyDescr(std::string_view descr) {
  // NumPy writes one-byte types as '|u1' but '<u1'/'=u1' mean the same.
  if (descr == "<u1" || descr == "=u1")
    return DType::U8;
  for (const auto &i : kInfo)
    if (descr == i.npy)
      return i.dtype;
  return std::nullopt;
}

std::string shapeToString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += ',';
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::optional<int64_t> checkedNumel(const std::vector<int64_t> &shape, size_t itemSize) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0)
      return std::nullopt;
    if (__builtin_mul_overflow(n, d, &n))
      return std::nullopt;
  }
  int64_t bytes;
  if (__builtin_mul_overflow(n, static_cast<int64_t>(itemSize), &bytes))
    return std::nullopt;
  return n;
}

} // namespace pce::rt
