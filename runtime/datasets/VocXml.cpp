//===- VocXml.cpp - Pascal VOC annotation files through libxml2 -----------===//
//
// libxml2 parses (no network, no DTD loading, no entity substitution, line
// numbers past 65535 kept) and reports syntax errors with line and column.
// For errors in the values, the element's line comes from libxml2 and its
// column is found in the text: the k-th start tag of that name on that line,
// k counted over the document's elements in order. Errors are thrown as
// detail::Failure inside and returned as a Status at the entry point.
//
//===----------------------------------------------------------------------===//

#include "runtime/datasets/Voc.h"

#include "runtime/Failure.h"
#include "runtime/datasets/ImageCodec.h"
#include "runtime/datasets/QuietXmlErrors.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>

namespace pce::rt {

using detail::fail;

namespace {

struct DocFree {
  void operator()(xmlDoc *doc) const { xmlFreeDoc(doc); }
};
struct ContextFree {
  void operator()(xmlParserCtxt *ctxt) const { xmlFreeParserCtxt(ctxt); }
};

bool isXmlSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && isXmlSpace(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && isXmlSpace(s.back()))
    s.remove_suffix(1);
  return s;
}

// Shown in messages: at most 40 bytes, so a fuzzed megabyte stays readable.
std::string shown(std::string_view s) {
  return s.size() <= 40 ? std::string(s) : std::string(s.substr(0, 40)) + "...";
}

const char *nameOf(const xmlNode *node) { return reinterpret_cast<const char *>(node->name); }
bool named(const xmlNode *node, const char *name) {
  return node->type == XML_ELEMENT_NODE && std::strcmp(nameOf(node), name) == 0;
}

// A plain decimal ("48", "48.0", ".5"): no sign, exponent, inf or nan.
std::optional<double> parseDecimal(std::string_view text) {
  bool digit = false;
  int dots = 0;
  for (char c : text) {
    if (c >= '0' && c <= '9')
      digit = true;
    else if (c == '.')
      ++dots;
    else
      return std::nullopt;
  }
  if (!digit || dots > 1)
    return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value))
    return std::nullopt;
  return value;
}

class Parser {
public:
  // The first fatal error (else the first error) libxml2 reports.
  struct FirstError {
    int level = XML_ERR_NONE;
    std::string message; // "line:column: XML syntax error: ..."
  };

  // libxml2's structured error callback (ctx is the parser context); called
  // from C, so it must not throw.
  static void recordFirstError(void *ctx, xmlErrorPtr err) noexcept {
    auto *ctxt = static_cast<xmlParserCtxt *>(ctx);
    auto *first = ctxt ? static_cast<FirstError *>(ctxt->_private) : nullptr;
    if (!first || !err || err->level < XML_ERR_ERROR || first->level >= err->level)
      return;
    try {
      std::string message = err->message ? err->message : "unknown error";
      while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
        message.pop_back();
      first->message = std::to_string(err->line) + ":" + std::to_string(err->int2) + ": XML syntax error: " + message;
      first->level = err->level;
    } catch (...) {
      first->level = err->level; // out of memory: the generic message below
    }
  }

  Parser(std::string_view xml, const std::string &source, const std::vector<std::string> &classes)
      : xml_(xml), source_(source), classes_(classes) {}

  VocAnnotation run() {
    static std::once_flag once;
    std::call_once(once, [] { xmlInitParser(); });
    if (xml_.size() > size_t(INT32_MAX))
      fail(source_ + ": file too large for an annotation (" + std::to_string(xml_.size()) + " bytes)");
    QuietXmlErrors quiet;
    std::unique_ptr<xmlParserCtxt, ContextFree> ctxt(xmlNewParserCtxt());
    if (!ctxt || !ctxt->sax)
      fail(source_ + ": libxml2 could not start");
    // libxml2 goes on after the first error and keeps only the last one; the
    // first is the one to report (a mismatched tag, not the end of data it
    // leads to).
    FirstError first;
    ctxt->_private = &first;
    ctxt->sax->serror = recordFirstError;
    const int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_BIG_LINES;
    std::unique_ptr<xmlDoc, DocFree> doc(
        xmlCtxtReadMemory(ctxt.get(), xml_.data(), int(xml_.size()), source_.c_str(), nullptr, options));
    if (!doc || !ctxt->wellFormed) {
      if (!first.message.empty())
        fail(source_ + ":" + first.message);
      fail(source_ + ": not well-formed XML");
    }
    root_ = xmlDocGetRootElement(doc.get());
    if (!root_)
      fail(source_ + ": no root element (expected <annotation>)");
    if (!named(root_, "annotation"))
      fail(at(root_) + "the root element is <" + nameOf(root_) + ">, expected <annotation>");
    return annotation(root_);
  }

private:
  VocAnnotation annotation(const xmlNode *root) {
    VocAnnotation a;
    if (const xmlNode *f = child(root, "filename", false))
      a.filename = std::string(trim(text(f)));
    if (const xmlNode *s = child(root, "segmented", false))
      a.segmented = flag(s);
    const xmlNode *size = child(root, "size", true);
    a.width = dimension(child(size, "width", true), 1, int64_t(1) << 30);
    a.height = dimension(child(size, "height", true), 1, int64_t(1) << 30);
    a.depth = dimension(child(size, "depth", true), 1, 3);
    if (a.depth == 2)
      fail(at(child(size, "depth", true)) + "<depth> 2: an image has 1 (grayscale) or 3 (RGB) channels");
    if (a.width * a.height > kMaxImagePixels)
      fail(at(size) + "image of " + std::to_string(a.width) + "x" + std::to_string(a.height) +
           " pixels is larger than the limit");
    for (const xmlNode *n = root->children; n; n = n->next)
      if (named(n, "object"))
        a.boxes.push_back(object(n, a));
    return a;
  }

