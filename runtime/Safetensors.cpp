//===- Safetensors.cpp - Weights and checkpoints as safetensors -----------===//

#include "runtime/Safetensors.h"

#include "runtime/FileIO.h"
#include "runtime/Failure.h"
#include "runtime/Json.h"

#include <algorithm>
#include <cstring>

namespace pce::rt {

using detail::fail;

namespace {

// Dtypes of the safetensors spec that this runtime cannot hold; named so the
// message can say "unsupported" rather than "unknown".
bool isSpecDtype(const std::string &name) {
  static const char *const kSpec[] = {"BOOL", "U8", "I8", "U16", "I16", "F16", "BF16", "U32", "I32",
                                      "F32", "U64", "I64", "F64", "F8_E4M3", "F8_E5M2", "F8_E8M0",
                                      "F4", "F6_E2M3", "F6_E3M2", "C64"};
  for (const char *s : kSpec)
    if (name == s)
      return true;
  return false;
}

struct Entry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
  size_t offsetsAt; // file offset of the data_offsets array
};

SafetensorsFile parseOrThrow(std::string_view bytes, const std::string &source) {
  auto at = [&](size_t off) { return source + ": byte " + std::to_string(off) + ": "; };
  if (bytes.size() < 8)
    fail(at(0) + "expected an 8-byte little-endian header length, file has " +
         std::to_string(bytes.size()) + " bytes");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i)
    n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  if (n > bytes.size() - 8)
    fail(at(0) + "header length " + std::to_string(n) +
         " runs past the end of the file (header would end at byte " +
         (n > UINT64_MAX - 8 ? std::string("> 2^64") : std::to_string(n + 8)) + ", file has " +
         std::to_string(bytes.size()) + " bytes)");
  size_t dataStart = 8 + static_cast<size_t>(n);
  uint64_t dataSize = bytes.size() - dataStart;

  auto header = parseJson(bytes.substr(8, static_cast<size_t>(n)), source, 8);
  if (!header)
    fail(header.error());
  const JsonValue::Object *members = header->getObject();
  if (!members)
    fail(at(header->offset()) + "expected the header to be a JSON object, found " +
         jsonKindName(header->kind()));

  SafetensorsFile file;
  file.path = source;
  std::vector<Entry> entries;
  for (const auto &[name, value] : *members) {
    if (name == "__metadata__") {
      const JsonValue::Object *meta = value.getObject();
      if (!meta)
        fail(at(value.offset()) + "expected __metadata__ to be an object of strings, found " +
             jsonKindName(value.kind()));
      for (const auto &[k, v] : *meta) {
        if (!v.isString())
          fail(at(v.offset()) + "expected __metadata__ value '" + k + "' to be a string, found " +
               jsonKindName(v.kind()));
        file.metadata[k] = *v.getString();
      }
      continue;
    }
    std::string where = "tensor '" + name + "': ";
    const JsonValue::Object *info = value.getObject();
    if (!info)
      fail(at(value.offset()) + where + "expected an object with dtype, shape, data_offsets, found " +
           jsonKindName(value.kind()));
    for (const auto &[k, v] : *info)
      if (k != "dtype" && k != "shape" && k != "data_offsets")
        fail(at(v.offset()) + where + "expected only dtype, shape, data_offsets, found key '" + k + "'");
    const JsonValue *dtypeV = value.find("dtype");
    const JsonValue *shapeV = value.find("shape");
    const JsonValue *offsV = value.find("data_offsets");
    if (!dtypeV || !shapeV || !offsV)
      fail(at(value.offset()) + where + "expected keys dtype, shape and data_offsets (missing '" +
           (!dtypeV ? "dtype" : !shapeV ? "shape" : "data_offsets") + "')");

    Entry e;
    e.name = name;
    if (!dtypeV->isString())
      fail(at(dtypeV->offset()) + where + "expected dtype to be a string, found " +
           jsonKindName(dtypeV->kind()));
    const std::string &dt = *dtypeV->getString();
    auto dtype = dtypeFromSafetensorsName(dt);
    if (!dtype)
      fail(at(dtypeV->offset()) + where +
           (isSpecDtype(dt) ? "dtype '" + dt + "' is not supported by the PCE runtime"
                            : "unknown dtype '" + dt + "'") +
           " (expected F32, F64, I64, I32 or U8)");
    e.dtype = *dtype;

    const JsonValue::Array *dims = shapeV->getArray();
    if (!dims)
      fail(at(shapeV->offset()) + where + "expected shape to be an array of integers, found " +
           jsonKindName(shapeV->kind()));
    for (const JsonValue &d : *dims) {
      if (!d.isInt() || d.intValue() < 0)
        fail(at(d.offset()) + where + "expected a non-negative integer dimension in shape");
      e.shape.push_back(d.intValue());
    }
    auto numel = checkedNumel(e.shape, dtypeSize(e.dtype));
    if (!numel)
      fail(at(shapeV->offset()) + where + "shape " + shapeToString(e.shape) + " is too large");

    const JsonValue::Array *offs = offsV->getArray();
    e.offsetsAt = offsV->offset();
    if (!offs || offs->size() != 2 || !(*offs)[0].isInt() || !(*offs)[1].isInt() ||
        (*offs)[0].intValue() < 0 || (*offs)[1].intValue() < 0)
      fail(at(offsV->offset()) + where +
           "expected data_offsets to be [begin, end] with non-negative integers");
    e.begin = static_cast<uint64_t>((*offs)[0].intValue());
    e.end = static_cast<uint64_t>((*offs)[1].intValue());
    std::string range = "data_offsets [" + std::to_string(e.begin) + "," + std::to_string(e.end) + "]";
    if (e.begin > e.end)
      fail(at(e.offsetsAt) + where + range + " has begin > end");
    if (e.end > dataSize)
      fail(at(e.offsetsAt) + where + range + " lies outside the data section (" +
           std::to_string(dataSize) + " bytes, file bytes " + std::to_string(dataStart) + ".." +
           std::to_string(bytes.size()) + ")");
    uint64_t need = static_cast<uint64_t>(*numel) * dtypeSize(e.dtype);
    if (e.end - e.begin != need)
      fail(at(e.offsetsAt) + where + range + " holds " + std::to_string(e.end - e.begin) +
           " bytes but " + dt + " " + shapeToString(e.shape) + " needs " + std::to_string(need));
    entries.push_back(std::move(e));
  }

