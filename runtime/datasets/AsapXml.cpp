//===- AsapXml.cpp - ASAP annotation XML and its rasterisation ------------===//
//
// The ASAP XML reader and the polygon rasteriser of Camelyon.h. libxml2
// builds the tree; a wrapped start-element callback records each element's
// byte offset so messages give an exact line:column even past line 65535,
// where libxml2's own element line numbers stop.
//
//===----------------------------------------------------------------------===//

#include "runtime/datasets/Camelyon.h"

#include "runtime/Failure.h"
#include "runtime/datasets/QuietXmlErrors.h"

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>
#include <libxml/tree.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <fstream>
#include <mutex>
#include <sstream>

namespace pce::rt {

using detail::fail;

namespace {

// Coordinates beyond this are not pixels of any slide; the bound also keeps
// every later double-to-integer conversion defined.
constexpr double kMaxCoordinate = 1e9;

// libxml2's tree and its parser context, freed together.
struct XmlDoc {
  xmlParserCtxtPtr ctxt = nullptr;
  xmlDocPtr doc = nullptr;
  ~XmlDoc() {
    if (doc)
      xmlFreeDoc(doc);
    if (ctxt)
      xmlFreeParserCtxt(ctxt);
  }
};

// Runs libxml2's own start-element handler, then notes where the element
// ended its start tag (the byte offset, plus one, in the node's _private).
void startElement(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri, int nbNamespaces,
                  const xmlChar **namespaces, int nbAttributes, int nbDefaulted, const xmlChar **attributes) {
  auto *ctxt = static_cast<xmlParserCtxtPtr>(ctx);
  xmlNodePtr parent = ctxt->node;
  xmlSAX2StartElementNs(ctx, localname, prefix, uri, nbNamespaces, namespaces, nbAttributes, nbDefaulted,
                        attributes);
  xmlNodePtr node = ctxt->node;
  // Only for input read as is: through an encoder, offsets cost a
  // conversion each and do not index the caller's bytes.
  xmlParserInputPtr in = ctxt->input;
  if (!node || node == parent || !in || (in->buf && in->buf->encoder))
    return;
  long at = xmlByteConsumed(ctxt);
  if (at >= 0)
    node->_private = reinterpret_cast<void *>(static_cast<uintptr_t>(at) + 1);
}

class Locator {
public:
  Locator(std::string_view bytes, const std::string &source) : bytes_(bytes), source_(source) {}

