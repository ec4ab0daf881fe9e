//===- Json.cpp - Small strict JSON parser and writer ---------------------===//

#include "runtime/Json.h"

#include "runtime/Failure.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <unordered_set>

namespace pce::rt {

using detail::fail;

JsonValue JsonValue::boolean(bool b) {
  JsonValue v;
  v.kind_ = Kind::Bool;
  v.bool_ = b;
  return v;
}
JsonValue JsonValue::integer(int64_t i) {
  JsonValue v;
  v.kind_ = Kind::Int;
  v.int_ = i;
  return v;
}
JsonValue JsonValue::number(double d) {
  JsonValue v;
  v.kind_ = Kind::Double;
  v.double_ = d;
  return v;
}
JsonValue JsonValue::string(std::string s) {
  JsonValue v;
  v.kind_ = Kind::String;
  v.string_ = std::move(s);
  return v;
}
JsonValue JsonValue::array(Array items) {
  JsonValue v;
  v.kind_ = Kind::Array;
  v.array_ = std::move(items);
  return v;
}
JsonValue JsonValue::integers(const std::vector<int64_t> &values) {
  JsonValue a = array();
  for (int64_t v : values)
    a.array_.push_back(integer(v));
  return a;
}

JsonValue JsonValue::object(Object members) {
  JsonValue v;
  v.kind_ = Kind::Object;
  v.object_ = std::move(members);
  return v;
}

double JsonValue::numberValue() const {
  if (kind_ == Kind::Int)
    return static_cast<double>(int_);
  if (kind_ == Kind::Double)
    return double_;
  return 0;
}

const JsonValue *JsonValue::find(std::string_view key) const {
  if (!isObject())
    return nullptr;
  for (const auto &[k, v] : object_)
    if (k == key)
      return &v;
  return nullptr;
}

void JsonValue::push(JsonValue item) {
  if (isArray())
    array_.push_back(std::move(item));
}

void JsonValue::set(std::string key, JsonValue value) {
  if (!isObject())
    return;
  for (auto &[k, v] : object_)
    if (k == key) {
      v = std::move(value);
      return;
    }
  object_.emplace_back(std::move(key), std::move(value));
}

const char *jsonKindName(JsonValue::Kind kind) {
  switch (kind) {
  case JsonValue::Kind::Null: return "null";
  case JsonValue::Kind::Bool: return "a boolean";
  case JsonValue::Kind::Int: return "an integer";
  case JsonValue::Kind::Double: return "a number";
  case JsonValue::Kind::String: return "a string";
  case JsonValue::Kind::Array: return "an array";
  case JsonValue::Kind::Object: return "an object";
  }
  return "?";
}

namespace {

// Recursive-descent parser over a string_view; throws Failure with the
// absolute byte offset of the problem.
class Parser {
public:
  Parser(std::string_view text, const std::string &source, size_t base)
      : text_(text), source_(source), base_(base) {}

  JsonValue parseDocument() {
    skipSpace();
    JsonValue v = parseValue(0);
    skipSpace();
    if (pos_ != text_.size())
      error("expected end of document");
    return v;
  }

private:
  [[noreturn]] void error(const std::string &expected, size_t at) {
    std::string msg;
    if (!source_.empty())
      msg += source_ + ": ";
    msg += "byte " + std::to_string(base_ + at) + ": " + expected + ", found ";
    if (at >= text_.size()) {
      msg += "end of input";
    } else {
      unsigned char c = static_cast<unsigned char>(text_[at]);
      if (c >= 0x20 && c < 0x7f) {
        msg += "'";
        msg += static_cast<char>(c);
        msg += "'";
      } else {
        char buf[16];
        std::snprintf(buf, sizeof buf, "byte 0x%02x", c);
        msg += buf;
      }
    }
    fail(msg);
  }
  [[noreturn]] void error(const std::string &expected) { error(expected, pos_); }

  bool atEnd() const { return pos_ >= text_.size(); }
  char peek() const { return atEnd() ? '\0' : text_[pos_]; }

  void skipSpace() {
    while (!atEnd()) {
      char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
        ++pos_;
      else
        break;
    }
  }

  void expectLiteral(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word)
      error("expected a JSON value");
    pos_ += word.size();
  }

  JsonValue parseValue(int depth) {
    size_t start = pos_;
    JsonValue v;
    switch (peek()) {
    case '{': v = parseObject(depth); break;
    case '[': v = parseArray(depth); break;
    case '"': v = JsonValue::string(parseString()); break;
    case 't': expectLiteral("true"); v = JsonValue::boolean(true); break;
    case 'f': expectLiteral("false"); v = JsonValue::boolean(false); break;
    case 'n': expectLiteral("null"); break;
    default:
      if (peek() == '-' || (peek() >= '0' && peek() <= '9'))
        v = parseNumber();
      else
        error("expected a JSON value");
    }
    v.setOffset(base_ + start);
    return v;
  }