  Box object(const xmlNode *obj, const VocAnnotation &a) {
    Box box;
    const xmlNode *name = child(obj, "name", true);
    const std::string nameText = text(name);
    std::string_view className = trim(nameText);
    box.label = -1;
    for (size_t i = 0; i < classes_.size(); ++i)
      if (classes_[i] == className)
        box.label = int64_t(i);
    if (box.label < 0) {
      std::string list;
      for (size_t i = 0; i < classes_.size() && i < 25; ++i)
        list += (i ? ", " : "") + classes_[i];
      if (classes_.size() > 25)
        list += ", ...";
      fail(at(name) + "<name> '" + shown(className) + "' is not one of the " + std::to_string(classes_.size()) +
           " classes (" + list + ")");
    }
    if (const xmlNode *d = child(obj, "difficult", false))
      box.difficult = flag(d);
    if (const xmlNode *t = child(obj, "truncated", false))
      box.truncated = flag(t);
    const xmlNode *bndbox = child(obj, "bndbox", true);
    const xmlNode *xminNode = child(bndbox, "xmin", true), *yminNode = child(bndbox, "ymin", true);
    const xmlNode *xmaxNode = child(bndbox, "xmax", true), *ymaxNode = child(bndbox, "ymax", true);
    double xmin = coordinate(xminNode), ymin = coordinate(yminNode);
    double xmax = coordinate(xmaxNode), ymax = coordinate(ymaxNode);
    checkRange(xminNode, "xmin", xmin, a.width, "width");
    checkRange(xmaxNode, "xmax", xmax, a.width, "width");
    checkRange(yminNode, "ymin", ymin, a.height, "height");
    checkRange(ymaxNode, "ymax", ymax, a.height, "height");
    if (xmax < xmin)
      fail(at(xmaxNode) + "<xmax> " + number(xmax) + " is less than <xmin> " + number(xmin));
    if (ymax < ymin)
      fail(at(ymaxNode) + "<ymax> " + number(ymax) + " is less than <ymin> " + number(ymin));
    box.xmin = float(xmin - 1);
    box.ymin = float(ymin - 1);
    box.xmax = float(xmax);
    box.ymax = float(ymax);
    return box;
  }

  // The single child element `name` of `parent` (nullptr if absent and optional).
  const xmlNode *child(const xmlNode *parent, const char *name, bool required) {
    const xmlNode *found = nullptr;
    for (const xmlNode *n = parent->children; n; n = n->next)
      if (named(n, name)) {
        if (found)
          fail(at(n) + "<" + nameOf(parent) + "> has a second <" + name + "> (first on line " +
               std::to_string(xmlGetLineNo(found)) + ")");
        found = n;
      }
    if (!found && required)
      fail(at(parent) + "<" + nameOf(parent) + "> has no <" + name + ">");
    return found;
  }

  std::string text(const xmlNode *node) {
    xmlChar *content = xmlNodeGetContent(node);
    std::string s = content ? reinterpret_cast<const char *>(content) : "";
    xmlFree(content);
    return s;
  }

  int64_t dimension(const xmlNode *node, int64_t min, int64_t max) {
    std::string raw = text(node);
    std::optional<double> v = parseDecimal(trim(raw));
    if (!v || *v != std::floor(*v) || *v < double(min) || *v > double(max))
      fail(at(node) + "<" + nameOf(node) + "> '" + shown(trim(raw)) + "' is not a whole number in [" +
           std::to_string(min) + ", " + std::to_string(max) + "]");
    return int64_t(*v);
  }