  // "source:line:column" of the element's '<', or "source:line" when the
  // offset cannot be trusted (an element from an entity, a file in another
  // encoding than UTF-8).
  std::string at(xmlNodePtr node) const {
    auto recorded = reinterpret_cast<uintptr_t>(node->_private);
    if (recorded > 0 && recorded - 1 <= bytes_.size()) {
      size_t end = recorded - 1;
      size_t lt = bytes_.rfind('<', end == 0 ? 0 : end - 1);
      std::string name = node->ns && node->ns->prefix
                             ? std::string(reinterpret_cast<const char *>(node->ns->prefix)) + ":" +
                                   reinterpret_cast<const char *>(node->name)
                             : reinterpret_cast<const char *>(node->name);
      if (lt != std::string_view::npos && end > lt && bytes_.compare(lt + 1, name.size(), name) == 0) {
        int64_t line = 1 + std::count(bytes_.begin(), bytes_.begin() + lt, '\n');
        size_t lineStart = bytes_.rfind('\n', lt == 0 ? std::string_view::npos : lt - 1);
        int64_t column = static_cast<int64_t>(lineStart == std::string_view::npos ? lt + 1 : lt - lineStart);
        return source_ + ":" + std::to_string(line) + ":" + std::to_string(column);
      }
    }
    return source_ + ":" + std::to_string(xmlGetLineNo(node));
  }

private:
  std::string_view bytes_;
  const std::string &source_;
};

std::string text(const xmlChar *s) { return s ? reinterpret_cast<const char *>(s) : ""; }

bool isElement(xmlNodePtr n, const char *name) {
  return n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, reinterpret_cast<const xmlChar *>(name));
}

// An attribute's value, or nothing if absent.
bool attribute(xmlNodePtr node, const char *name, std::string &value) {
  xmlChar *v = xmlGetProp(node, reinterpret_cast<const xmlChar *>(name));
  if (!v)
    return false;
  value = text(v);
  xmlFree(v);
  return true;
}

// Shown in messages: at most 40 bytes, so a fuzzed megabyte stays readable.
std::string shown(const std::string &s) { return s.size() <= 40 ? s : s.substr(0, 40) + "..."; }

std::string trim(const std::string &s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::string requireAttribute(xmlNodePtr node, const char *name, const Locator &loc) {
  std::string value;
  if (!attribute(node, name, value))
    fail(loc.at(node) + ": <" + text(node->name) + "> has no " + name + " attribute");
  return value;
}

double number(xmlNodePtr node, const char *name, const Locator &loc) {
  std::string value = trim(requireAttribute(node, name, loc));
  double v = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size() || !std::isfinite(v))
    fail(loc.at(node) + ": <" + text(node->name) + "> " + name + "=\"" + shown(value) + "\" is not a number");
  if (std::fabs(v) > kMaxCoordinate)
    fail(loc.at(node) + ": <" + text(node->name) + "> " + name + "=\"" + shown(value) +
         "\" is outside any slide (coordinates are level-0 pixels)");
  return v;
}

int64_t order(xmlNodePtr node, const Locator &loc) {
  std::string value = trim(requireAttribute(node, "Order", loc));
  long long v = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size())
    fail(loc.at(node) + ": <Coordinate> Order=\"" + shown(value) + "\" is not an integer");
  return v;
}

bool groupKind(const std::string &group, RegionKind &kind) {
  static const char *const tumour[] = {"_0", "_1", "Tumor", "tumor", "Tumour", "tumour", "metastases"};
  static const char *const exclusion[] = {"_2", "Exclusion", "exclusion"};
  for (const char *g : tumour)
    if (group == g)
      return kind = RegionKind::Tumour, true;
  for (const char *g : exclusion)
    if (group == g)
      return kind = RegionKind::Exclusion, true;
  return false;
}

// One <Annotation>: false if it marks no area (a dot or a point set).
bool readAnnotation(xmlNodePtr node, const Locator &loc, AnnotationPolygon &p) {
  attribute(node, "Name", p.name);
  std::string type = requireAttribute(node, "Type", loc);
  p.group = requireAttribute(node, "PartOfGroup", loc);
  if (!groupKind(p.group, p.kind))
    fail(loc.at(node) + ": annotation '" + shown(p.name) + "' is in group '" + shown(p.group) +
         "' (expected _0, _1 or Tumor for tumour, _2 or Exclusion for exclusion)");
  if (type == "Dot" || type == "PointSet")
    return false;
  if (type != "Polygon" && type != "Rectangle" && type != "Spline")
    fail(loc.at(node) + ": annotation '" + shown(p.name) + "' has Type \"" + shown(type) +
         "\" (expected Polygon, Rectangle, Spline, Dot or PointSet)");
  xmlNodePtr coordinates = nullptr;
  for (xmlNodePtr c = node->children; c; c = c->next)
    if (isElement(c, "Coordinates")) {
      if (coordinates)
        fail(loc.at(c) + ": annotation '" + shown(p.name) + "' has a second <Coordinates>");
      coordinates = c;
    }
  if (!coordinates)
    fail(loc.at(node) + ": annotation '" + shown(p.name) + "' has no <Coordinates>");
  struct Vertex {
    int64_t order;
    double x, y;
    xmlNodePtr node;
  };
  std::vector<Vertex> vertices;
  for (xmlNodePtr c = coordinates->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE)
      continue;
    if (!isElement(c, "Coordinate"))
      fail(loc.at(c) + ": <" + shown(text(c->name)) + "> inside <Coordinates> (expected <Coordinate>)");
    vertices.push_back({order(c, loc), number(c, "X", loc), number(c, "Y", loc), c});
  }
  std::stable_sort(vertices.begin(), vertices.end(),
                   [](const Vertex &a, const Vertex &b) { return a.order < b.order; });
  for (size_t i = 1; i < vertices.size(); ++i)
    if (vertices[i].order == vertices[i - 1].order)
      fail(loc.at(vertices[i].node) + ": a second <Coordinate> with Order=\"" + std::to_string(vertices[i].order) +
           "\" in annotation '" + shown(p.name) + "'");
  if (vertices.size() < 3)
    fail(loc.at(node) + ": annotation '" + shown(p.name) + "' has " + std::to_string(vertices.size()) +
         " coordinates (a " + type + " needs at least 3)");
  for (const Vertex &v : vertices) {
    p.x.push_back(v.x);
    p.y.push_back(v.y);
  }
  p.minX = *std::min_element(p.x.begin(), p.x.end());
  p.maxX = *std::max_element(p.x.begin(), p.x.end());
  p.minY = *std::min_element(p.y.begin(), p.y.end());
  p.maxY = *std::max_element(p.y.begin(), p.y.end());
  p.line = xmlGetLineNo(node);
  return true;
}

