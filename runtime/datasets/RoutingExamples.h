//===- RoutingExamples.h - images shown with their routing in report.html -===//
//
// pce-run (on the images it ran) and pce-train (on the validation split, at
// the end of each phase) pick a few images and hand them, encoded as PNG
// data: URIs, with each patch's top-1 expert and weight per routing result,
// to the routing report (rt::RoutingExample). Part of the data-set library
// for its PNG encoder.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_DATASETS_ROUTINGEXAMPLES_H
#define PCE_RUNTIME_DATASETS_ROUTINGEXAMPLES_H

#include "runtime/HostTensor.h"
#include "runtime/RoutingReport.h"

#include <optional>
#include <vector>

namespace pce::rt {

/// Item `item` of `labels` and `weights` (as below), shown as image `row` of
/// `images`; nullopt for an image or item that is not there.
std::optional<RoutingExample> routingExampleOf(const HostTensor &images, int64_t row, int64_t item,
                                               const HostTensor *labels,
                                               const std::vector<const HostTensor *> &weights);

/// Up to `perClass` images of each of the first `classes` classes present in
/// `labels` (i64 [N]), or the first classes * perClass images without labels,
/// from `images` (f32 [>= N, C, H, W] as run, i.e. normalised; shown with each
/// image's range stretched to black..white, its first channel or RGB), with
/// their routing in each of `weights` ([N, P, E], the report's layers in
/// order).
std::vector<RoutingExample> routingExamples(const HostTensor &images, int64_t n, const HostTensor *labels,
                                            const std::vector<const HostTensor *> &weights, int64_t classes = 4,
                                            int64_t perClass = 3);

} // namespace pce::rt

#endif // PCE_RUNTIME_DATASETS_ROUTINGEXAMPLES_H
