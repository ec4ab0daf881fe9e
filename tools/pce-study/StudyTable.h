//===- StudyTable.h - mean +- std per variant from study.jsonl ------------===//
//
// Each line of study.jsonl is one finished run (status "ok" or "failed"):
// its variant and seed, the metrics of its summary.json (test_*, the last
// phase's val_*), wall time, parameters and routing usage per PCE layer.
// The table aggregates the runs with status "ok" of each variant: mean and
// sample standard deviation (n - 1) over seeds.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_TOOLS_PCE_STUDY_STUDYTABLE_H
#define PCE_TOOLS_PCE_STUDY_STUDYTABLE_H

#include "runtime/Json.h"

#include <string>
#include <vector>

namespace pce::study {

struct Study;

// mean and sample standard deviation (0 for one value); nan for none.
struct MeanStd {
  double mean = 0, std = 0;
  size_t n = 0;
};
MeanStd meanStd(const std::vector<double> &values);

// The table as Markdown and as a static HTML page (no scripts, no network).
std::string studyTableMarkdown(const Study &study, const std::vector<rt::JsonValue> &records);
std::string studyTableHtml(const Study &study, const std::vector<rt::JsonValue> &records);

} // namespace pce::study

#endif // PCE_TOOLS_PCE_STUDY_STUDYTABLE_H
