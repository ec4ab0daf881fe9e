//===- ModelOverride.cpp - replacing blocks of a model description --------===//

#include "ModelOverride.h"

#include <sstream>
#include <stdexcept>

namespace pce::study {
namespace {

size_t indentOf(const std::string &line) {
  size_t n = 0;
  while (n < line.size() && line[n] == ' ')
    ++n;
  return n;
}

// Blank and comment-only lines belong to no block.
bool isContent(const std::string &line) {
  size_t i = indentOf(line);
  return i < line.size() && line[i] != '#';
}

// The line of `key` at indentation `indent` in lines [begin, end).
size_t findKey(const std::vector<std::string> &lines, size_t begin, size_t end, size_t indent,
               const std::string &key) {
  for (size_t i = begin; i < end; ++i)
    if (isContent(lines[i]) && indentOf(lines[i]) == indent && lines[i].compare(indent, key.size() + 1, key + ":") == 0)
      return i;
  return end;
}

// One past the last line of the block that starts at `line`: the next
// content line indented no deeper than it.
size_t blockEnd(const std::vector<std::string> &lines, size_t line) {
  const size_t indent = indentOf(lines[line]);
  size_t end = line + 1, last = line + 1;
  for (; end < lines.size(); ++end) {
    if (!isContent(lines[end]))
      continue;
    if (indentOf(lines[end]) <= indent)
      break;
    last = end + 1;
  }
  return last;
}

} // namespace

std::string overrideKeys(const std::string &text, const std::vector<std::pair<std::string, std::string>> &sets) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  for (const auto &[path, value] : sets) {
    size_t begin = 0, end = lines.size(), indent = 0, at = end;
    std::string parent;
    std::istringstream keys(path);
    for (std::string key; std::getline(keys, key, '.');) {
      if (at != lines.size()) { // descend into the previous key's block
        begin = at + 1;
        end = blockEnd(lines, at);
        indent = begin < end ? indentOf(lines[begin]) : indent + 2;
        for (size_t i = begin; i < end; ++i)
          if (isContent(lines[i])) {
            indent = indentOf(lines[i]);
            break;
          }
      }
      at = findKey(lines, begin, end, indent, key);
      if (at == end)
        throw std::runtime_error("the model description has no '" + path + "' written in block style (" +
                                 (parent.empty() ? "a top-level key" : "a key of '" + parent + "' on its own line") +
                                 ")");
      parent += (parent.empty() ? "" : ".") + key;
    }
    const size_t last = blockEnd(lines, at);
    const std::string prefix(indentOf(lines[at]), ' ');
    const std::string key = path.substr(path.rfind('.') == std::string::npos ? 0 : path.rfind('.') + 1);
    std::vector<std::string> replacement;
    if (value.find('\n') == std::string::npos || value.find('\n') == value.size() - 1) {
      std::string v = value;
      if (!v.empty() && v.back() == '\n')
        v.pop_back();
      replacement.push_back(prefix + key + ": " + v);
    } else {
      replacement.push_back(prefix + key + ":");
      std::istringstream body(value);
      for (std::string line; std::getline(body, line);)
        replacement.push_back(line.empty() ? line : prefix + "  " + line);
    }
    lines.erase(lines.begin() + static_cast<long>(at), lines.begin() + static_cast<long>(last));
    lines.insert(lines.begin() + static_cast<long>(at), replacement.begin(), replacement.end());
  }
  std::string out;
  for (const std::string &line : lines)
    out += line + "\n";
  return out;
}

} // namespace pce::study