std::string libxmlMessage(const xmlError *e, const std::string &source) {
  std::string where = source + ":" + std::to_string(e->line);
  if (e->int2 > 0)
    where += ":" + std::to_string(e->int2);
  return where + ": " + trim(text(reinterpret_cast<const xmlChar *>(e->message))) + " (not well-formed XML)";
}

// Fills `inside` (width x height flags) with the pixels whose centres lie
// inside p by the even-odd rule: along each row the crossings of the row's
// centre line with the edges, sorted, pair up into spans [c0, c1), ...
void fillPolygon(const AnnotationPolygon &p, double d, int64_t x0, int64_t y0, int64_t width, int64_t height,
                 std::vector<uint8_t> &inside) {
  const size_t n = p.x.size();
  std::vector<double> crossings;
  auto centre = [d](int64_t at) { return (static_cast<double>(at) + 0.5) * d; };
  // The first column whose centre is at or after c (width if none); the
  // guess by division is corrected against the exact comparison.
  auto firstAtOrAfter = [&](double c) {
    double guess = std::ceil(c / d - static_cast<double>(x0) - 0.5);
    int64_t x = guess <= 0 ? 0 : guess >= static_cast<double>(width) ? width : static_cast<int64_t>(guess);
    while (x > 0 && centre(x0 + x - 1) >= c)
      --x;
    while (x < width && centre(x0 + x) < c)
      ++x;
    return x;
  };
  for (int64_t row = 0; row < height; ++row) {
    const double py = centre(y0 + row);
    if (py < p.minY || py > p.maxY)
      continue;
    crossings.clear();
    for (size_t i = 0, j = n - 1; i < n; j = i++)
      if ((p.y[i] > py) != (p.y[j] > py))
        crossings.push_back((p.x[j] - p.x[i]) * (py - p.y[i]) / (p.y[j] - p.y[i]) + p.x[i]);
    std::sort(crossings.begin(), crossings.end());
    uint8_t *out = inside.data() + row * width;
    for (size_t k = 0; k + 1 < crossings.size(); k += 2) {
      int64_t from = firstAtOrAfter(crossings[k]), to = firstAtOrAfter(crossings[k + 1]);
      std::fill(out + from, out + std::max(from, to), uint8_t(1));
    }
  }
}

} // namespace

int64_t SlideAnnotations::count(RegionKind kind) const {
  return std::count_if(polygons.begin(), polygons.end(), [&](const AnnotationPolygon &p) { return p.kind == kind; });
}

