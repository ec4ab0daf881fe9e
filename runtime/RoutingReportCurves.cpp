//===- RoutingReportCurves.cpp - training curves for report.html ----------===//
//
// From the lines of a run's log.jsonl (docs/Training.md): loss, the
// validation metric, and per PCE layer router entropy, I(expert; position)
// and expert usage per epoch, as inline SVG line charts with the phase
// boundaries marked.
//
//===----------------------------------------------------------------------===//

#include "runtime/RoutingReport.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace pce::rt {

namespace {

std::string fmt(const char *format, double v) { return detail::formatNumber(format, v); }

const char *const kSeriesColours[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9",
                                      "#D55E00", "#F0E442", "#332288", "#882255", "#999933"};

struct Series {
  std::string name;
  std::vector<double> values; // one per epoch; NaN where missing
};

double number(const JsonValue *v) { return v && v->isNumber() ? v->numberValue() : NAN; }

// One chart: epochs on x, the series on y in [lo, hi] (hi < lo: from the data).
std::string lineChart(const std::string &id, const std::string &title, const std::vector<int64_t> &epochs,
                      const std::vector<Series> &series, const std::vector<int64_t> &phaseStarts, double lo,
                      double hi) {
  if (hi < lo) {
    lo = INFINITY, hi = -INFINITY;
    for (const Series &s : series)
      for (double v : s.values)
        if (std::isfinite(v))
          lo = std::min(lo, v), hi = std::max(hi, v);
    if (!std::isfinite(lo))
      return "";
    if (hi - lo < 1e-12)
      hi = lo + 1;
  }
  const double W = 420, H = 160, left = 48, top = 10, right = 10, bottom = 22;
  const int64_t first = epochs.front(), last = epochs.back();
  auto X = [&](double e) { return left + (last > first ? (e - double(first)) / double(last - first) : 0.5) * (W - left - right); };
  auto Y = [&](double v) { return top + (1 - (v - lo) / (hi - lo)) * (H - top - bottom); };
  std::string svg = "<figure><svg id=\"" + id + "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fmt("%.0f", W) +
                    "\" height=\"" + fmt("%.0f", H) + "\"><rect x=\"" + fmt("%.0f", left) + "\" y=\"" +
                    fmt("%.0f", top) + "\" width=\"" + fmt("%.0f", W - left - right) + "\" height=\"" +
                    fmt("%.0f", H - top - bottom) + "\" fill=\"none\" stroke=\"#bbb\"/>";
  svg += "<text x=\"2\" y=\"" + fmt("%.0f", top + 10) + "\" font-size=\"10\">" + fmt("%.3g", hi) + "</text>";
  svg += "<text x=\"2\" y=\"" + fmt("%.0f", H - bottom) + "\" font-size=\"10\">" + fmt("%.3g", lo) + "</text>";
  svg += "<text x=\"" + fmt("%.0f", left) + "\" y=\"" + fmt("%.0f", H - 6) + "\" font-size=\"10\">epoch " +
         std::to_string(first) + "</text><text x=\"" + fmt("%.0f", W - right - 40) + "\" y=\"" +
         fmt("%.0f", H - 6) + "\" font-size=\"10\">epoch " + std::to_string(last) + "</text>";
  for (int64_t e : phaseStarts)
    if (e > first && e <= last)
      svg += "<line class=\"phase\" x1=\"" + fmt("%.1f", X(double(e) - 0.5)) + "\" x2=\"" +
             fmt("%.1f", X(double(e) - 0.5)) + "\" y1=\"" + fmt("%.0f", top) + "\" y2=\"" +
             fmt("%.0f", H - bottom) + "\" stroke=\"#888\" stroke-dasharray=\"4 3\"><title>phase starts at epoch " +
             std::to_string(e) + "</title></line>";
  std::string legend;
  for (size_t k = 0; k < series.size(); ++k) {
    const char *colour = kSeriesColours[k % 10];
    std::string points;
    for (size_t i = 0; i < epochs.size() && i < series[k].values.size(); ++i)
      if (std::isfinite(series[k].values[i]))
        points += fmt("%.1f,", X(double(epochs[i]))) + fmt("%.1f ", Y(series[k].values[i]));
    if (points.empty())
      continue;
    svg += "<polyline fill=\"none\" stroke=\"" + std::string(colour) + "\" stroke-width=\"2\" points=\"" + points +
           "\"><title>" + series[k].name + "</title></polyline>";
    legend += "<span style=\"color:" + std::string(colour) + "\">\u25A0 " + series[k].name + "</span> ";
  }
  return svg + "</svg><figcaption>" + title + "<br/>" + legend + "</figcaption></figure>";
}

} // namespace

