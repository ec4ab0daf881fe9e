//===- AsapFixtures.h - ASAP XML lesion files for the Camelyon16 tests ----===//
//
// Outlines written as ASAP writes them, the lesions of the test slide, and
// two independent point-in-polygon tests the masks are checked against
// (crossing number and winding number).
//
//===----------------------------------------------------------------------===//
#ifndef PCE_TEST_DATASETS_ASAPFIXTURES_H
#define PCE_TEST_DATASETS_ASAPFIXTURES_H

#include <string>
#include <utility>
#include <vector>

namespace pce::rt::test {

struct Poly {
  const char *group;
  std::vector<std::pair<double, double>> points;
};

inline std::string asapXml(const std::vector<Poly> &polys) {
  std::string s = "<?xml version=\"1.0\"?>\n<ASAP_Annotations>\n\t<Annotations>\n";
  int n = 0;
  for (const Poly &p : polys) {
    s += "\t\t<Annotation Name=\"Annotation " + std::to_string(n++) + "\" Type=\"Polygon\" PartOfGroup=\"" +
         p.group + "\" Color=\"#F4FA58\">\n\t\t\t<Coordinates>\n";
    for (size_t i = 0; i < p.points.size(); ++i)
      s += "\t\t\t\t<Coordinate Order=\"" + std::to_string(i) + "\" X=\"" + std::to_string(p.points[i].first) +
           "\" Y=\"" + std::to_string(p.points[i].second) + "\" />\n";
    s += "\t\t\t</Coordinates>\n\t\t</Annotation>\n";
  }
  return s + "\t</Annotations>\n\t<AnnotationGroups>\n\t\t<Group Name=\"_0\" PartOfGroup=\"None\" "
             "Color=\"#ff0000\">\n\t\t\t<Attributes />\n\t\t</Group>\n\t</AnnotationGroups>\n</ASAP_Annotations>\n";
}

inline Poly square(const char *group, double x0, double y0, double x1, double y1) {
  return {group, {{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}};
}

// Tumour square (100,100)-(400,400) with exclusion (200,200)-(300,300); a
// second tumour triangle reaching into the glass.
inline const std::vector<Poly> &lesions() {
  static const std::vector<Poly> polys{square("_0", 100, 100, 400, 400), square("_2", 200, 200, 300, 300),
                                       {"Tumor", {{450, 500}, {700.5, 520.25}, {480, 700}}}};
  return polys;
}

inline bool pnpoly(const std::vector<std::pair<double, double>> &v, double px, double py) {
  bool c = false;
  for (size_t i = 0, j = v.size() - 1; i < v.size(); j = i++) {
    double xi = v[i].first, yi = v[i].second, xj = v[j].first, yj = v[j].second;
    if (((yi > py) != (yj > py)) && px < (xj - xi) * (py - yi) / (yj - yi) + xi)
      c = !c;
  }
  return c;
}

inline int winding(const std::vector<std::pair<double, double>> &v, double px, double py) {
  int wn = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    auto [x0, y0] = v[i];
    auto [x1, y1] = v[(i + 1) % v.size()];
    double left = (x1 - x0) * (py - y0) - (px - x0) * (y1 - y0);
    if (y0 <= py && y1 > py && left > 0)
      ++wn;
    else if (y0 > py && y1 <= py && left < 0)
      --wn;
  }
  return wn;
}

} // namespace pce::rt::test

#endif // PCE_TEST_DATASETS_ASAPFIXTURES_H
