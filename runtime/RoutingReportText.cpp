//===- RoutingReportText.cpp - the routing report for people ---------------===//
//
// report.md, the terminal's summary lines and the warnings a person should
// read first; the numbers are RoutingReport.cpp's.
//
//===----------------------------------------------------------------------===//

#include "runtime/RoutingReport.h"

#include <algorithm>
#include <cstdio>

namespace pce::rt {

namespace {

std::string fmt(const char *format, double v) { return detail::formatNumber(format, v); }

} // namespace

std::vector<std::string> routingWarnings(const std::vector<double> &usage) {
  std::vector<std::string> out;
  const int64_t E = int64_t(usage.size());
  if (E < 2)
    return out;
  const int64_t top = int64_t(std::max_element(usage.begin(), usage.end()) - usage.begin());
  const bool collapsed = usage[top] >= kCollapsedUsage;
  if (collapsed)
    out.push_back("the router has collapsed: expert " + std::to_string(top) + " takes " +
                  fmt("%.1f%%", 100 * usage[top]) + " of patches (" + fmt("%.0f%%", 100 * kCollapsedUsage) +
                  " or more)");
  const double balanced = 1.0 / double(E);
  for (int64_t e = 0; e < E; ++e) {
    if (usage[e] < kDeadUsage)
      out.push_back("expert " + std::to_string(e) + " is dead: " + fmt("%.1f%%", 100 * usage[e]) +
                    " of patches (below " + fmt("%.0f%%", 100 * kDeadUsage) + ")");
    else if (!collapsed && E >= 3 && usage[e] > kOverloadFactor * balanced)
      out.push_back("expert " + std::to_string(e) + " is overloaded: " + fmt("%.1f%%", 100 * usage[e]) +
                    " of patches (more than " + fmt("%.0f", kOverloadFactor) + " x the balanced " +
                    fmt("%.1f%%", 100 * balanced) + ")");
  }
  return out;
}

std::string routingReportMarkdown(const RoutingReport &report) {
  std::string md = "# Routing report\n\n";
  md += std::to_string(report.items) + (report.items == 1 ? " image" : " images");
  if (report.imageSize)
    md += " of " + std::to_string(report.imageSize->first) + " x " + std::to_string(report.imageSize->second);
  if (report.classes > 0)
    md += ", labelled (" + std::to_string(report.classes) + " classes)";
  md += ".\nEntropy and mutual information in nats; normalised: entropy / log E, "
        "I(expert; position) / min(log E, log P), I(expert; class) / min(log E, log classes).\n";

  for (const auto &r : report.layers) {
    md += "\n## " + r.name + "\n\n";
    md += std::to_string(r.items) + " images, " + std::to_string(r.patches) + " patches";
    if (r.grid)
      md += " (" + std::to_string(r.grid->first) + " x " + std::to_string(r.grid->second) + " grid)";
    md += ", " + std::to_string(r.experts) + " experts.\n\n";    for (const std::string &w : r.warnings)
      md += "**Warning**: " + w + ".\n\n";
    md += "| quantity | nats | normalised |\n|---|---:|---:|\n";
    auto row = [&](const char *label, const NatsStat &s) {
      md += std::string("| ") + label + " | " + fmt("%.4f", s.nats) + " | " + fmt("%.4f", s.normalized) + " |\n";
    };
    row("router entropy", r.entropy);
    row("I(expert; position)", r.positionMI);
    if (r.classMI)
      row("I(expert; class)", *r.classMI);
    md += "\n| expert | usage | mean weight |\n|---:|---:|---:|\n";
    for (int64_t e = 0; e < r.experts; ++e)
      md += "| " + std::to_string(e) + " | " + fmt("%.2f%%", 100 * r.usage[e]) + " | " +
            fmt("%.4f", r.meanWeight[e]) + " |\n";
    md += "\nLoad balance E * sum_e usage_e * mean_weight_e: " + fmt("%.4f", r.loadBalance) +
          " (1 when balanced and each patch's weights sum to 1).\n\n";
    md += "Patches by router entropy / log E:";
    for (int64_t i = 0; i < int64_t(r.entropyHistogram.size()); ++i)
      md += (i ? ", " : " ") + fmt("[%.1f", double(i) / double(kEntropyBins)) +
            fmt(", %.1f", double(i + 1) / double(kEntropyBins)) + (i + 1 == kEntropyBins ? "] " : ") ") +
            fmt("%.1f%%", 100 * r.entropyHistogram[i]);
    md += ".\n\n";
    if (!r.classExpert.empty()) {
      md += "Class x expert: of each class's patches, the share whose top-1 expert is e:\n\n| class |";
      for (int64_t e = 0; e < r.experts; ++e)
        md += " " + std::to_string(e) + " |";
      md += "\n|---:|";
      for (int64_t e = 0; e < r.experts; ++e)
        md += "---:|";
      md += "\n";
      for (int64_t c = 0; c < r.classes; ++c) {
        md += "| " + std::to_string(c) + " |";
        for (int64_t e = 0; e < r.experts; ++e)
          md += " " + fmt("%.1f%%", 100 * r.classExpert[c * r.experts + e]) + " |";
        md += "\n";
      }
      md += "\n";
    }
    auto cell = [&](int64_t p) {
      int64_t e = r.dominant[p];
      return std::to_string(e) + " (" + fmt("%.0f%%", 100 * r.mapAt(p, e)) + ")";
    };
    if (r.grid) {
      const int64_t rows = r.grid->first, cols = r.grid->second;
      md += "Dominant expert per patch position (share of images choosing it), patch rows x columns:\n\n";
      md += "| |";
      for (int64_t b = 0; b < cols; ++b)
        md += " " + std::to_string(b) + " |";
      md += "\n|---:|";
      for (int64_t b = 0; b < cols; ++b)
        md += "---:|";
      md += "\n";
      for (int64_t a = 0; a < rows; ++a) {
        md += "| " + std::to_string(a) + " |";
        for (int64_t b = 0; b < cols; ++b)
          md += " " + cell(a * cols + b) + " |";
        md += "\n";
      }
    } else {
      md += "Dominant expert per patch position (share of images choosing it):\n\n"
            "| patch | dominant expert |\n|---:|---:|\n";
      for (int64_t p = 0; p < r.patches; ++p)
        md += "| " + std::to_string(p) + " | " + cell(p) + " |\n";
    }
  }
  if (report.paths) {
    md += "\n## Routing paths\n\nTop-1 experts through the layers, per patch position of the first layer (" +
          std::to_string(report.paths->distinct) + " distinct paths); the most frequent:\n\n"
          "| path | share |\n|---|---:|\n";
    for (const RoutingPath &p : report.paths->top) {
      std::string text;
      for (size_t l = 0; l < p.experts.size(); ++l)
        text += (l ? " -> " : "") + std::to_string(p.experts[l]);
      md += "| " + text + " | " + fmt("%.1f%%", 100 * p.share) + " |\n";
    }
  }
  if (report.clusters)
    md += "\n## Route clusters\n\nk-means, k = " + std::to_string(report.clusters->k) + ", silhouette " +
          fmt("%.3f", report.clusters->silhouette) + "; cluster sizes in images: " + [&] {
            std::string sizes;
            for (int64_t n : report.clusters->sizes)
              sizes += (sizes.empty() ? "" : ", ") + std::to_string(n);
            return sizes;
          }() + ".\n";
  if (!report.skipped.empty()) {
    md += "\n## Not reported\n\n";
    for (const auto &[name, error] : report.skipped)
      md += "- " + name + ": " + error + "\n";
  }
  return md;
}

std::vector<std::string> routingSummaryLines(const RoutingReport &report) {
  std::vector<std::string> lines;
  for (const auto &r : report.layers) {
    std::string line = "routing " + r.name + ": entropy " + fmt("%.4f", r.entropy.nats) + " nats (" +
                       fmt("%.4f", r.entropy.normalized) + " of log " + std::to_string(r.experts) + "), usage";
    for (double u : r.usage)
      line += " " + fmt("%.1f%%", 100 * u);
    line += ", I(expert;position) " + fmt("%.4f", r.positionMI.nats) + " nats (" +
            fmt("%.4f", r.positionMI.normalized) + ")";
    if (r.classMI)
      line += ", I(expert;class) " + fmt("%.4f", r.classMI->nats) + " nats (" +
              fmt("%.4f", r.classMI->normalized) + ")";
    lines.push_back(std::move(line));
    for (const std::string &w : r.warnings)
      lines.push_back("warning: " + r.name + ": " + w);
  }
  return lines;
}

} // namespace pce::rt