std::string detail::trainingCurvesHtml(const std::vector<JsonValue> &log) {
  std::vector<int64_t> epochs, phaseStarts;
  std::vector<const JsonValue *> entries;
  for (const JsonValue &e : log) {
    const JsonValue *event = e.find("event");
    if (!event || !event->getString())
      continue;
    if (*event->getString() == "phase_start" && e.find("epoch"))
      phaseStarts.push_back(e.find("epoch")->intValue());
    if (*event->getString() == "epoch" && e.find("epoch")) {
      epochs.push_back(e.find("epoch")->intValue());
      entries.push_back(&e);
    }
  }
  if (entries.empty())
    return "";
  auto series = [&](const std::string &name, auto get) {
    Series s{name, {}};
    for (const JsonValue *e : entries)
      s.values.push_back(get(*e));
    return s;
  };
  std::string h = "<section id=\"training\"><h2>Training</h2><p>Per epoch, from log.jsonl; dashed lines: "
                  "phase starts.</p><div class=\"examples\">";
  h += lineChart("training-loss", "loss", epochs,
                 {series("train", [](const JsonValue &e) { return number(e.find("train_loss")); }),
                  series("validation", [](const JsonValue &e) { return number(e.find("val_loss")); })},
                 phaseStarts, 1, 0);
  std::vector<Series> metric;
  for (const char *key : {"val_top1", "val_top5", "val_miou", "val_map11"})
    if (entries.front()->find(key))
      metric.push_back(series(key, [key](const JsonValue &e) { return 100 * number(e.find(key)); }));
  if (!metric.empty())
    h += lineChart("training-metric", "validation metric (%)", epochs, metric, phaseStarts, 1, 0);
  // Layers in the order of the first epoch's entry.
  std::vector<std::string> layers;
  if (const JsonValue *l = entries.front()->find("layers"); l && l->getObject())
    for (const auto &[name, v] : *l->getObject())
      layers.push_back(name);
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string &L = layers[i];
    auto layerValue = [L](const JsonValue &e, const char *key, const char *sub) {
      const JsonValue *l = e.find("layers");
      const JsonValue *v = l ? l->find(L) : nullptr;
      v = v ? v->find(key) : nullptr;
      return number(v && sub ? v->find(sub) : v);
    };
    h += lineChart("training-routing" + std::to_string(i), L + ": router entropy / log E, I(expert; position) / min(log E, log P)",
                   epochs,
                   {series("entropy", [&](const JsonValue &e) { return layerValue(e, "entropy_normalized", nullptr); }),
                    series("I(expert; position)",
                           [&](const JsonValue &e) { return layerValue(e, "mi_position", "normalized"); })},
                   phaseStarts, 0, 1);
    std::vector<Series> usage;
    const JsonValue *first = entries.front()->find("layers")->find(L)->find("usage");
    const size_t experts = first && first->getArray() ? first->getArray()->size() : 0;
    for (size_t x = 0; x < experts; ++x)
      usage.push_back(series("expert " + std::to_string(x), [&, x](const JsonValue &e) {
        const JsonValue *l = e.find("layers");
        const JsonValue *u = l && l->find(L) ? l->find(L)->find("usage") : nullptr;
        return u && u->getArray() && x < u->getArray()->size() ? number(&u->getArray()->at(x)) : NAN;
      }));
    h += lineChart("training-usage" + std::to_string(i), L + ": expert usage (share of patches)", epochs, usage,
                   phaseStarts, 0, 1);
  }
  return h + "</div></section>";
}

} // namespace pce::rt
