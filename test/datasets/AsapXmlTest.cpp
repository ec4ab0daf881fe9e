//===- AsapXmlTest.cpp - Camelyon16's ASAP XML lesions and their raster ---===//
//
// The details of the annotation format (groups, types, Order, positions of
// errors), random damage to a valid file (an error naming file:line:column
// or annotations, never a crash), and the rasteriser against pnpoly and
// winding numbers on random polygons.
//
//===----------------------------------------------------------------------===//

#include "runtime/datasets/Camelyon.h"

#include "AsapFixtures.h"
#include "TestSupport.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace pce::rt;
using namespace pce::rt::test;


TEST(Camelyon, AsapXmlDetails) {
  // Coordinates out of order, a dot, and every group name.
  std::string xml = R"(<ASAP_Annotations><Annotations>
<Annotation Name="a" Type="Polygon" PartOfGroup="Exclusion"><Coordinates>
<Coordinate Order="2" X="10" Y="10"/><Coordinate Order="0" X="0" Y="0"/><Coordinate Order="1" X="10" Y="0.5e1"/>
</Coordinates></Annotation>
<Annotation Name="d" Type="Dot" PartOfGroup="_1"><Coordinates><Coordinate Order="0" X="1" Y="1"/>
</Coordinates></Annotation>
<Annotation Name="m" Type="Spline" PartOfGroup="metastases"><Coordinates>
<Coordinate Order="0" X="1" Y="1"/><Coordinate Order="1" X="2" Y="1"/><Coordinate Order="2" X="2" Y="2"/>
</Coordinates></Annotation>
</Annotations></ASAP_Annotations>)";
  auto a = parseAsapXml(xml, "a.xml");
  ASSERT_TRUE(a.ok()) << a.error();
  ASSERT_EQ(a->polygons.size(), 2u);
  EXPECT_EQ(a->polygons[0].kind, RegionKind::Exclusion);
  EXPECT_EQ(a->polygons[0].x, (std::vector<double>{0, 10, 10}));
  EXPECT_EQ(a->polygons[0].y, (std::vector<double>{0, 5, 10}));
  EXPECT_EQ(a->polygons[0].line, 2);
  EXPECT_EQ(a->polygons[1].kind, RegionKind::Tumour);
  EXPECT_EQ(a->polygons[1].group, "metastases");
  EXPECT_TRUE(parseAsapXml("<ASAP_Annotations/>", "e.xml").ok());

  auto error = [](const std::string &text) {
    auto r = parseAsapXml(text, "b.xml");
    return r ? std::string("ok") : r.error();
  };
  // Syntax errors: libxml2's line and column.
  EXPECT_CONTAINS(error("<ASAP_Annotations>\n  <Annotations>\n  </Annotation>\n</ASAP_Annotations>"), "b.xml:3:");
  EXPECT_CONTAINS(error(""), "b.xml:1");
  EXPECT_CONTAINS(error("<ASAP_Annotations x=\"1\" x=\"2\"/>"), "b.xml:1:");
  // Value errors: the element's start tag, even on one long line.
  std::string one = "<ASAP_Annotations><Annotations><Annotation Name=\"t\" Type=\"Polygon\" PartOfGroup=\"_0\">"
                    "<Coordinates><Coordinate Order=\"0\" X=\"1\" Y=\"1\"/><Coordinate Order=\"1\" X=\"5\"/>"
                    "</Coordinates></Annotation></Annotations></ASAP_Annotations>";
  size_t second = one.find("<Coordinate Order=\"1\"");
  EXPECT_EQ(error(one), "b.xml:1:" + std::to_string(second + 1) + ": <Coordinate> has no Y attribute");
  std::string lines = "<?xml version=\"1.0\"?>\n<ASAP_Annotations>\n <Annotations>\n  <Annotation Name=\"t\" "
                      "Type=\"Polygon\" PartOfGroup=\"_5\">\n";
  EXPECT_EQ(error(lines), "b.xml:5:1: Premature end of data in tag Annotation line 4 (not well-formed XML)");
  EXPECT_EQ(error(lines + "  <Coordinates/></Annotation></Annotations></ASAP_Annotations>"),
            "b.xml:4:3: annotation 't' is in group '_5' (expected _0, _1 or Tumor for tumour, _2 or Exclusion for "
            "exclusion)");
  std::string body = "<ASAP_Annotations>\n<Annotations>\n<Annotation Name=\"t\" Type=\"Polygon\" PartOfGroup=\"_0\">"
                     "\n<Coordinates>\n";
  std::string end = "</Coordinates></Annotation></Annotations></ASAP_Annotations>";
  EXPECT_EQ(error(body + "    <Coordinate Order=\"0\" X=\"1,5\" Y=\"1\"/>\n" + end),
            "b.xml:5:5: <Coordinate> X=\"1,5\" is not a number");
  EXPECT_EQ(error(body + "<Coordinate Order=\"0\" X=\"nan\" Y=\"1\"/>\n" + end),
            "b.xml:5:1: <Coordinate> X=\"nan\" is not a number");
  EXPECT_EQ(error(body + "<Coordinate Order=\"0\" X=\"1\" Y=\"1e12\"/>\n" + end),
            "b.xml:5:1: <Coordinate> Y=\"1e12\" is outside any slide (coordinates are level-0 pixels)");
  EXPECT_EQ(error(body + "<Coordinate X=\"1\" Y=\"1\"/>\n" + end), "b.xml:5:1: <Coordinate> has no Order attribute");
  EXPECT_EQ(error(body + "<Coordinate Order=\"0\" X=\"1\" Y=\"1\"/>\n<Coordinate Order=\"0\" X=\"2\" Y=\"1\"/>" +
                  end),
            "b.xml:6:1: a second <Coordinate> with Order=\"0\" in annotation 't'");
  EXPECT_EQ(error(body + "<Coordinate Order=\"0\" X=\"1\" Y=\"1\"/>" + end),
            "b.xml:3:1: annotation 't' has 1 coordinates (a Polygon needs at least 3)");
  EXPECT_EQ(error(body + "<Point/>" + end), "b.xml:5:1: <Point> inside <Coordinates> (expected <Coordinate>)");
  EXPECT_EQ(error("<Annotations/>"), "b.xml:1:1: root element <Annotations> (expected <ASAP_Annotations>)");
  EXPECT_CONTAINS(error("<!DOCTYPE a [<!ENTITY e \"x\">]><ASAP_Annotations/>"), "document type declaration");
  // Past libxml2's 65535-line limit for element lines.
  std::string far = body + std::string(70000, '\n') + "  <Coordinate Order=\"0\" Y=\"1\"/>" + end;
  EXPECT_EQ(error(far), "b.xml:70005:3: <Coordinate> has no X attribute");
}