  void enter(int depth) {
    if (depth + 1 > kMaxJsonDepth)
      error("expected nesting depth at most " + std::to_string(kMaxJsonDepth));
  }

  JsonValue parseObject(int depth) {
    enter(depth);
    ++pos_; // '{'
    JsonValue obj = JsonValue::object();
    JsonValue::Object &members = *obj.getObject();
    std::unordered_set<std::string> seen;
    skipSpace();
    if (peek() == '}') {
      ++pos_;
      return obj;
    }
    while (true) {
      skipSpace();
      if (peek() != '"')
        error("expected a string key");
      size_t keyPos = pos_;
      std::string key = parseString();
      if (!seen.insert(key).second)
        error("expected unique object keys (duplicate key " + jsonQuote(key) + ")", keyPos);
      skipSpace();
      if (peek() != ':')
        error("expected ':' after object key");
      ++pos_;
      skipSpace();
      JsonValue value = parseValue(depth + 1);
      members.emplace_back(std::move(key), std::move(value));
      skipSpace();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        return obj;
      }
      error("expected ',' or '}' in object");
    }
  }

  JsonValue parseArray(int depth) {
    enter(depth);
    ++pos_; // '['
    JsonValue arr = JsonValue::array();
    skipSpace();
    if (peek() == ']') {
      ++pos_;
      return arr;
    }
    while (true) {
      skipSpace();
      arr.getArray()->push_back(parseValue(depth + 1));
      skipSpace();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return arr;
      }
      error("expected ',' or ']' in array");
    }
  }

  static void appendUtf8(std::string &out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  uint32_t parseHex4() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = peek();
      uint32_t d;
      if (c >= '0' && c <= '9')
        d = c - '0';
      else if (c >= 'a' && c <= 'f')
        d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        d = c - 'A' + 10;
      else
        error("expected 4 hex digits after \\u");
      v = v * 16 + d;
      ++pos_;
    }
    return v;
  }

  // Consumes one UTF-8 encoded code point starting at pos_, appending it.
  void copyUtf8(std::string &out) {
    size_t start = pos_;
    unsigned char c = static_cast<unsigned char>(text_[pos_]);
    int extra;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) {
      extra = 1; cp = c & 0x1F; min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2; cp = c & 0x0F; min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3; cp = c & 0x07; min = 0x10000;
    } else {
      error("expected valid UTF-8 in string");
    }
    ++pos_;
    for (int i = 0; i < extra; ++i) {
      unsigned char cc = static_cast<unsigned char>(peek());
      if (atEnd() || (cc & 0xC0) != 0x80)
        error("expected valid UTF-8 in string", start);
      cp = (cp << 6) | (cc & 0x3F);
      ++pos_;
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      error("expected valid UTF-8 in string", start);
    out.append(text_.data() + start, pos_ - start);
  }

  std::string parseString() {
    ++pos_; // '"'
    std::string out;
    while (true) {
      if (atEnd())
        error("expected '\"' to close the string");
      unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20)
        error("expected no raw control characters in string (escape them)");
      if (c >= 0x80) {
        copyUtf8(out);
        continue;
      }
      if (c != '\\') {
        out += static_cast<char>(c);
        ++pos_;
        continue;
      }
      size_t escPos = pos_;
      ++pos_;
      char e = peek();
      ++pos_;
      switch (e) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        uint32_t cp = parseHex4();
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (text_.substr(pos_, 2) != "\\u")
            error("expected a low surrogate \\uDC00-\\uDFFF after a high surrogate");
          pos_ += 2;
          uint32_t lo = parseHex4();
          if (lo < 0xDC00 || lo > 0xDFFF)
            error("expected a low surrogate \\uDC00-\\uDFFF after a high surrogate", pos_ - 6);
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          error("expected no unpaired low surrogate", escPos);
        }
        appendUtf8(out, cp);
        break;
      }
      default:
        error("expected a valid escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)", escPos + 1);
      }
    }
  }

  JsonValue parseNumber() {
    size_t start = pos_;
    bool integral = true;
    if (peek() == '-')
      ++pos_;
    if (peek() == '0') {
      ++pos_;
    } else if (peek() >= '1' && peek() <= '9') {
      while (peek() >= '0' && peek() <= '9')
        ++pos_;
    } else {
      error("expected a digit");
    }
    if (peek() == '.') {
      integral = false;
      ++pos_;
      if (!(peek() >= '0' && peek() <= '9'))
        error("expected a digit after '.'");
      while (peek() >= '0' && peek() <= '9')
        ++pos_;
    }
    if (peek() == 'e' || peek() == 'E') {
      integral = false;
      ++pos_;
      if (peek() == '+' || peek() == '-')
        ++pos_;
      if (!(peek() >= '0' && peek() <= '9'))
        error("expected a digit in the exponent");
      while (peek() >= '0' && peek() <= '9')
        ++pos_;
    }
    const char *first = text_.data() + start;
    const char *last = text_.data() + pos_;
    if (integral) {
      int64_t i = 0;
      auto [ptr, ec] = std::from_chars(first, last, i);
      if (ec == std::errc() && ptr == last)
        return JsonValue::integer(i);
      // Out of int64 range: keep it as a double, callers wanting an integer
      // will report "expected an integer".
    }
    double d = 0;
    auto [ptr, ec] = std::from_chars(first, last, d);
    if (ptr != last)
      error("expected a number", start);
    if (ec == std::errc::result_out_of_range) {
      // from_chars leaves d untouched: tell underflow (-> 0) from overflow.
      std::string_view num(first, static_cast<size_t>(last - first));
      size_t e = num.find_first_of("eE");
      bool negExp = e != std::string_view::npos && e + 1 < num.size() && num[e + 1] == '-';
      bool zeroInt = e == std::string_view::npos &&
                     (num.substr(0, 2) == "0." || num.substr(0, 3) == "-0.");
      if (!negExp && !zeroInt)
        error("expected a number within double range", start);
      d = num[0] == '-' ? -0.0 : 0.0;
    } else if (ec != std::errc() || !std::isfinite(d)) {
      error("expected a number", start);
    }
    return JsonValue::number(d);
  }

  std::string_view text_;
  const std::string &source_;
  size_t base_;
  size_t pos_ = 0;
};

