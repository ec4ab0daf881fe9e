//===- TextFields.h - line-oriented annotation files, with positions ------===//
//
// The small text files data sets ship (split lists, label maps, box lists)
// are read as lines of fields; every field keeps its 1-based line and
// column so a message can point at it: "path:12:17: expected an integer".
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_DATASETS_TEXTFIELDS_H
#define PCE_RUNTIME_DATASETS_TEXTFIELDS_H

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pce::rt {

struct TextField {
  std::string_view text;
  int64_t line = 0, column = 0;
};

// The non-blank lines of `text` as fields. With `tabs`, fields are separated
// by single tab characters (so names may hold spaces: words.txt); otherwise
// by runs of blanks. A trailing '\r' (CRLF files) is dropped.
std::vector<std::vector<TextField>> splitFields(std::string_view text, bool tabs);

// "path:line:column: message"
std::string positionError(const std::string &path, const TextField &field, const std::string &message);

// The field as a base-10 integer (optional sign, nothing else), if it is one.
std::optional<int64_t> parseInteger(std::string_view text);

} // namespace pce::rt

#endif // PCE_RUNTIME_DATASETS_TEXTFIELDS_H
