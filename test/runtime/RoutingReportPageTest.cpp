//===- RoutingReportPageTest.cpp - report.html and its training curves -----===//

#include "runtime/Json.h"
#include "runtime/RoutingReport.h"

#include "RoutingTestSupport.h"
#include "TestSupport.h"

#include <gtest/gtest.h>

using namespace pce::rt;
using namespace pce::rt::test;
using namespace pce::rt::test::routing;

TEST(RoutingReport, HtmlCarriesTheReportsNumbers) {
  HostTensor labels = labelsOf({0, 2, 1, 2});
  // 4 images, 9 patches, 3 experts: patch p to expert p mod 3, except image 3's
  // patches, which all go to expert 0.
  auto layer = report(oneHot(4, 9, 3, [](int64_t b, int64_t p) { return b == 3 ? 0 : p % 3; }), &labels, 3);
  layer.name = "a<b&\"c\".routing";
  layer.grid = inferPatchGrid(9);
  RoutingReport rep;
  rep.items = 4;
  rep.classes = 3;
  rep.layers.push_back(layer);
  rep.skipped.emplace_back("x.routing", "weight nan < 0");
  // Example images need the image size; one example with 9 patches, another
  // whose routing does not fit the layer (left out).
  rep.imageSize = std::make_pair(int64_t(6), int64_t(6));
  RoutingExample ex;
  ex.item = 2;
  ex.label = 1;
  ex.imageUri = "data:image/png;base64,AAAA";
  ex.expert = {{0, 1, 2, 0, 1, 2, 0, 1, 2}};
  ex.weight = {{1, 0.5, 0.25, 1, 0.5, 0.25, 1, 0.5, 0.25}};
  rep.examples.push_back(ex);
  ex.item = 3;
  ex.expert = {{0}};
  rep.examples.push_back(ex);
  RoutingPaths paths;
  paths.layers = 2;
  paths.positions = 9;
  paths.distinct = 2;
  paths.top = {{{0, 3}, 0.75}, {{1, 3}, 0.25}};
  paths.perPosition.assign(9, {{0, 3}, 0.5});
  rep.paths = paths;
  const std::string html = routingReportHtml(rep);
  auto count = [&](const std::string &needle) {
    size_t n = 0;
    for (size_t at = html.find(needle); at != std::string::npos; at = html.find(needle, at + 1))
      ++n;
    return n;
  };
  EXPECT_CONTAINS(html, "<h2>a&lt;b&amp;&quot;c&quot;.routing</h2>");
  EXPECT_EQ(html.find("a<b"), std::string::npos);
  EXPECT_CONTAINS(html, "<li>x.routing: weight nan &lt; 0</li>");
  EXPECT_EQ(count("data-patch="), 9u);
  EXPECT_EQ(count("<figure>"), 1u);
  EXPECT_EQ(count("<section id=\"paths\">"), 1u);
  EXPECT_EQ(count("<td data-share=\"0.500000\">0 \u2192 3<br/>50%</td>"), 9u);
  EXPECT_CONTAINS(routingReportMarkdown(rep), "| 0 -> 3 | 75.0% |\n| 1 -> 3 | 25.0% |\n");
  EXPECT_EQ(count("data-weight="), 9u);
  EXPECT_CONTAINS(html, "<image href=\"data:image/png;base64,AAAA\"");
  EXPECT_CONTAINS(html, "data-expert=\"2\" data-weight=\"0.250000\"");
  EXPECT_CONTAINS(html, "image 2, class 1</figcaption>");
  // report.json carries the examples' numbers too.
  JsonValue json = routingReportToJson(rep);
  const auto &examples = *json.find("examples")->getArray();
  ASSERT_EQ(examples.size(), 2u);
  EXPECT_EQ(examples[0].find("item")->intValue(), 2);
  EXPECT_EQ(examples[0].find("experts")->getArray()->at(0).getArray()->at(2).intValue(), 2);
  EXPECT_EQ(examples[0].find("weights")->getArray()->at(0).getArray()->at(1).numberValue(), 0.5);
  EXPECT_EQ(count("<section id=\"layer0\""), 1u);
  for (const char *id :
       {"layer0-examples", "layer0-usage", "layer0-weight", "layer0-map", "layer0-entropy", "layer0-classes"})
    EXPECT_EQ(count(std::string("id=\"") + id + "\""), 1u) << id;
  // Patch 4 goes to expert 1 in 3 of 4 images; patch 3 to expert 0 in all.
  EXPECT_CONTAINS(html, "data-patch=\"4\" data-expert=\"1\" data-share=\"0.750000\"");
  EXPECT_CONTAINS(html, "data-patch=\"3\" data-expert=\"0\" data-share=\"1.000000\"");
  // Usage: expert 0 has 3 + 3 + 3 + 9 = 18 of 36 patches.
  EXPECT_CONTAINS(html, "data-value=\"0.500000\"");
  EXPECT_DOUBLE_EQ(layer.usage[0], 0.5);
  // Class 2 (images 1 and 3): 3 + 9 of 18 patches to expert 0.
  EXPECT_CONTAINS(html, "<tr><th>2</th><td style=\"background:rgba(0,114,178,0.667)\" data-value=\"0.666667\">");
  EXPECT_TRUE(layer.warnings.empty());
}

// report.html's training section: one chart per quantity, the phase
// boundaries marked, values missing from an epoch left out.
TEST(RoutingReport, TrainingCurvesFromTheLog) {
  std::vector<JsonValue> log;
  auto line = [&](const std::string &text) {
    auto v = parseJson(text);
    ASSERT_TRUE(v) << v.error();
    log.push_back(std::move(*v));
  };
  line(R"({"event": "phase_start", "epoch": 1, "phase": 1})");
  for (int epoch = 1; epoch <= 4; ++epoch) {
    if (epoch == 3)
      line(R"({"event": "phase_start", "epoch": 3, "phase": 2})");
    line("{\"event\": \"epoch\", \"epoch\": " + std::to_string(epoch) + ", \"train_loss\": " +
         std::to_string(2.0 / epoch) + ", \"val_loss\": 1.0, \"val_top1\": 0." + std::to_string(50 + epoch) +
         ", \"layers\": {\"block\": {\"entropy_normalized\": 0.5, \"usage\": [0.25, 0.75]" +
         (epoch > 1 ? ", \"mi_position\": {\"nats\": 0.1, \"normalized\": 0.2}" : "") + "}}}");
  }
  const std::string html = detail::trainingCurvesHtml(log);
  for (const char *id : {"training-loss", "training-metric", "training-routing0", "training-usage0"})
    EXPECT_CONTAINS(html, std::string("id=\"") + id + "\"");
  // One boundary per chart (the first phase starts at the left edge): 4 charts.
  size_t phases = 0;
  for (size_t at = html.find("class=\"phase\""); at != std::string::npos; at = html.find("class=\"phase\"", at + 1))
    ++phases;
  EXPECT_EQ(phases, 4u);
  EXPECT_CONTAINS(html, "phase starts at epoch 3");
  EXPECT_CONTAINS(html, "val_top1");
  EXPECT_CONTAINS(html, "expert 1");
  EXPECT_TRUE(detail::trainingCurvesHtml({}).empty());
  // The page carries the section when the report has a log.
  RoutingReport rep;
  rep.trainingLog = log;
  EXPECT_CONTAINS(routingReportHtml(rep), "<section id=\"training\">");
}