TEST(Camelyon, RasteriserMatchesIndependentPointInPolygon) {
  std::uniform_real_distribution<double> coord(-20, 180), unit(0, 1);
  std::uniform_int_distribution<int> vertices(3, 12), offset(-5, 30);
  const double downsamples[] = {1, 2, 4, 3.7, 0.5};
  int64_t tested = 0;
  for (int round = 0; round < 200; ++round) {
    const double d = downsamples[round % 5];
    const bool simple = round % 2 == 0;
    std::vector<Poly> polys;
    int count = 1 + round % 3;
    for (int k = 0; k < count; ++k) {
      Poly p{k == 2 ? "_2" : "_0", {}};
      int n = vertices(rng());
      double cx = coord(rng()), cy = coord(rng());
      for (int i = 0; i < n; ++i) {
        if (simple) { // star-shaped around (cx, cy): a simple polygon
          double angle = 2 * M_PI * (i + 0.8 * unit(rng())) / n, r = 5 + 80 * unit(rng());
          p.points.emplace_back(cx + r * std::cos(angle), cy + r * std::sin(angle));
        } else {
          p.points.emplace_back(coord(rng()), coord(rng()));
        }
      }
      polys.push_back(p);
    }
    // Through the parser; the reference then uses the coordinates it read.
    auto a = parseAsapXml(asapXml(polys), "r.xml");
    ASSERT_TRUE(a.ok()) << a.error();
    for (int k = 0; k < count; ++k)
      for (size_t i = 0; i < polys[k].points.size(); ++i)
        polys[k].points[i] = {a->polygons[k].x[i], a->polygons[k].y[i]};
    int64_t x0 = offset(rng()), y0 = offset(rng()), w = 40 + round % 37, h = 30 + round % 41;
    Image mask = rasteriseAnnotations(*a, d, x0, y0, w, h);
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        double px = (static_cast<double>(x0 + x) + 0.5) * d, py = (static_cast<double>(y0 + y) + 0.5) * d;
        bool tumour = false, excluded = false;
        for (const Poly &p : polys) {
          bool in = simple ? winding(p.points, px, py) != 0 : pnpoly(p.points, px, py);
          (std::string(p.group) == "_2" ? excluded : tumour) |= in;
        }
        uint8_t want = excluded ? kVoidLabel : tumour ? 1 : 0;
        ASSERT_EQ(mask.at(y, x), want) << "round " << round << " pixel (" << x << ", " << y << ")";
        tested += want != 0;
      }
  }
  EXPECT_GT(tested, 10000);
}

TEST(Camelyon, RandomXmlDamageIsAnErrorOrAnnotations) {
  const std::string good = asapXml(lesions());
  std::uniform_int_distribution<size_t> pos(0, good.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  int ok = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string damaged = good;
    if (i % 3 == 0)
      damaged.resize(pos(rng()));
    else
      damaged[pos(rng())] = static_cast<char>(i % 2 ? byte(rng()) : "<>\"=/_ 0"[i % 8]);
    auto a = parseAsapXml(damaged, "d.xml");
    if (a.ok())
      ++ok;
    else
      EXPECT_EQ(a.error().rfind("d.xml:", 0), 0u) << a.error();
  }
  EXPECT_LT(ok, 2000);
}