void writeValue(std::string &out, const JsonValue &v, int indent, int level) {
  auto newline = [&](int lvl) {
    if (indent < 0)
      return;
    out += '\n';
    out.append(static_cast<size_t>(indent) * lvl, ' ');
  };
  switch (v.kind()) {
  case JsonValue::Kind::Null: out += "null"; return;
  case JsonValue::Kind::Bool: out += v.boolValue() ? "true" : "false"; return;
  case JsonValue::Kind::Int: out += std::to_string(v.intValue()); return;
  case JsonValue::Kind::Double: {
    double d = v.numberValue();
    if (!std::isfinite(d)) {
      out += "null";
      return;
    }
    char buf[64];
    auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, d);
    std::string s(buf, ec == std::errc() ? ptr : buf);
    // Keep it a JSON number that reads back as a double, not an integer.
    if (s.find_first_of(".eE") == std::string::npos)
      s += ".0";
    out += s;
    return;
  }
  case JsonValue::Kind::String: out += jsonQuote(*v.getString()); return;
  case JsonValue::Kind::Array: {
    const auto &items = *v.getArray();
    out += '[';
    for (size_t i = 0; i < items.size(); ++i) {
      if (i)
        out += ',';
      newline(level + 1);
      writeValue(out, items[i], indent, level + 1);
    }
    if (!items.empty())
      newline(level);
    out += ']';
    return;
  }
  case JsonValue::Kind::Object: {
    const auto &members = *v.getObject();
    out += '{';
    for (size_t i = 0; i < members.size(); ++i) {
      if (i)
        out += ',';
      newline(level + 1);
      out += jsonQuote(members[i].first);
      out += indent < 0 ? ":" : ": ";
      writeValue(out, members[i].second, indent, level + 1);
    }
    if (!members.empty())
      newline(level);
    out += '}';
    return;
  }
  }
}

} // namespace

Expected<JsonValue> parseJson(std::string_view text, const std::string &source, size_t baseOffset) {
  return detail::guard<JsonValue>([&] { return Parser(text, source, baseOffset).parseDocument(); });
}

std::string jsonQuote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\b': out += "\\b"; break;
    case '\f': out += "\\f"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    default:
      if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      } else {
        out += static_cast<char>(c);
      }
    }
  }
  out += '"';
  return out;
}

std::string writeJson(const JsonValue &value, int indent) {
  std::string out;
  writeValue(out, value, indent, 0);
  return out;
}

Expected<std::vector<JsonValue>> readJsonLines(const std::string &path) {
  std::ifstream in(path);
  if (!in)
    return Status::error(path + ": cannot open");
  std::vector<JsonValue> out;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.empty())
      continue;
    auto v = parseJson(line, path + ": line " + std::to_string(number));
    if (!v)
      return v.status();
    out.push_back(std::move(*v));
  }
  if (in.bad())
    return Status::error(path + ": read error");
  return out;
}

} // namespace pce::rt
