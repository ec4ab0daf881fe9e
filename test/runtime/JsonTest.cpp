//===- JsonTest.cpp - The strict JSON parser and writer -------------------===//

#include "runtime/Json.h"

#include "TestSupport.h"

#include <cstdint>
#include <limits>

using namespace pce::rt;
using pce::rt::test::TempDir;
using pce::rt::test::writeBytes;

namespace {

// The error message of parsing text, or "" if it parsed.
std::string errorOf(std::string_view text) {
  auto v = parseJson(text, "doc.json");
  return v ? "" : v.error();
}

TEST(Json, ParsesAllKindsWithOffsets) {
  auto v = parseJson(R"( {"a": [1, -2.5e3, true, false, null], "b": {"c": "d"}} )");
  ASSERT_TRUE(v) << v.error();
  ASSERT_TRUE(v->isObject());
  EXPECT_EQ(v->offset(), 1u);
  const JsonValue *a = v->find("a");
  ASSERT_TRUE(a && a->isArray());
  const auto &items = *a->getArray();
  ASSERT_EQ(items.size(), 5u);
  EXPECT_TRUE(items[0].isInt());
  EXPECT_EQ(items[0].intValue(), 1);
  EXPECT_EQ(items[0].offset(), 8u);
  EXPECT_EQ(items[1].kind(), JsonValue::Kind::Double);
  EXPECT_DOUBLE_EQ(items[1].numberValue(), -2500.0);
  EXPECT_TRUE(items[2].isBool() && items[2].boolValue());
  EXPECT_TRUE(items[3].isBool() && !items[3].boolValue());
  EXPECT_TRUE(items[4].isNull());
  ASSERT_TRUE(v->find("b") && v->find("b")->find("c"));
  EXPECT_EQ(*v->find("b")->find("c")->getString(), "d");
  EXPECT_EQ(v->find("zzz"), nullptr);
}

TEST(Json, Int64Extremes) {
  auto v = parseJson("[9223372036854775807, -9223372036854775808, 9223372036854775808]");
  ASSERT_TRUE(v) << v.error();
  const auto &a = *v->getArray();
  EXPECT_EQ(a[0].intValue(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(a[1].intValue(), std::numeric_limits<int64_t>::min());
  // Beyond int64: kept as a double, not silently wrapped.
  EXPECT_EQ(a[2].kind(), JsonValue::Kind::Double);
}

TEST(Json, StringEscapesAndUnicode) {
  auto v = parseJson(R"(["a\"b\\c\/d\b\f\n\r\t", "\u00e9\u20ac", "\ud83d\ude00", "é"])");
  ASSERT_TRUE(v) << v.error();
  const auto &a = *v->getArray();
  EXPECT_EQ(*a[0].getString(), "a\"b\\c/d\b\f\n\r\t");
  EXPECT_EQ(*a[1].getString(), "\xc3\xa9\xe2\x82\xac");
  EXPECT_EQ(*a[2].getString(), "\xf0\x9f\x98\x80");
  EXPECT_EQ(*a[3].getString(), "\xc3\xa9");
}

TEST(Json, ErrorsCarrySourceAndByteOffset) {
  struct Case {
    const char *text;
    const char *part; // expected substring of the message
  };
  const Case cases[] = {
      {"", "doc.json: byte 0: expected a JSON value, found end of input"},
      {"[1, 2,]", "byte 6: expected a JSON value, found ']'"},
      {"{\"a\": 1,}", "byte 8: expected a string key"},
      {"{\"a\" 1}", "byte 5: expected ':'"},
      {"[1 2]", "byte 3: expected ',' or ']'"},
      {"\"abc", "byte 4: expected '\"' to close the string"},
      {"\"a\\qb\"", "byte 3: expected a valid escape"},
      {"\"a\nb\"", "byte 2: expected no raw control characters"},
      {"01", "byte 1: expected end of document"},
      {"-", "byte 1: expected a digit"},
      {"1.", "byte 2: expected a digit after '.'"},
      {"1e+", "byte 3: expected a digit in the exponent"},
      {"tru", "byte 0: expected a JSON value"},
      {"NaN", "byte 0: expected a JSON value"},
      {"{\"k\": 1, \"k\": 2}", "byte 9: expected unique object keys (duplicate key \"k\")"},
      {"\"\\ud800x\"", "byte 7: expected a low surrogate"},
      {"\"\\udc00\"", "byte 1: expected no unpaired low surrogate"},
      {"\"\xff\"", "byte 1: expected valid UTF-8"},
      {"\"\xc0\xaf\"", "byte 1: expected valid UTF-8"}, // overlong '/'
      {"[] x", "byte 3: expected end of document, found 'x'"},
      {"1e999", "byte 0: expected a number within double range"},
  };
  for (const Case &c : cases)
    EXPECT_CONTAINS(errorOf(c.text), c.part);
}

TEST(Json, BaseOffsetShiftsReportedBytes) {
  auto v = parseJson("{]", "f.safetensors", 8);
  ASSERT_FALSE(v);
  EXPECT_CONTAINS(v.error(), "f.safetensors: byte 9:");
}

TEST(Json, DepthLimit) {
  std::string ok(kMaxJsonDepth, '['), okClose(kMaxJsonDepth, ']');
  EXPECT_TRUE(parseJson(ok + okClose));
  std::string deep(kMaxJsonDepth + 1, '['), deepClose(kMaxJsonDepth + 1, ']');
  auto v = parseJson(deep + deepClose);
  ASSERT_FALSE(v);
  EXPECT_CONTAINS(v.error(), "byte 256: expected nesting depth at most 256");
  // Far deeper input must not overflow the stack either.
  EXPECT_FALSE(parseJson(std::string(1000000, '[')));
}

TEST(Json, WriterRoundTrips) {
  JsonValue obj = JsonValue::object();
  obj.set("name", JsonValue::string("quote\" backslash\\ newline\n ctl\x01 é"));
  obj.set("int", JsonValue::integer(std::numeric_limits<int64_t>::min()));
  obj.set("dbl", JsonValue::number(0.1));
  obj.set("whole", JsonValue::number(3.0));
  JsonValue arr = JsonValue::array();
  arr.push(JsonValue::boolean(true));
  arr.push(JsonValue());
  arr.push(JsonValue::array());
  arr.push(JsonValue::object());
  obj.set("arr", std::move(arr));
  obj.set("int", JsonValue::integer(42)); // replaces, keeps position
  for (int indent : {-1, 2}) {
    std::string text = writeJson(obj, indent);
    auto back = parseJson(text);
    ASSERT_TRUE(back) << back.error() << "\n" << text;
    EXPECT_EQ(writeJson(*back, indent), text);
    EXPECT_EQ(*back->find("name")->getString(), *obj.find("name")->getString());
    EXPECT_EQ(back->find("int")->intValue(), 42);
    EXPECT_EQ(back->find("dbl")->numberValue(), 0.1);
    EXPECT_EQ(back->find("whole")->kind(), JsonValue::Kind::Double);
    EXPECT_EQ(back->getObject()->at(1).first, "int");
  }
  EXPECT_EQ(writeJson(obj), "{\"name\":\"quote\\\" backslash\\\\ newline\\n ctl\\u0001 é\",\"int\":42,"
                            "\"dbl\":0.1,\"whole\":3.0,\"arr\":[true,null,[],{}]}");
}

} // namespace

TEST(Json, ReadsJsonLinesAndNamesTheBadLine) {
  TempDir dir;
  writeBytes(dir.file("log.jsonl"), "{\"epoch\": 1}\n\n{\"epoch\": 2, \"x\": [1, 2]}\n");
  auto lines = readJsonLines(dir.file("log.jsonl"));
  ASSERT_TRUE(lines) << lines.error();
  ASSERT_EQ(lines->size(), 2u);
  EXPECT_EQ((*lines)[1].find("epoch")->intValue(), 2);
  writeBytes(dir.file("bad.jsonl"), "{\"epoch\": 1}\n{\"epoch\": }\n");
  auto bad = readJsonLines(dir.file("bad.jsonl"));
  ASSERT_FALSE(bad);
  EXPECT_CONTAINS(bad.error(), "bad.jsonl: line 2: byte 10:");
  EXPECT_CONTAINS(readJsonLines(dir.file("missing.jsonl")).error(), "missing.jsonl: cannot open");
}
