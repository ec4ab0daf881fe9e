//===- TextFields.cpp - line-oriented annotation files --------------------===//

#include "runtime/datasets/TextFields.h"

#include <charconv>

namespace pce::rt {

std::vector<std::vector<TextField>> splitFields(std::string_view text, bool tabs) {
  std::vector<std::vector<TextField>> lines;
  int64_t lineNo = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos)
      end = text.size();
    ++lineNo;
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    std::vector<TextField> fields;
    auto blank = [&](char c) { return tabs ? c == '\t' : (c == ' ' || c == '\t'); };
    size_t i = 0;
    if (tabs) {
      if (line.find_first_not_of(" \t") != std::string_view::npos)
        while (true) {
          size_t j = line.find('\t', i);
          if (j == std::string_view::npos)
            j = line.size();
          fields.push_back({line.substr(i, j - i), lineNo, int64_t(i) + 1});
          if (j == line.size())
            break;
          i = j + 1;
        }
    } else {
      while (i < line.size()) {
        while (i < line.size() && blank(line[i]))
          ++i;
        size_t j = i;
        while (j < line.size() && !blank(line[j]))
          ++j;
        if (j > i)
          fields.push_back({line.substr(i, j - i), lineNo, int64_t(i) + 1});
        i = j;
      }
    }
    if (!fields.empty())
      lines.push_back(std::move(fields));
    start = end + 1;
  }
  return lines;
}

std::string positionError(const std::string &path, const TextField &field, const std::string &message) {
  return path + ":" + std::to_string(field.line) + ":" + std::to_string(field.column) + ": " + message;
}

std::optional<int64_t> parseInteger(std::string_view text) {
  if (!text.empty() && text.front() == '+')
    text.remove_prefix(1);
  int64_t value = 0;
  const char *end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end)
    return std::nullopt;
  return value;
}

} // namespace pce::rt
