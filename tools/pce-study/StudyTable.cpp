//===- StudyTable.cpp - the study's table in Markdown and HTML ------------===//

#include "StudyTable.h"

#include "Study.h"

#include "runtime/Html.h"

#include <cmath>
#include <cstdio>
#include <map>

namespace pce::study {
namespace {

using rt::escapeHtml;
using rt::JsonValue;

// The metrics a table may show, in this order, when some run has them.
// Shares (top-1, mIoU, mAP) are printed in percent.
const char *const kMetrics[] = {"test_top1", "test_top5",         "test_miou", "test_pixel_accuracy",
                                "test_map11", "test_map_all",     "val_top1",  "val_miou",
                                "val_map11",  "min_expert_usage"};

const char *heading(const std::string &m) {
  static const std::map<std::string, const char *> names = {
      {"test_top1", "test top-1 %"},       {"test_top5", "test top-5 %"},
      {"test_miou", "test mIoU %"},        {"test_pixel_accuracy", "test pixel acc. %"},
      {"test_map11", "test mAP (11-pt) %"}, {"test_map_all", "test mAP (all-pt) %"},
      {"val_top1", "val top-1 %"},         {"val_miou", "val mIoU %"},
      {"val_map11", "val mAP %"},          {"min_expert_usage", "least-used expert %"}};
  return names.at(m);
}

struct Row {
  const Variant *variant = nullptr;
  size_t ok = 0, failed = 0;
  std::map<std::string, MeanStd> metrics;
  MeanStd wall, parameters;
};

double number(const JsonValue &o, const char *key, double fallback = NAN) {
  const JsonValue *v = o.find(key);
  return v && v->isNumber() ? v->numberValue() : fallback;
}

// Rows in the study's order and the metric columns some run has.
std::vector<Row> rows(const Study &study, const std::vector<JsonValue> &records, std::vector<std::string> &columns) {
  std::vector<Row> out;
  std::map<std::string, bool> present;
  for (const Variant &v : study.variants) {
    Row row;
    row.variant = &v;
    std::map<std::string, std::vector<double>> values;
    std::vector<double> wall, params;
    for (const JsonValue &r : records) {
      const JsonValue *name = r.find("variant");
      if (!name || !name->getString() || *name->getString() != v.name)
        continue;
      const JsonValue *status = r.find("status");
      if (!status || !status->getString() || *status->getString() != "ok") {
        ++row.failed;
        continue;
      }
      ++row.ok;
      if (const JsonValue *m = r.find("metrics"); m && m->isObject())
        for (const char *key : kMetrics)
          if (double x = number(*m, key); !std::isnan(x)) {
            values[key].push_back(x);
            present[key] = true;
          }
      wall.push_back(number(r, "wall_seconds"));
      params.push_back(number(r, "parameters"));
    }
    for (const auto &[key, xs] : values)
      row.metrics[key] = meanStd(xs);
    row.wall = meanStd(wall);
    row.parameters = meanStd(params);
    out.push_back(std::move(row));
  }
  for (const char *key : kMetrics)
    if (present.count(key))
      columns.push_back(key);
  return out;
}

std::string format(const char *fmt, double a, double b = 0) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, a, b);
  return buf;
}

std::string cell(const Row &row, const std::string &column) {
  auto it = row.metrics.find(column);
  if (it == row.metrics.end() || it->second.n == 0)
    return "–";
  const MeanStd &m = it->second;
  return m.n > 1 ? format("%.2f ± %.2f", 100 * m.mean, 100 * m.std) : format("%.2f", 100 * m.mean);
}

std::string wallCell(const Row &row) {
  if (row.wall.n == 0 || std::isnan(row.wall.mean))
    return "–";
  return format("%.0f s", row.wall.mean);
}

std::string paramCell(const Row &row) {
  if (row.parameters.n == 0 || std::isnan(row.parameters.mean))
    return "–";
  return format("%.0f", row.parameters.mean);
}

std::string runsCell(const Study &study, const Row &row) {
  std::string s = std::to_string(row.ok) + "/" + std::to_string(study.seeds.size());
  if (row.failed)
    s += " (" + std::to_string(row.failed) + " failed)";
  return s;
}

std::string seedsText(const Study &study) {
  std::string s;
  for (int64_t seed : study.seeds)
    s += (s.empty() ? "" : ", ") + std::to_string(seed);
  return s;
}

} // namespace

MeanStd meanStd(const std::vector<double> &values) {
  MeanStd m;
  std::vector<double> xs;
  for (double x : values)
    if (!std::isnan(x))
      xs.push_back(x);
  m.n = xs.size();
  if (xs.empty()) {
    m.mean = m.std = NAN;
    return m;
  }
  double sum = 0;
  for (double x : xs)
    sum += x;
  m.mean = sum / static_cast<double>(xs.size());
  if (xs.size() > 1) {
    double ss = 0;
    for (double x : xs)
      ss += (x - m.mean) * (x - m.mean);
    m.std = std::sqrt(ss / static_cast<double>(xs.size() - 1));
  }
  return m;
}

std::string studyTableMarkdown(const Study &study, const std::vector<JsonValue> &records) {
  std::vector<std::string> columns;
  std::vector<Row> table = rows(study, records, columns);
  std::string md = "Study `" + study.name + "`: mean ± sample standard deviation over seeds " + seedsText(study) +
                   " (runs with status ok).\n\n| variant | runs |";
  std::string rule = "|---|---:|";
  for (const std::string &c : columns) {
    md += std::string(" ") + heading(c) + " |";
    rule += "---:|";
  }
  md += " parameters | wall time (mean) | note |\n" + rule + "---:|---:|---|\n";
  for (const Row &row : table) {
    md += "| " + row.variant->name + " | " + runsCell(study, row) + " |";
    for (const std::string &c : columns)
      md += " " + cell(row, c) + " |";
    md += " " + paramCell(row) + " | " + wallCell(row) + " | " + row.variant->note + " |\n";
  }
  return md;
}

std::string studyTableHtml(const Study &study, const std::vector<JsonValue> &records) {
  std::vector<std::string> columns;
  std::vector<Row> table = rows(study, records, columns);
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>study " +
                  escapeHtml(study.name) +
                  "</title>\n<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
                  "td,th{border:1px solid #ccc;padding:4px 8px}td.n{text-align:right;font-variant-numeric:"
                  "tabular-nums}th{background:#f4f4f4}</style></head>\n<body>\n<h1>Study " +
                  escapeHtml(study.name) + "</h1>\n<p>Mean ± sample standard deviation over seeds " +
                  seedsText(study) + " (runs with status ok); study.jsonl holds every run.</p>\n<table id=\"study\">\n"
                  "<tr><th>variant</th><th>runs</th>";
  for (const std::string &c : columns)
    h += std::string("<th>") + escapeHtml(heading(c)) + "</th>";
  h += "<th>parameters</th><th>wall time (mean)</th><th>note</th></tr>\n";
  for (const Row &row : table) {
    h += "<tr><td>" + escapeHtml(row.variant->name) + "</td><td class=\"n\">" + escapeHtml(runsCell(study, row)) +
         "</td>";
    for (const std::string &c : columns)
      h += "<td class=\"n\">" + escapeHtml(cell(row, c)) + "</td>";
    h += "<td class=\"n\">" + paramCell(row) + "</td><td class=\"n\">" + wallCell(row) + "</td><td>" +
         escapeHtml(row.variant->note) + "</td></tr>\n";
  }
  h += "</table>\n</body></html>\n";
  return h;
}

} // namespace pce::study