Expected<SlideAnnotations> parseAsapXml(std::string_view bytes, const std::string &source) {
  static std::once_flag init;
  std::call_once(init, [] { xmlInitParser(); });
  if (bytes.size() > static_cast<size_t>(INT_MAX))
    return Status::error(source + ": " + std::to_string(bytes.size()) + " bytes is too large for an annotation file");
  return detail::guard<SlideAnnotations>([&] {
    QuietXmlErrors quiet;
    XmlDoc xml;
    xml.ctxt = xmlNewParserCtxt();
    if (!xml.ctxt || !xml.ctxt->sax)
      fail(source + ": cannot create an XML parser (out of memory?)");
    xml.ctxt->sax->startElementNs = startElement;
    const int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_BIG_LINES;
    xml.doc = xmlCtxtReadMemory(xml.ctxt, bytes.data(), static_cast<int>(bytes.size()), source.c_str(), nullptr,
                                options);
    const xmlError *e = xmlCtxtGetLastError(xml.ctxt);
    if (!xml.doc || !xml.ctxt->wellFormed) {
      if (e && e->message)
        fail(libxmlMessage(e, source));
      fail(source + ": not well-formed XML");
    }
    Locator loc(bytes, source);
    if (xml.doc->intSubset || xml.doc->extSubset)
      fail(source + ": a document type declaration is not allowed in ASAP XML");
    xmlNodePtr root = xmlDocGetRootElement(xml.doc);
    if (!root)
      fail(source + ": no root element (expected <ASAP_Annotations>)");
    if (!isElement(root, "ASAP_Annotations"))
      fail(loc.at(root) + ": root element <" + shown(text(root->name)) + "> (expected <ASAP_Annotations>)");
    SlideAnnotations out;
    for (xmlNodePtr list = root->children; list; list = list->next) {
      if (!isElement(list, "Annotations"))
        continue; // AnnotationGroups: names and colours only
      for (xmlNodePtr a = list->children; a; a = a->next) {
        if (a->type != XML_ELEMENT_NODE)
          continue;
        if (!isElement(a, "Annotation"))
          fail(loc.at(a) + ": <" + shown(text(a->name)) + "> inside <Annotations> (expected <Annotation>)");
        AnnotationPolygon p;
        if (readAnnotation(a, loc, p))
          out.polygons.push_back(std::move(p));
      }
    }
    return out;
  });
}

Expected<SlideAnnotations> readAsapXml(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::error(path + ": cannot open the annotation file");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad())
    return Status::error(path + ": cannot read the annotation file");
  return parseAsapXml(bytes.str(), path);
}

Image rasteriseAnnotations(const SlideAnnotations &annotations, double downsample, int64_t x0, int64_t y0,
                           int64_t width, int64_t height) {
  Image mask(height, width, 1, 0);
  std::vector<uint8_t> tumour, exclusion;
  // The window's pixel centres, level 0, to skip polygons that miss it.
  const double left = (static_cast<double>(x0) + 0.5) * downsample,
               right = (static_cast<double>(x0 + width) - 0.5) * downsample,
               top = (static_cast<double>(y0) + 0.5) * downsample,
               bottom = (static_cast<double>(y0 + height) - 0.5) * downsample;
  for (const AnnotationPolygon &p : annotations.polygons) {
    if (p.x.size() < 3 || p.maxX < left || p.minX > right || p.maxY < top || p.minY > bottom)
      continue;
    std::vector<uint8_t> &flags = p.kind == RegionKind::Tumour ? tumour : exclusion;
    if (flags.empty())
      flags.assign(mask.pixels.size(), 0);
    fillPolygon(p, downsample, x0, y0, width, height, flags);
  }
  for (size_t i = 0; i < mask.pixels.size(); ++i)
    mask.pixels[i] = !exclusion.empty() && exclusion[i] ? kVoidLabel : !tumour.empty() && tumour[i] ? 1 : 0;
  return mask;
}

bool isTissue(uint8_t r, uint8_t g, uint8_t b, double saturationThreshold) {
  int hi = std::max({r, g, b}), lo = std::min({r, g, b});
  return hi > 0 && static_cast<double>(hi - lo) > saturationThreshold * hi;
}

} // namespace pce::rt
