//===- RoutingReportHtml.cpp - the routing report as one static page -------===//
//
// report.html: every number of report.json that a person reads as a picture,
// drawn as inline SVG: no script, no network, no external file. The page is
// well-formed XML (XHTML syntax) so tests can parse it; ids name the sections
// (docs/Runtime.md).
//
//===----------------------------------------------------------------------===//

#include "runtime/Html.h"
#include "runtime/RoutingReport.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace pce::rt {

namespace {

std::string fmt(const char *format, double v) { return detail::formatNumber(format, v); }


// Ten colours that stay apart for people with the common colour-vision
// deficiencies (Okabe-Ito, then Tol's muted); further experts reuse them.
const char *const kPalette[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9",
                                "#D55E00", "#F0E442", "#332288", "#882255", "#999933"};

std::string colour(int64_t expert) { return kPalette[expert % 10]; }

// A horizontal bar chart: one bar per value in [0, 1], labelled.
std::string bars(const std::string &id, const std::vector<std::string> &labels, const std::vector<double> &values,
                 const std::vector<std::string> &colours, const char *valueFormat) {
  const int rowH = 20, labelW = 90, barW = 320;
  const int height = rowH * int(values.size()) + 8;
  std::string svg = "<svg id=\"" + id + "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    std::to_string(labelW + barW + 80) + "\" height=\"" + std::to_string(height) + "\">";
  for (size_t i = 0; i < values.size(); ++i) {
    const int y = int(i) * rowH + 4;
    const double v = std::clamp(values[i], 0.0, 1.0);
    svg += "<text x=\"0\" y=\"" + std::to_string(y + 14) + "\" font-size=\"12\">" + escapeHtml(labels[i]) + "</text>";
    svg += "<rect x=\"" + std::to_string(labelW) + "\" y=\"" + std::to_string(y) + "\" width=\"" +
           fmt("%.1f", v * barW) + "\" height=\"" + std::to_string(rowH - 4) + "\" fill=\"" + colours[i] +
           "\" data-value=\"" + fmt("%.6f", values[i]) + "\"/>";
    svg += "<text x=\"" + fmt("%.1f", labelW + v * barW + 4) + "\" y=\"" + std::to_string(y + 14) +
           "\" font-size=\"12\">" + fmt(valueFormat, 100 * values[i]) + "</text>";
  }
  return svg + "</svg>";
}

// The dominant expert of each patch position on the patch grid: colour by
// expert, opacity by the share of images choosing it.
std::string dominantMap(const RoutingLayerReport &r, const std::string &id) {
  const int64_t rows = r.grid ? r.grid->first : 1, cols = r.grid ? r.grid->second : r.patches;
  const int cell = int(std::clamp<int64_t>(360 / std::max<int64_t>(cols, 1), 14, 56));
  std::string svg = "<svg id=\"" + id + "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    std::to_string(cols * cell + 2) + "\" height=\"" + std::to_string(rows * cell + 2) + "\">";
  for (int64_t p = 0; p < r.patches; ++p) {
    const int64_t e = r.dominant[p];
    const double share = r.mapAt(p, e);
    const int64_t x = (p % cols) * cell + 1, y = (p / cols) * cell + 1;
    svg += "<rect x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(y) + "\" width=\"" +
           std::to_string(cell - 1) + "\" height=\"" + std::to_string(cell - 1) + "\" fill=\"" + colour(e) +
           "\" fill-opacity=\"" + fmt("%.3f", 0.15 + 0.85 * share) + "\" data-patch=\"" + std::to_string(p) +
           "\" data-expert=\"" + std::to_string(e) + "\" data-share=\"" + fmt("%.6f", share) + "\"><title>patch " +
           std::to_string(p) + ": expert " + std::to_string(e) + ", " + fmt("%.1f%%", 100 * share) +
           " of images</title></rect>";
    if (cell >= 24)
      svg += "<text x=\"" + std::to_string(x + cell / 2 - 4) + "\" y=\"" + std::to_string(y + cell / 2 + 4) +
             "\" font-size=\"11\">" + std::to_string(e) + "</text>";
  }
  return svg + "</svg>";
}

// Vertical bars of the entropy histogram.
std::string entropyChart(const RoutingLayerReport &r, const std::string &id) {
  const int barW = 30, height = 120;
  const int64_t bins = int64_t(r.entropyHistogram.size());
  std::string svg = "<svg id=\"" + id + "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    std::to_string(bins * barW + 10) + "\" height=\"" + std::to_string(height + 20) + "\">";
  for (int64_t i = 0; i < bins; ++i) {
    const double v = std::clamp(r.entropyHistogram[i], 0.0, 1.0);
    const double h = v * height;
    svg += "<rect x=\"" + std::to_string(i * barW + 2) + "\" y=\"" + fmt("%.1f", height - h) + "\" width=\"" +
           std::to_string(barW - 4) + "\" height=\"" + fmt("%.1f", h) + "\" fill=\"#555\" data-value=\"" +
           fmt("%.6f", r.entropyHistogram[i]) + "\"><title>" + fmt("%.1f", double(i) / double(bins)) + "-" +
           fmt("%.1f", double(i + 1) / double(bins)) + ": " + fmt("%.1f%%", 100 * r.entropyHistogram[i]) +
           "</title></rect>";
    svg += "<text x=\"" + std::to_string(i * barW + 4) + "\" y=\"" + std::to_string(height + 14) +
           "\" font-size=\"10\">" + fmt("%.1f", double(i) / double(bins)) + "</text>";
  }
  return svg + "</svg>";
}

std::string classMatrix(const RoutingLayerReport &r, const std::string &id) {
  std::string t = "<table id=\"" + id + "\" class=\"matrix\"><tr><th>class</th>";
  for (int64_t e = 0; e < r.experts; ++e)
    t += "<th style=\"color:" + colour(e) + "\">" + std::to_string(e) + "</th>";
  t += "</tr>";
  for (int64_t c = 0; c < r.classes; ++c) {
    t += "<tr><th>" + std::to_string(c) + "</th>";
    for (int64_t e = 0; e < r.experts; ++e) {
      const double v = r.classExpert[c * r.experts + e];
      t += "<td style=\"background:rgba(0,114,178," + fmt("%.3f", v) + ")\" data-value=\"" + fmt("%.6f", v) +
           "\">" + fmt("%.1f", 100 * v) + "</td>";
    }
    t += "</tr>";
  }
  return t + "</table>";
}

std::string statsTable(const RoutingLayerReport &r) {
  std::string t = "<table class=\"stats\"><tr><th>quantity</th><th>nats</th><th>normalised</th></tr>";
  auto row = [&](const char *label, const NatsStat &s) {
    t += std::string("<tr><td>") + label + "</td><td>" + fmt("%.4f", s.nats) + "</td><td>" +
         fmt("%.4f", s.normalized) + "</td></tr>";
  };
  row("router entropy", r.entropy);
  row("I(expert; position)", r.positionMI);
  if (r.classMI)
    row("I(expert; class)", *r.classMI);
  t += "<tr><td>load balance</td><td colspan=\"2\">" + fmt("%.4f", r.loadBalance) + "</td></tr>";
  return t + "</table>";
}

// One image, each patch outlined in its top-1 expert's colour (layer
// `index`) and tinted by its weight; "" when its routing does not fit.
std::string exampleFigure(const RoutingReport &report, const RoutingLayerReport &r, size_t index,
                          const RoutingExample &ex, const std::string &caption) {
  if (!report.imageSize || !r.grid || index >= ex.expert.size() || int64_t(ex.expert[index].size()) != r.patches)
    return "";
  const auto [H, W] = *report.imageSize;
  const int64_t rows = r.grid->first, cols = r.grid->second;
  // About 112 pixels on the longer side, at least the patch grid.
  const double scale = std::max(112.0 / double(std::max(H, W)), 1.0);
  const double w = double(W) * scale, h = double(H) * scale, ph = h / double(rows), pw = w / double(cols);
  std::string out = "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fmt("%.0f", w) +
                    "\" height=\"" + fmt("%.0f", h) + "\"><image href=\"" + ex.imageUri + "\" width=\"" +
                    fmt("%.0f", w) + "\" height=\"" + fmt("%.0f", h) + "\" style=\"image-rendering:pixelated\"/>";
  for (int64_t p = 0; p < r.patches; ++p) {
    const int64_t e = ex.expert[index][p];
    const double wt = std::clamp(ex.weight[index][p], 0.0, 1.0);
    out += "<rect x=\"" + fmt("%.1f", double(p % cols) * pw + 1) + "\" y=\"" +
           fmt("%.1f", double(p / cols) * ph + 1) + "\" width=\"" + fmt("%.1f", pw - 2) + "\" height=\"" +
           fmt("%.1f", ph - 2) + "\" fill=\"" + colour(e) + "\" fill-opacity=\"" + fmt("%.3f", 0.35 * wt) +
           "\" stroke=\"" + colour(e) + "\" stroke-opacity=\"" + fmt("%.3f", 0.3 + 0.7 * wt) +
           "\" stroke-width=\"2\" data-expert=\"" + std::to_string(e) + "\" data-weight=\"" +
           fmt("%.6f", ex.weight[index][p]) + "\"/>";
  }
  return out + "</svg><figcaption>" + escapeHtml(caption) + "</figcaption></figure>";
}

std::string exampleCaption(const RoutingExample &ex) {
  return "image " + std::to_string(ex.item) + (ex.label >= 0 ? ", class " + std::to_string(ex.label) : std::string());
}

std::string exampleGrid(const RoutingReport &report, const RoutingLayerReport &r, size_t index,
                        const std::string &id) {
  std::string figures;
  for (const RoutingExample &ex : report.examples)
    figures += exampleFigure(report, r, index, ex, exampleCaption(ex));
  return figures.empty() ? "" : "<div id=\"" + id + "\" class=\"examples\">" + figures + "</div>";
}

// Route clusters: sizes, silhouette, and each cluster's exemplar drawn with
// the first layer's routing.
std::string clusterSection(const RoutingReport &report) {
  if (!report.clusters)
    return "";
  const RouteClusters &k = *report.clusters;
  std::string s = "<section id=\"clusters\"><h2>Route clusters</h2><p>k-means (k = " + std::to_string(k.k) +
                  ") over each image's routing through every layer; silhouette " + fmt("%.3f", k.silhouette) +
                  " over " + std::to_string(k.silhouetteImages) +
                  " images (1: well separated, 0: overlapping, below 0: misassigned).</p>";
  std::vector<std::string> labels, colours;
  std::vector<double> shares;
  int64_t total = 0;
  for (int64_t n : k.sizes)
    total += n;
  for (int64_t c = 0; c < k.k; ++c) {
    labels.push_back("cluster " + std::to_string(c));
    colours.push_back("#555");
    shares.push_back(total ? double(k.sizes[size_t(c)]) / double(total) : 0.0);
  }
  s += bars("clusters-sizes", labels, shares, colours, "%.1f%%");
  if (!report.layers.empty()) {
    std::string figures;
    for (size_t c = 0; c < report.clusterExemplars.size(); ++c) {
      const RoutingExample &ex = report.clusterExemplars[c];
      figures += exampleFigure(report, report.layers[0], 0, ex,
                               "cluster " + std::to_string(c) + ": " + exampleCaption(ex));
    }
    if (!figures.empty())
      s += "<p>Exemplars (the image nearest each cluster's centre), with " + escapeHtml(report.layers[0].name) +
           ":</p><div id=\"clusters-exemplars\" class=\"examples\">" + figures + "</div>";
  }
  return s + "</section>";
}

std::string pathText(const RoutingPath &p) {
  std::string t;
  for (size_t l = 0; l < p.experts.size(); ++l)
    t += (l ? " \u2192 " : "") + std::to_string(p.experts[l]);
  return t;
}

// Routing paths: the most frequent expert sequences through the layers, and
// each position's most frequent one on the first layer's grid.
std::string pathSection(const RoutingReport &report) {
  if (!report.paths || report.layers.empty() || !report.layers[0].grid)
    return "";
  const RoutingPaths &paths = *report.paths;
  std::string names;
  for (size_t l = 0; l < report.layers.size(); ++l)
    names += (l ? " \u2192 " : "") + report.layers[l].name;
  std::string s = "<section id=\"paths\"><h2>Routing paths</h2><p>The top-1 expert of each layer (" +
                  escapeHtml(names) + ") for each patch position of the first layer, followed into the later layers' "
                  "patch at the same place; " + std::to_string(paths.distinct) + " distinct paths.</p>";
  std::vector<std::string> labels, colours;
  std::vector<double> shares;
  for (const RoutingPath &p : paths.top) {
    labels.push_back(pathText(p));
    colours.push_back(colour(p.experts.back()));
    shares.push_back(p.share);
  }
  s += bars("paths-top", labels, shares, colours, "%.1f%%");
  const int64_t cols = report.layers[0].grid->second;
  s += "<p>Each position's most frequent path (share of images):</p><table id=\"paths-positions\">";
  for (int64_t p = 0; p < paths.positions; ++p) {
    if (p % cols == 0)
      s += (p ? "</tr>" : "") + std::string("<tr>");
    s += "<td data-share=\"" + fmt("%.6f", paths.perPosition[size_t(p)].share) + "\">" +
         pathText(paths.perPosition[size_t(p)]) + "<br/>" + fmt("%.0f%%", 100 * paths.perPosition[size_t(p)].share) +
         "</td>";
  }
  return s + "</tr></table></section>";
}

std::string layerSection(const RoutingReport &report, const RoutingLayerReport &r, size_t index) {
  const std::string id = "layer" + std::to_string(index);
  std::string s = "<section id=\"" + id + "\" class=\"layer\"><h2>" + escapeHtml(r.name) + "</h2>";
  s += "<p>" + std::to_string(r.items) + " images, " + std::to_string(r.patches) + " patches";
  if (r.grid)
    s += " (" + std::to_string(r.grid->first) + " x " + std::to_string(r.grid->second) + " grid)";
  s += ", " + std::to_string(r.experts) + " experts.</p>";
  if (!r.warnings.empty()) {
    s += "<ul id=\"" + id + "-warnings\" class=\"warnings\">";
    for (const std::string &w : r.warnings)
      s += "<li>" + escapeHtml(w) + "</li>";
    s += "</ul>";
  }
  s += statsTable(r);
  if (std::string grid = exampleGrid(report, r, index, id + "-examples"); !grid.empty())
    s += "<h3>Example images</h3><p>Each patch outlined in the colour of its top-1 expert; the stronger "
         "the colour, the larger that expert's weight.</p>" +
         grid;
  std::vector<std::string> labels, colours;
  for (int64_t e = 0; e < r.experts; ++e) {
    labels.push_back("expert " + std::to_string(e));
    colours.push_back(colour(e));
  }
  s += "<h3>Usage (share of patches whose top-1 expert it is)</h3>" +
       bars(id + "-usage", labels, r.usage, colours, "%.1f%%");
  s += "<h3>Mean routing weight</h3>" + bars(id + "-weight", labels, r.meanWeight, colours, "%.1f%%");
  s += "<h3>Dominant expert per patch position</h3><p>Colour: the expert most images send the patch to; "
       "opacity: the share of images that do.</p>" +
       dominantMap(r, id + "-map");
  s += "<h3>Router entropy / log E per patch</h3>" + entropyChart(r, id + "-entropy");
  if (!r.classExpert.empty())
    s += "<h3>Class x expert (% of each class's patches)</h3>" + classMatrix(r, id + "-classes");
  return s + "</section>";
}

} // namespace

