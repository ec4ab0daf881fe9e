//===- Json.h - Small strict JSON parser and writer -----------------------===//
//
// Used for manifest.json and safetensors headers. Strict RFC 8259: no comments,
// no trailing commas, no NaN/Infinity, strings must be valid UTF-8, duplicate
// object keys are rejected (a manifest or weights header with two entries of
// the same name is always a mistake). Nesting is limited to kMaxJsonDepth so a
// hostile file cannot overflow the stack. Every parsed value remembers the
// byte offset where it starts, so later validation can point into the file.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_JSON_H
#define PCE_RUNTIME_JSON_H

#include "runtime/Status.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pce::rt {

constexpr int kMaxJsonDepth = 256;

class JsonValue {
public:
  enum class Kind { Null, Bool, Int, Double, String, Array, Object };
  using Array = std::vector<JsonValue>;
  // Members in source (or insertion) order; keys are unique.
  using Object = std::vector<std::pair<std::string, JsonValue>>;

  JsonValue() = default; // null
  static JsonValue boolean(bool b);
  static JsonValue integer(int64_t i);
  static JsonValue number(double d);
  static JsonValue string(std::string s);
  static JsonValue array(Array items = {});
  static JsonValue integers(const std::vector<int64_t> &values); // an array of them
  static JsonValue object(Object members = {});

  Kind kind() const { return kind_; }
  // Byte offset of the value's first character in the parsed text (0 for
  // values built in code).
  size_t offset() const { return offset_; }
  void setOffset(size_t offset) { offset_ = offset; }

  bool isNull() const { return kind_ == Kind::Null; }
  bool isBool() const { return kind_ == Kind::Bool; }
  bool isInt() const { return kind_ == Kind::Int; }
  bool isNumber() const { return kind_ == Kind::Int || kind_ == Kind::Double; }
  bool isString() const { return kind_ == Kind::String; }
  bool isArray() const { return kind_ == Kind::Array; }
  bool isObject() const { return kind_ == Kind::Object; }

  // Typed access; nullptr / false when the kind differs (never throws).
  bool boolValue() const { return kind_ == Kind::Bool && bool_; }
  int64_t intValue() const { return kind_ == Kind::Int ? int_ : 0; }
  double numberValue() const;
  const std::string *getString() const { return isString() ? &string_ : nullptr; }
  const Array *getArray() const { return isArray() ? &array_ : nullptr; }
  const Object *getObject() const { return isObject() ? &object_ : nullptr; }
  Array *getArray() { return isArray() ? &array_ : nullptr; }
  Object *getObject() { return isObject() ? &object_ : nullptr; }

  // Object member lookup; nullptr if not an object or the key is absent.
  const JsonValue *find(std::string_view key) const;
  // Builders (no-ops unless this is an array / object respectively).
  void push(JsonValue item);
  void set(std::string key, JsonValue value); // replaces an existing key

private:
  Kind kind_ = Kind::Null;
  size_t offset_ = 0;
  bool bool_ = false;
  int64_t int_ = 0;
  double double_ = 0;
  std::string string_;
  Array array_;
  Object object_;
};

const char *jsonKindName(JsonValue::Kind kind);

// Parses a whole document (surrounding whitespace allowed, nothing else).
// Errors read "SOURCE: byte N: expected X, found Y" where N = baseOffset +
// offset in text, so a caller parsing a slice of a file reports file offsets.
// With an empty source the "SOURCE: " prefix is omitted.
Expected<JsonValue> parseJson(std::string_view text, const std::string &source = "",
                              size_t baseOffset = 0);

// JSON Lines (e.g. pce-train's log.jsonl): one value per non-empty line; an
// error names the path and line ("PATH: line N: byte M: expected ...").
Expected<std::vector<JsonValue>> readJsonLines(const std::string &path);

// Compact (indent < 0) or pretty (indent spaces per level) text. Doubles are
// written in shortest round-trip form; NaN/Inf (not representable) as null.
std::string writeJson(const JsonValue &value, int indent = -1);
// A JSON string literal (with quotes) for s.
std::string jsonQuote(std::string_view s);

} // namespace pce::rt

#endif // PCE_RUNTIME_JSON_H