  bool flag(const xmlNode *node) {
    std::string raw = text(node);
    std::string_view v = trim(raw);
    if (v != "0" && v != "1")
      fail(at(node) + "<" + nameOf(node) + "> '" + shown(v) + "' is not 0 or 1");
    return v == "1";
  }

  double coordinate(const xmlNode *node) {
    std::string raw = text(node);
    std::optional<double> v = parseDecimal(trim(raw));
    if (!v)
      fail(at(node) + "<" + nameOf(node) + "> '" + shown(trim(raw)) + "' is not a number");
    return *v;
  }

  void checkRange(const xmlNode *node, const char *what, double v, int64_t limit, const char *side) {
    if (v < 1 || v > double(limit))
      fail(at(node) + "<" + what + "> " + number(v) + " is outside the image: VOC coordinates run from 1 to the " +
           side + " (" + std::to_string(limit) + ")");
  }

  static std::string number(double v) {
    if (v == std::floor(v) && std::fabs(v) < 1e15)
      return std::to_string(int64_t(v));
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
  }

  // "source:line:column: " of an element's start tag ("source:line: " when
  // the column cannot be found, e.g. a start tag split over lines).
  std::string at(const xmlNode *node) {
    long line = xmlGetLineNo(node);
    std::string where = source_ + ":" + std::to_string(line);
    if (long column = columnOf(node, line); column > 0)
      where += ":" + std::to_string(column);
    return where + ": ";
  }

  long columnOf(const xmlNode *node, long line) {
    if (line <= 0)
      return 0;
    // Which of the elements named like `node` on its line it is.
    int rank = -1, seen = 0;
    countOnLine(root_, node, line, rank, seen);
    if (rank < 0)
      return 0;
    size_t start = 0;
    for (long l = 1; l < line; ++l) {
      start = xml_.find('\n', start);
      if (start == std::string_view::npos)
        return 0;
      ++start;
    }
    size_t end = xml_.find('\n', start);
    std::string_view text = xml_.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    std::string tag = std::string("<") + nameOf(node);
    for (size_t pos = text.find(tag); pos != std::string_view::npos; pos = text.find(tag, pos + 1)) {
      size_t after = pos + tag.size();
      if (after < text.size() && !isXmlSpace(text[after]) && text[after] != '>' && text[after] != '/')
        continue;
      if (rank-- == 0)
        return long(pos + 1);
    }
    return 0;
  }

  // Counts, in document order, the elements named like `target` on `line`
  // before it; sets rank when it is reached.
  void countOnLine(const xmlNode *n, const xmlNode *target, long line, int &rank, int &seen) {
    for (; n && rank < 0; n = n->next) {
      if (n->type != XML_ELEMENT_NODE)
        continue;
      if (n == target) {
        rank = seen;
        return;
      }
      if (std::strcmp(nameOf(n), nameOf(target)) == 0 && xmlGetLineNo(n) == line)
        ++seen;
      countOnLine(n->children, target, line, rank, seen);
    }
  }

  std::string_view xml_;
  const std::string &source_;
  const std::vector<std::string> &classes_;
  const xmlNode *root_ = nullptr;
};

} // namespace

const std::vector<std::string> &vocClassNames() {
  static const std::vector<std::string> names = {
      "aeroplane", "bicycle", "bird",  "boat",        "bottle", "bus",         "car",   "cat",  "chair", "cow",
      "diningtable", "dog",   "horse", "motorbike",   "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor"};
  return names;
}

const std::vector<std::array<uint8_t, 3>> &vocPalette() {
  static const std::vector<std::array<uint8_t, 3>> palette = [] {
    std::vector<std::array<uint8_t, 3>> p(256);
    for (int i = 0; i < 256; ++i) {
      int r = 0, g = 0, b = 0;
      for (int j = 0, c = i; j < 8; ++j, c >>= 3) {
        r |= ((c >> 0) & 1) << (7 - j);
        g |= ((c >> 1) & 1) << (7 - j);
        b |= ((c >> 2) & 1) << (7 - j);
      }
      p[size_t(i)] = {uint8_t(r), uint8_t(g), uint8_t(b)};
    }
    return p;
  }();
  return palette;
}

Expected<VocAnnotation> parseVocAnnotation(std::string_view xml, const std::string &source,
                                           const std::vector<std::string> &classes) {
  return detail::guard<VocAnnotation>([&] { return Parser(xml, source, classes).run(); });
}

} // namespace pce::rt
