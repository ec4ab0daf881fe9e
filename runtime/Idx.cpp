//===- Idx.cpp - IDX data sets (MNIST, Fashion-MNIST) ---------------------===//

#include "runtime/Idx.h"

#include <filesystem>

#include "runtime/Failure.h"
#include "runtime/FileIO.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <limits>

namespace pce::rt {

using detail::fail;

size_t idxTypeSize(IdxType type) {
  switch (type) {
  case IdxType::U8:
  case IdxType::I8: return 1;
  case IdxType::I16: return 2;
  case IdxType::I32:
  case IdxType::F32: return 4;
  case IdxType::F64: return 8;
  }
  return 0;
}

const char *idxTypeName(IdxType type) {
  switch (type) {
  case IdxType::U8: return "u8";
  case IdxType::I8: return "i8";
  case IdxType::I16: return "i16";
  case IdxType::I32: return "i32";
  case IdxType::F32: return "f32";
  case IdxType::F64: return "f64";
  }
  return "?";
}

int64_t IdxArray::numel() const {
  auto n = checkedNumel(shape);
  return n ? *n : -1;
}

double IdxArray::at(int64_t i) const {
  const uint8_t *p = data.data() + i * idxTypeSize(type);
  switch (type) {
  case IdxType::U8: return *p;
  case IdxType::I8: return static_cast<int8_t>(*p);
  case IdxType::I16: { int16_t v; std::memcpy(&v, p, 2); return v; }
  case IdxType::I32: { int32_t v; std::memcpy(&v, p, 4); return v; }
  case IdxType::F32: { float v; std::memcpy(&v, p, 4); return v; }
  case IdxType::F64: { double v; std::memcpy(&v, p, 8); return v; }
  }
  return 0;
}

namespace {

// Where a byte offset lies, for messages: in the file itself, or (for a
// gzip file) in the decompressed stream, which is what the IDX header and
// data offsets refer to.
struct Where {
  std::string source;
  bool decompressed = false;
  std::string at(uint64_t offset) const {
    return source + ": byte " + std::to_string(offset) + (decompressed ? " of the decompressed data" : "") + ": ";
  }
  const char *holder() const { return decompressed ? "the decompressed data has" : "the file has"; }
};

struct Header {
  IdxType type;
  std::vector<int64_t> shape;
  uint64_t headerBytes; // 4 + 4 * rank
  uint64_t dataBytes;   // numel * itemsize
  std::string describe() const { return std::string(idxTypeName(type)) + " " + shapeToString(shape); }
};

std::string hexByte(unsigned v) {
  const char *digits = "0123456789ABCDEF";
  return std::string("0x") + digits[(v >> 4) & 15] + digits[v & 15];
}

uint32_t bigEndian32(const unsigned char *p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

bool knownType(unsigned t) {
  return t == 0x08 || t == 0x09 || t == 0x0B || t == 0x0C || t == 0x0D || t == 0x0E;
}

// Parses the header at the start of `bytes`. While a gzip stream is still
// being inflated (`partial`), a header that is not complete yet gives
// nullopt; otherwise a short header is an error.
std::optional<Header> parseHeader(std::string_view bytes, const Where &w, bool partial) {
  const auto *p = reinterpret_cast<const unsigned char *>(bytes.data());
  auto have = [&](uint64_t n, const std::string &what) {
    if (bytes.size() >= n)
      return true;
    if (!partial)
      fail(w.at(bytes.size()) + "unexpected end of file: the IDX header needs " + std::to_string(n) +
           " bytes for " + what + ", " + w.holder() + " " + std::to_string(bytes.size()));
    return false;
  };
  if (!have(4, "the magic number"))
    return std::nullopt;
  if (p[0] != 0 || p[1] != 0)
    fail(w.at(p[0] != 0 ? 0 : 1) + "not an IDX file: the magic number must start with two zero bytes, found " +
         hexByte(p[0]) + " " + hexByte(p[1]));
  if (!knownType(p[2]))
    fail(w.at(2) + "unknown IDX element type " + hexByte(p[2]) +
         " (expected 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32 or 0x0E f64)");
  Header h;
  h.type = static_cast<IdxType>(p[2]);
  int rank = p[3];
  if (rank == 0 || rank > kIdxMaxRank)
    fail(w.at(3) + "IDX rank " + std::to_string(rank) + " out of range: expected 1 to " +
         std::to_string(kIdxMaxRank) + " dimensions");
  h.headerBytes = 4 + 4 * uint64_t(rank);
  if (!have(h.headerBytes, std::to_string(rank) + " dimension sizes"))
    return std::nullopt;
  // Cap the data size so numel * itemsize and every offset fit in int64.
  const uint64_t maxBytes = uint64_t(std::numeric_limits<int64_t>::max()) / 2;
  uint64_t numel = 1, item = idxTypeSize(h.type);
  for (int d = 0; d < rank; ++d) {
    uint64_t size = bigEndian32(p + 4 + 4 * d);
    if (size == 0)
      fail(w.at(4 + 4 * d) + "dimension " + std::to_string(d) +
           " has size 0 (an IDX file holds at least one item)");
    if (numel > maxBytes / item / size)
      fail(w.at(4 + 4 * d) + "dimension sizes too large: the data would exceed 2^62 bytes");
    numel *= size;
    h.shape.push_back(static_cast<int64_t>(size));
  }
  h.dataBytes = numel * item;
  return h;
}

// Reports bytes after the data. `extra` is how many there are (0 when a gzip
// stream was stopped before its end: the count is unknown).
[[noreturn]] void trailingBytes(const Where &w, const Header &h, uint64_t extra) {
  fail(w.at(h.headerBytes + h.dataBytes) +
       (extra ? std::to_string(extra) + (extra == 1 ? " trailing byte" : " trailing bytes")
              : std::string("trailing bytes")) +
       " after the " +
       std::to_string(h.dataBytes) + " data bytes of " + h.describe() +
       (w.decompressed ? " (the decompressed stream is longer than the header says)" : ""));
}

bool isGzip(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1F &&
         static_cast<unsigned char>(bytes[1]) == 0x8B;
}

// Frees the zlib state on every way out.
struct InflateGuard {
  z_stream *zs;
  ~InflateGuard() { inflateEnd(zs); }
};

// Inflates a gzip file (several members allowed, as gzip(1) writes them when
// files are concatenated). The IDX header is checked as soon as it is out, so
// a stream longer than the header announces is stopped one byte past the
// data: a small corrupt file cannot make us inflate gigabytes.
std::string inflateGzip(std::string_view in, const std::string &source) {
  const Where w{source, true};
  z_stream zs;
  std::memset(&zs, 0, sizeof zs);
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) // 16: gzip wrapper only
    fail(source + ": cannot initialise zlib");
  InflateGuard guard{&zs};

  const auto *begin = reinterpret_cast<const Bytef *>(in.data());
  const Bytef *end = begin + in.size();
  zs.next_in = const_cast<Bytef *>(begin);
  std::string out;
  uint64_t produced = 0;
  std::optional<Header> header;
  uint64_t limit = std::numeric_limits<uint64_t>::max(); // header + data + 1 once known
  auto consumed = [&] { return static_cast<uint64_t>(zs.next_in - begin); };
  auto corrupt = [&](const std::string &why) {
    fail(source + ": corrupt gzip stream at compressed byte " + std::to_string(consumed()) + " (after " +
         std::to_string(produced) + " decompressed bytes): " + why);
  };

  for (;;) {
    // Feed input in pieces: avail_in is 32-bit.
    if (zs.avail_in == 0)
      zs.avail_in = static_cast<uInt>(std::min<uint64_t>(end - zs.next_in, 1u << 30));
    if (produced == out.size()) {
      uint64_t grow = std::max<uint64_t>(out.size(), 1 << 20);
      out.resize(static_cast<size_t>(std::min(produced + grow, limit)));
    }
    zs.next_out = reinterpret_cast<Bytef *>(&out[produced]);
    zs.avail_out = static_cast<uInt>(std::min<uint64_t>(out.size() - produced, 1u << 30));
    uInt room = zs.avail_out;
    int ret = inflate(&zs, Z_NO_FLUSH);
    produced += room - zs.avail_out;

    if (ret == Z_DATA_ERROR || ret == Z_NEED_DICT || ret == Z_STREAM_ERROR)
      corrupt(zs.msg ? zs.msg : "invalid deflate data");
    if (ret == Z_MEM_ERROR)
      fail(source + ": out of memory while decompressing");
    if (!header) {
      header = parseHeader(std::string_view(out.data(), produced), w, /*partial=*/true);
      if (header)
        limit = header->headerBytes + header->dataBytes + 1;
    }
    if (header && produced >= limit)
      trailingBytes(w, *header, 0);

    if (ret == Z_STREAM_END) {
      if (zs.next_in == end && zs.avail_in == 0)
        break;
      // Another gzip member follows, or garbage.
      std::string_view rest(reinterpret_cast<const char *>(zs.next_in), end - zs.next_in);
      if (!isGzip(rest))
        fail(source + ": compressed byte " + std::to_string(consumed()) + ": " + std::to_string(rest.size()) +
             " trailing bytes after the end of the gzip stream");
      if (inflateReset(&zs) != Z_OK)
        fail(source + ": cannot reset zlib");
      zs.avail_in = 0; // re-fed from next_in at the top of the loop
      continue;
    }
    // Z_OK with output room left, or no progress at all: zlib has used up
    // the input without reaching the end of the stream.
    bool inputLeft = zs.avail_in > 0 || zs.next_in != end;
    if ((ret == Z_BUF_ERROR || zs.avail_out > 0) && !inputLeft)
      fail(source + ": truncated gzip stream: it ends at compressed byte " + std::to_string(in.size()) +
           " after " + std::to_string(produced) + " decompressed bytes, before the end of the stream");
    if (ret == Z_BUF_ERROR && inputLeft && zs.avail_out > 0)
      corrupt("no progress");
  }
  out.resize(static_cast<size_t>(produced));
  return out;
}

// Converts the big-endian items that follow the header to host order.
IdxArray decode(std::string_view bytes, const Where &w) {
  Header h = *parseHeader(bytes, w, /*partial=*/false);
  uint64_t end = h.headerBytes + h.dataBytes;
  if (bytes.size() < end)
    fail(w.at(bytes.size()) + "unexpected end of file: " + h.describe() + " needs " +
         std::to_string(h.dataBytes) + " data bytes from byte " + std::to_string(h.headerBytes) + ", " +
         w.holder() + " " + std::to_string(bytes.size() - h.headerBytes));
  if (bytes.size() > end)
    trailingBytes(w, h, bytes.size() - end);

  IdxArray a;
  a.type = h.type;
  a.shape = h.shape;
  a.gzipped = w.decompressed;
  a.data = AlignedBuffer(static_cast<size_t>(h.dataBytes));
  const char *src = bytes.data() + h.headerBytes;
  uint8_t *dst = a.data.data();
  size_t n = static_cast<size_t>(h.dataBytes), item = idxTypeSize(h.type);
  if (item == 1) {
    std::memcpy(dst, src, n);
  } else {
    // The runtime only builds for little-endian hosts: reverse every item.
    for (size_t i = 0; i < n; i += item)
      for (size_t b = 0; b < item; ++b)
        dst[i + b] = static_cast<uint8_t>(src[i + item - 1 - b]);
  }
  return a;
}

IdxArray parseAny(std::string_view bytes, const std::string &source) {
  if (isGzip(bytes)) {
    std::string plain = inflateGzip(bytes, source);
    return decode(plain, Where{source, true});
  }
  return decode(bytes, Where{source, false});
}

int64_t keep(int64_t n, int64_t limit) { return limit > 0 ? std::min(n, limit) : n; }

} // namespace

Expected<IdxArray> readIdx(const std::string &path) {
  return detail::guard<IdxArray>([&] { return parseAny(detail::readWholeFile(path), path); });
}

Expected<IdxArray> parseIdx(std::string_view bytes, const std::string &source) {
  return detail::guard<IdxArray>([&] { return parseAny(bytes, source); });
}

Expected<HostTensor> idxToHostTensor(const IdxArray &a) {
  return detail::guard<HostTensor>([&] {
    DType dtype = DType::I32;
    switch (a.type) {
    case IdxType::U8: dtype = DType::U8; break;
    case IdxType::F32: dtype = DType::F32; break;
    case IdxType::F64: dtype = DType::F64; break;
    default: break; // i8, i16, i32 -> i32
    }
    auto t = HostTensor::create(dtype, a.shape);
    if (!t)
      fail(t.error());
    int64_t n = a.numel();
    if (a.type == IdxType::I8 || a.type == IdxType::I16) {
      for (int64_t i = 0; i < n; ++i)
        t->i32()[i] = static_cast<int32_t>(a.at(i));
    } else {
      std::memcpy(t->data.data(), a.data.data(), t->nbytes());
    }
    return std::move(*t);
  });
}

Expected<HostTensor> idxImagesToTensor(const IdxArray &images, const std::string &source,
                                       const std::optional<IdxNormalization> &normalization, int64_t limit) {
  return detail::guard<HostTensor>([&] {
    if (images.type != IdxType::U8 || images.shape.size() != 3)
      fail(source + ": expected images as u8 [N,H,W], found " + idxTypeName(images.type) + " " +
           shapeToString(images.shape));
    if (normalization && !(std::isfinite(normalization->mean) && std::isfinite(normalization->std) &&
                           normalization->std > 0))
      fail("image normalisation needs a finite mean and a std > 0, found mean " +
           std::to_string(normalization->mean) + ", std " + std::to_string(normalization->std));
    int64_t n = keep(images.shape[0], limit), h = images.shape[1], w = images.shape[2];
    auto t = HostTensor::create(DType::F32, {n, 1, h, w});
    if (!t)
      fail(source + ": " + t.error());
    // 256 possible inputs: one table, and every pixel value maps to exactly
    // the same float wherever it occurs.
    float table[256];
    for (int v = 0; v < 256; ++v) {
      float x = static_cast<float>(v) / 255.0f;
      table[v] = normalization ? (x - normalization->mean) / normalization->std : x;
    }
    const uint8_t *src = images.u8();
    float *dst = t->f32();
    for (int64_t i = 0, total = n * h * w; i < total; ++i)
      dst[i] = table[src[i]];
    return std::move(*t);
  });
}

Expected<HostTensor> idxLabelsToTensor(const IdxArray &labels, const std::string &source, int64_t limit) {
  return detail::guard<HostTensor>([&] {
    bool integer = labels.type != IdxType::F32 && labels.type != IdxType::F64;
    if (!integer || labels.shape.size() != 1)
      fail(source + ": expected labels as integers [N], found " + idxTypeName(labels.type) + " " +
           shapeToString(labels.shape));
    int64_t n = keep(labels.shape[0], limit);
    auto t = HostTensor::create(DType::I64, {n});
    if (!t)
      fail(source + ": " + t.error());
    for (int64_t i = 0; i < n; ++i)
      t->i64()[i] = static_cast<int64_t>(labels.at(i));
    return std::move(*t);
  });
}

Expected<IdxDataset> readIdxDataset(const std::string &imagesPath, const std::string &labelsPath,
                                    const IdxDatasetOptions &options) {
  return detail::guard<IdxDataset>([&] {
    auto images = readIdx(imagesPath);
    if (!images)
      fail(images.error());
    IdxDataset ds;
    ds.count = images->shape[0];
    if (!labelsPath.empty()) {
      auto labels = readIdx(labelsPath);
      if (!labels)
        fail(labels.error());
      auto y = idxLabelsToTensor(*labels, labelsPath, options.limit);
      if (!y)
        fail(y.error());
      if (labels->shape[0] != ds.count)
        fail("images file " + imagesPath + " holds " + std::to_string(ds.count) + " items but labels file " +
             labelsPath + " holds " + std::to_string(labels->shape[0]));
      ds.labels = std::move(*y);
    }
    auto x = idxImagesToTensor(*images, imagesPath, options.normalization, options.limit);
    if (!x)
      fail(x.error());
    ds.images = std::move(*x);
    return ds;
  });
}

Expected<std::string> findIdxFile(const std::string &dir, const std::string &name) {
  std::filesystem::path plain = std::filesystem::path(dir) / name, gz = std::filesystem::path(dir) / (name + ".gz");
  if (std::filesystem::exists(gz))
    return gz.string();
  if (std::filesystem::exists(plain))
    return plain.string();
  return Status::error("data file not found: neither " + gz.string() + " nor " + plain.string() + " exists");
}

} // namespace pce::rt
