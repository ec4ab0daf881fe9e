//===- Npy.cpp - NumPy .npy files in and out ------------------------------===//
//
// Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
//   "\x93NUMPY" major minor  header_len (u16 LE for 1.x, u32 LE for 2.x)
//   header: a Python dict literal
//     {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
//   padded with spaces and terminated by '\n', then the raw C-order data.
//
//===----------------------------------------------------------------------===//

#include "runtime/Npy.h"

#include "runtime/FileIO.h"
#include "runtime/Failure.h"

#include <cstring>
#include <optional>

namespace pce::rt {

using detail::fail;

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

uint64_t readLE(std::string_view bytes, size_t at, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  return v;
}

// Parses the header dict. Positions are absolute file offsets.
class HeaderParser {
public:
  HeaderParser(std::string_view bytes, size_t begin, size_t end, const std::string &source)
      : bytes_(bytes), pos_(begin), end_(end), source_(source) {}

  std::string descr;
  size_t descrAt = 0;
  bool fortranOrder = false;
  std::vector<int64_t> shape;

  void parse() {
    size_t dictStart = pos_;
    skipSpace();
    expectChar('{', "'{' to open the header dict");
    bool haveDescr = false, haveFortran = false, haveShape = false;
    while (true) {
      skipSpace();
      if (peek() == '}') {
        ++pos_;
        break;
      }
      size_t keyAt = pos_;
      std::string key = parseStringLiteral("a quoted header key");
      skipSpace();
      expectChar(':', "':' after header key");
      skipSpace();
      if (key == "descr") {
        if (haveDescr)
          error("a header key only once (duplicate 'descr')", keyAt);
        haveDescr = true;
        descrAt = pos_;
        descr = parseStringLiteral("a dtype string such as '<f4' for 'descr'");
      } else if (key == "fortran_order") {
        if (haveFortran)
          error("a header key only once (duplicate 'fortran_order')", keyAt);
        haveFortran = true;
        size_t at = pos_;
        if (matchWord("True")) {
          fortranOrder = true;
          error("fortran_order False (Fortran-ordered arrays are not supported; save "
                "np.ascontiguousarray(a))",
                at);
        } else if (!matchWord("False")) {
          error("True or False for 'fortran_order'");
        }
      } else if (key == "shape") {
        if (haveShape)
          error("a header key only once (duplicate 'shape')", keyAt);
        haveShape = true;
        parseShape();
      } else {
        error("only the keys 'descr', 'fortran_order', 'shape' (unknown key '" + key + "')", keyAt);
      }
      skipSpace();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        break;
      }
      error("',' or '}' in the header dict");
    }
    if (!haveDescr || !haveFortran || !haveShape)
      error(std::string("header keys 'descr', 'fortran_order' and 'shape' (missing '") +
                (!haveDescr ? "descr" : !haveFortran ? "fortran_order" : "shape") + "')",
            dictStart);
    // Only padding may follow the dict (the caller checked the final '\n').
    while (pos_ < end_) {
      if (bytes_[pos_] != ' ')
        error("only space padding after the header dict");
      ++pos_;
    }
  }

private:
  [[noreturn]] void error(const std::string &expected, size_t at) {
    std::string found;
    if (at >= end_) {
      found = "end of header";
    } else {
      unsigned char c = static_cast<unsigned char>(bytes_[at]);
      found = (c >= 0x20 && c < 0x7f) ? std::string("'") + static_cast<char>(c) + "'"
                                      : "byte " + std::to_string(c);
    }
    fail(source_ + ": byte " + std::to_string(at) + ": expected " + expected + ", found " + found);
  }
  [[noreturn]] void error(const std::string &expected) { error(expected, pos_); }

