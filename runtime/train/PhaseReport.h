//===- PhaseReport.h - the routing report at the end of each phase --------===//
//
// pce-train writes RUN/report/phase<N>/report.{json,md,html} when phase N
// ends: the routing report of pce-run --routing (runtime/RoutingReport.h:
// statistics, warnings, route clusters, routing paths, class x expert with
// the images' labels) on the validation split, with the training curves of
// log.jsonl so far. Layers are named as in pce-run's reports
// ("<layer>.routing"). Example images come from the first 512 validation
// images (and each route cluster's exemplar) where the data-set library,
// with its PNG encoder, is built.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_TRAIN_PHASEREPORT_H
#define PCE_RUNTIME_TRAIN_PHASEREPORT_H

#include "runtime/Json.h"
#include "runtime/train/Data.h"
#include "runtime/train/Network.h"

#include <string>
#include <vector>

namespace pce::train {

// Evaluates `net` on `validation` and writes the report into `dir` (created);
// `classes` > 0 with classification labels adds I(expert; class). Returns the
// report's terminal lines (routingSummaryLines).
std::vector<std::string> writePhaseReport(const std::string &dir, Network &net, const Dataset &validation,
                                          int64_t batch, int64_t chunks, int64_t classes,
                                          const std::vector<rt::JsonValue> &log);

} // namespace pce::train

#endif // PCE_RUNTIME_TRAIN_PHASEREPORT_H
