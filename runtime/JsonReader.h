//===- JsonReader.h - typed access to a JSON document with messages -------===//
//
// The checks every PCE file format read from JSON shares (training.json,
// checkpoint.json): a member of the right JSON type, or an error naming the
// file, the byte offset and the key path, e.g. `compiled/training.json: byte
// 412: training.optimizer.lr: expected a number, found a string`. Errors throw
// detail::Failure; the format's parse function converts them to a Status at
// its boundary (runtime/Failure.h).
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_JSONREADER_H
#define PCE_RUNTIME_JSONREADER_H

#include "runtime/Failure.h"
#include "runtime/FileIO.h"
#include "runtime/Json.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pce::rt {

class JsonReader {
public:
  explicit JsonReader(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const JsonValue &v, const std::string &path, const std::string &what) const {
    detail::fail(source_ + ": byte " + std::to_string(v.offset()) + ": " + path + ": " + what);
  }
  const JsonValue &object(const JsonValue &v, const std::string &path) const {
    if (!v.isObject())
      fail(v, path, std::string("expected an object, found ") + jsonKindName(v.kind()));
    return v;
  }
  const JsonValue &member(const JsonValue &obj, const std::string &path, const char *key) const {
    const JsonValue *m = object(obj, path).find(key);
    if (!m)
      fail(obj, path, std::string("missing key '") + key + "'");
    return *m;
  }
  // Fails on a member of `obj` not in `keys` (a typo, or a newer format).
  void onlyKeys(const JsonValue &obj, const std::string &path, const std::vector<std::string> &keys) const {
    for (const auto &[key, value] : *object(obj, path).getObject()) {
      bool known = false;
      for (const std::string &k : keys)
        known = known || k == key;
      if (!known)
        fail(value, sub(path, key), "unknown key");
    }
  }
  std::string sub(const std::string &path, const std::string &key) const {
    return path.empty() ? key : path + "." + key;
  }
  int64_t integer(const JsonValue &obj, const std::string &path, const char *key) const {
    const JsonValue &v = member(obj, path, key);
    if (!v.isInt())
      fail(v, sub(path, key), std::string("expected an integer, found ") + jsonKindName(v.kind()));
    return v.intValue();
  }
  double number(const JsonValue &obj, const std::string &path, const char *key) const {
    const JsonValue &v = member(obj, path, key);
    if (!v.isNumber())
      fail(v, sub(path, key), std::string("expected a number, found ") + jsonKindName(v.kind()));
    return v.numberValue();
  }
  bool boolean(const JsonValue &obj, const std::string &path, const char *key) const {
    const JsonValue &v = member(obj, path, key);
    if (!v.isBool())
      fail(v, sub(path, key), std::string("expected true or false, found ") + jsonKindName(v.kind()));
    return v.boolValue();
  }
  std::string string(const JsonValue &obj, const std::string &path, const char *key) const {
    const JsonValue &v = member(obj, path, key);
    if (!v.isString())
      fail(v, sub(path, key), std::string("expected a string, found ") + jsonKindName(v.kind()));
    return *v.getString();
  }
  std::vector<int64_t> ints(const JsonValue &obj, const std::string &path, const char *key) const {
    const JsonValue &v = member(obj, path, key);
    if (!v.isArray())
      fail(v, sub(path, key), std::string("expected an array of integers, found ") + jsonKindName(v.kind()));
    std::vector<int64_t> out;
    for (const JsonValue &item : *v.getArray()) {
      if (!item.isInt())
        fail(item, sub(path, key), "expected an array of integers");
      out.push_back(item.intValue());
    }
    return out;
  }

private:
  std::string source_;
};


// A JSON document's text turned into T by read(doc, source) (which throws
// through JsonReader); a syntax error or a failed check is the error value.
template <typename T, typename Read>
Expected<T> parseJsonDocument(std::string_view text, const std::string &source, Read read) {
  return detail::guard<T>([&] {
    auto doc = parseJson(text, source);
    if (!doc)
      detail::fail(doc.error());
    return read(*doc, source);
  });
}

// The same for the file at `path` (named in every message).
template <typename T, typename Read> Expected<T> readJsonDocument(const std::string &path, Read read) {
  std::string text;
  if (Status s = detail::guardStatus([&] { text = detail::readWholeFile(path); }); !s)
    return s;
  return parseJsonDocument<T>(text, path, read);
}

} // namespace pce::rt

#endif // PCE_RUNTIME_JSONREADER_H