  // Overlap check in offset order; empty tensors occupy no bytes.
  std::vector<const Entry *> order;
  for (const Entry &e : entries)
    if (e.end > e.begin)
      order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry *a, const Entry *b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  for (size_t i = 1; i < order.size(); ++i) {
    const Entry &prev = *order[i - 1], &cur = *order[i];
    if (cur.begin < prev.end) {
      // Report whichever of the two appears later in the header.
      const Entry &later = cur.offsetsAt > prev.offsetsAt ? cur : prev;
      const Entry &other = &later == &cur ? prev : cur;
      fail(at(later.offsetsAt) + "tensor '" + later.name + "': data_offsets [" +
           std::to_string(later.begin) + "," + std::to_string(later.end) + "] overlap tensor '" +
           other.name + "' [" + std::to_string(other.begin) + "," + std::to_string(other.end) + "]");
    }
  }

  for (const Entry &e : entries) {
    HostTensor t;
    t.dtype = e.dtype;
    t.shape = e.shape;
    t.data = AlignedBuffer(static_cast<size_t>(e.end - e.begin));
    if (e.end > e.begin)
      std::memcpy(t.data.data(), bytes.data() + dataStart + e.begin, static_cast<size_t>(e.end - e.begin));
    file.tensors.emplace(e.name, std::move(t));
  }
  return file;
}

} // namespace

Expected<SafetensorsFile> parseSafetensors(std::string_view bytes, const std::string &source) {
  return detail::guard<SafetensorsFile>([&] { return parseOrThrow(bytes, source); });
}

Expected<SafetensorsFile> readSafetensors(const std::string &path) {
  return detail::guard<SafetensorsFile>([&] { return parseOrThrow(detail::readWholeFile(path), path); });
}

Status writeSafetensors(const std::string &path, const std::map<std::string, HostTensor> &tensors,
                        const std::map<std::string, std::string> &metadata) {
  return detail::guardStatus([&] {
    JsonValue header = JsonValue::object();
    if (!metadata.empty()) {
      JsonValue meta = JsonValue::object();
      for (const auto &[k, v] : metadata)
        meta.set(k, JsonValue::string(v));
      header.set("__metadata__", std::move(meta));
    }
    std::vector<detail::ByteSpan> pieces;
    pieces.push_back({nullptr, 0}); // length, filled below
    pieces.push_back({nullptr, 0}); // header, filled below
    uint64_t offset = 0;
    for (const auto &[name, t] : tensors) { // std::map: sorted by name
      if (name == "__metadata__")
        fail(path + ": cannot write a tensor named '__metadata__'");
      if (!t.consistent())
        fail(path + ": tensor '" + name + "' " + t.typeString() + " holds " +
             std::to_string(t.nbytes()) + " bytes, expected numel * itemsize");
      JsonValue shape = JsonValue::array();
      for (int64_t d : t.shape)
        shape.push(JsonValue::integer(d));
      JsonValue offs = JsonValue::array();
      offs.push(JsonValue::integer(static_cast<int64_t>(offset)));
      offs.push(JsonValue::integer(static_cast<int64_t>(offset + t.nbytes())));
      JsonValue info = JsonValue::object();
      info.set("dtype", JsonValue::string(dtypeSafetensorsName(t.dtype)));
      info.set("shape", std::move(shape));
      info.set("data_offsets", std::move(offs));
      header.set(name, std::move(info));
      pieces.push_back({t.data.data(), t.nbytes()});
      offset += t.nbytes();
    }
    std::string text = writeJson(header);
    text.append((8 - (8 + text.size()) % 8) % 8, ' ');
    unsigned char len[8];
    for (int i = 0; i < 8; ++i)
      len[i] = static_cast<unsigned char>((static_cast<uint64_t>(text.size()) >> (8 * i)) & 0xFF);
    pieces[0] = {len, 8};
    pieces[1] = {text.data(), text.size()};
    detail::writeFileAtomic(path, pieces);
  });
}

} // namespace pce::rt