  char peek() const { return pos_ < end_ ? bytes_[pos_] : '\0'; }
  void skipSpace() {
    while (pos_ < end_ && (bytes_[pos_] == ' ' || bytes_[pos_] == '\t'))
      ++pos_;
  }
  void expectChar(char c, const char *what) {
    if (peek() != c)
      error(what);
    ++pos_;
  }
  bool matchWord(std::string_view word) {
    if (bytes_.substr(pos_, word.size()) != word || pos_ + word.size() > end_)
      return false;
    pos_ += word.size();
    return true;
  }
  std::string parseStringLiteral(const std::string &what) {
    char quote = peek();
    if (quote != '\'' && quote != '"')
      error(what);
    size_t start = ++pos_;
    while (pos_ < end_ && bytes_[pos_] != quote) {
      if (bytes_[pos_] == '\\')
        error("a plain string without escapes");
      ++pos_;
    }
    if (pos_ >= end_)
      error("a closing quote");
    std::string s(bytes_.substr(start, pos_ - start));
    ++pos_;
    return s;
  }
  void parseShape() {
    expectChar('(', "a shape tuple such as (2, 3) for 'shape'");
    bool trailingComma = false;
    while (true) {
      skipSpace();
      if (peek() == ')') {
        ++pos_;
        break;
      }
      if (!(peek() >= '0' && peek() <= '9'))
        error("a non-negative integer dimension in 'shape'");
      size_t at = pos_;
      int64_t d = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (__builtin_mul_overflow(d, 10, &d) || __builtin_add_overflow(d, peek() - '0', &d))
          error("a dimension that fits in int64", at);
        ++pos_;
      }
      if (peek() == 'L') // Python 2 era long literal
        ++pos_;
      shape.push_back(d);
      skipSpace();
      trailingComma = false;
      if (peek() == ',') {
        ++pos_;
        trailingComma = true;
        continue;
      }
      if (peek() == ')') {
        ++pos_;
        break;
      }
      error("',' or ')' in 'shape'");
    }
    // (5) is the integer 5 in Python, not a tuple.
    if (shape.size() == 1 && !trailingComma)
      error("a 1-tuple written with a trailing comma, e.g. (5,)", pos_ - 1);
  }

  std::string_view bytes_;
  size_t pos_;
  size_t end_;
  const std::string &source_;
};

HostTensor parseNpyOrThrow(std::string_view bytes, const std::string &source) {
  auto at = [&](size_t off) { return source + ": byte " + std::to_string(off) + ": "; };
  if (bytes.size() < kMagicLen || std::memcmp(bytes.data(), kMagic, kMagicLen) != 0)
    fail(at(0) + "expected the NumPy magic \"\\x93NUMPY\" (not a .npy file)");
  if (bytes.size() < 8)
    fail(at(bytes.size()) + "expected the format version, found end of file");
  unsigned major = static_cast<unsigned char>(bytes[6]);
  unsigned minor = static_cast<unsigned char>(bytes[7]);
  if ((major != 1 && major != 2) || minor != 0)
    fail(at(6) + "expected format version 1.0 or 2.0, found " + std::to_string(major) + "." +
         std::to_string(minor));
  size_t lenSize = major == 1 ? 2 : 4;
  if (bytes.size() < 8 + lenSize)
    fail(at(bytes.size()) + "expected the header length field, found end of file");
  uint64_t headerLen = readLE(bytes, 8, lenSize);
  size_t headerStart = 8 + lenSize;
  if (headerLen > bytes.size() - headerStart)
    fail(at(8) + "header length " + std::to_string(headerLen) + " runs past the end of the file (header would end at byte " +
         std::to_string(headerStart + headerLen) + ", file has " + std::to_string(bytes.size()) +
         " bytes)");
  size_t headerEnd = headerStart + static_cast<size_t>(headerLen);
  if (headerLen == 0 || bytes[headerEnd - 1] != '\n')
    fail(at(headerEnd == headerStart ? headerStart : headerEnd - 1) +
         "expected the header to end with a newline");

  HeaderParser header(bytes, headerStart, headerEnd - 1, source);
  header.parse();
  std::optional<DType> dtype = dtypeFromNpyDescr(header.descr);
  if (!dtype)
    fail(at(header.descrAt) + "expected a supported dtype ('<f4', '<f8', '<i8', '<i4', '|u1'), found '" +
         header.descr + "'");
  auto numel = checkedNumel(header.shape, dtypeSize(*dtype));
  if (!numel)
    fail(at(headerStart) + "expected a shape whose byte size fits in int64, found " +
         shapeToString(header.shape));
  uint64_t need = static_cast<uint64_t>(*numel) * dtypeSize(*dtype);
  uint64_t have = bytes.size() - headerEnd;
  std::string what = "shape " + shapeToString(header.shape) + " '" + header.descr + "' needs " +
                     std::to_string(need) + " data bytes from byte " + std::to_string(headerEnd);
  if (have < need)
    fail(at(bytes.size()) + "unexpected end of file: " + what + ", file has " + std::to_string(have));
  if (have > need)
    fail(at(headerEnd + need) + "expected end of file: " + what + ", file has " +
         std::to_string(have - need) + " extra bytes");

  HostTensor t;
  t.dtype = *dtype;
  t.shape = header.shape;
  t.data = AlignedBuffer(static_cast<size_t>(need));
  if (need)
    std::memcpy(t.data.data(), bytes.data() + headerEnd, static_cast<size_t>(need));
  return t;
}