std::string routingReportHtml(const RoutingReport &report) {
  std::string h = "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head>"
                  "<meta charset=\"utf-8\"/><title>PCE routing report</title><style>"
                  "body{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}"
                  "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;"
                  "text-align:right}.warnings li{color:#b00020;font-weight:bold}"
                  "section.layer{border-top:2px solid #888;margin-top:2em}"
                  ".examples{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0;font-size:11px}</style></head><body>";
  h += "<h1>Routing report</h1><p id=\"summary\">" + std::to_string(report.items) +
       (report.items == 1 ? " image" : " images");
  if (report.imageSize)
    h += " of " + std::to_string(report.imageSize->first) + " x " + std::to_string(report.imageSize->second);
  if (report.classes > 0)
    h += ", labelled (" + std::to_string(report.classes) + " classes)";
  h += ". Entropy and mutual information in nats; every number is also in report.json.</p>";
  h += detail::trainingCurvesHtml(report.trainingLog);
  h += clusterSection(report);
  h += pathSection(report);
  for (size_t i = 0; i < report.layers.size(); ++i)
    h += layerSection(report, report.layers[i], i);
  if (!report.skipped.empty()) {
    h += "<section id=\"skipped\"><h2>Not reported</h2><ul>";
    for (const auto &[name, error] : report.skipped)
      h += "<li>" + escapeHtml(name) + ": " + escapeHtml(error) + "</li>";
    h += "</ul></section>";
  }
  return h + "</body></html>\n";
}

} // namespace pce::rt
