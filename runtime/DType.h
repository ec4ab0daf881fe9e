//===- DType.h - Element types the runtime moves around -------------------===//
//
// One enum shared by .npy, safetensors and manifest.json, each of which spells
// dtypes differently ('<f4', "F32", "f32"); the conversions live here so the
// three formats cannot disagree.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_DTYPE_H
#define PCE_RUNTIME_DTYPE_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pce::rt {

enum class DType { F32, F64, I64, I32, U8 };

size_t dtypeSize(DType dtype);
// Manifest spelling: "f32", "f64", "i64", "i32", "u8".
const char *dtypeName(DType dtype);
std::optional<DType> dtypeFromName(std::string_view name);
// Safetensors spelling: "F32", "F64", "I64", "I32", "U8".
const char *dtypeSafetensorsName(DType dtype);
std::optional<DType> dtypeFromSafetensorsName(std::string_view name);
// NumPy descr: "<f4", "<f8", "<i8", "<i4", "|u1" (little-endian only).
const char *dtypeNpyDescr(DType dtype);
std::optional<DType> dtypeFromNpyDescr(std::string_view descr);

// "[2,3,4]" (rank 0: "[]"); the form used in messages and signatures.
std::string shapeToString(const std::vector<int64_t> &shape);
// numel of shape, or nullopt if a dimension is negative or the product (times
// itemSize) overflows int64.
std::optional<int64_t> checkedNumel(const std::vector<int64_t> &shape, size_t itemSize = 1);

} // namespace pce::rt

#endif // PCE_RUNTIME_DTYPE_H