// Magic, version, length and padded header dict: everything before the data.
std::string npyHeaderOrThrow(const HostTensor &t) {
  if (!t.consistent())
    fail("cannot write .npy: tensor " + t.typeString() + " holds " + std::to_string(t.nbytes()) +
         " bytes, expected numel * itemsize");
  // Same text NumPy writes, so files are byte-identical to np.save's.
  std::string dict = std::string("{'descr': '") + dtypeNpyDescr(t.dtype) +
                     "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < t.shape.size(); ++i) {
    if (i)
      dict += ", ";
    dict += std::to_string(t.shape[i]);
  }
  if (t.shape.size() == 1)
    dict += ",";
  dict += "), }";
  size_t prefix = 10;
  size_t total = prefix + dict.size() + 1;
  unsigned major = 1;
  if ((total + 63) / 64 * 64 - prefix > 65535) {
    major = 2;
    prefix = 12;
    total = prefix + dict.size() + 1;
  }
  size_t padded = (total + 63) / 64 * 64;
  size_t headerLen = padded - prefix;
  std::string out(kMagic, kMagicLen);
  out += static_cast<char>(major);
  out += '\0';
  for (size_t i = 0; i < prefix - 8; ++i)
    out += static_cast<char>((headerLen >> (8 * i)) & 0xFF);
  out += dict;
  out.append(padded - total, ' ');
  out += '\n';
  return out;
}

} // namespace

Expected<HostTensor> parseNpy(std::string_view bytes, const std::string &source) {
  return detail::guard<HostTensor>([&] { return parseNpyOrThrow(bytes, source); });
}

Expected<HostTensor> readNpy(const std::string &path) {
  return detail::guard<HostTensor>([&] { return parseNpyOrThrow(detail::readWholeFile(path), path); });
}

Expected<std::string> encodeNpy(const HostTensor &tensor) {
  return detail::guard<std::string>([&] {
    std::string out = npyHeaderOrThrow(tensor);
    out.append(reinterpret_cast<const char *>(tensor.data.data()), tensor.nbytes());
    return out;
  });
}

Status writeNpy(const std::string &path, const HostTensor &tensor) {
  return detail::guardStatus([&] {
    std::string header;
    try {
      header = npyHeaderOrThrow(tensor);
    } catch (const detail::Failure &f) {
      fail(path + ": " + f.what());
    }
    detail::writeFileAtomic(path, {{header.data(), header.size()}, {tensor.data.data(), tensor.nbytes()}});
  });
}

} // namespace pce::rt
