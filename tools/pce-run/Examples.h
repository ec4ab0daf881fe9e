//===- Examples.h - images shown with their routing in report.html --------===//
//
// pce-run picks a few of the images it ran and hands them, encoded as PNG
// data: URIs, with each patch's top-1 expert and weight per routing result,
// to the routing report (rt::RoutingExample).
//
//===----------------------------------------------------------------------===//
#ifndef PCE_TOOLS_PCE_RUN_EXAMPLES_H
#define PCE_TOOLS_PCE_RUN_EXAMPLES_H

#include "runtime/HostTensor.h"
#include "runtime/RoutingReport.h"

#include <optional>
#include <vector>

namespace pce::run {

/// Image `i` of `images` (as below) with its routing in each of `weights`;
/// nullopt without the image codecs or for an image that is not there.
std::optional<rt::RoutingExample> routingExampleOf(const rt::HostTensor &images, int64_t i,
                                                   const rt::HostTensor *labels,
                                                   const std::vector<const rt::HostTensor *> &weights);

/// Up to `perClass` images of each of the first `classes` classes present in
/// `labels` (i64 [N]), or the first classes * perClass images without labels,
/// from `images` (f32 [>= N, C, H, W] as run, i.e. normalised; shown with each
/// image's range stretched to black..white, its first channel or RGB), with
/// their routing in each of `weights` ([N, P, E], the report's layers in
/// order). Empty when pce-run was built without the image codecs.
std::vector<rt::RoutingExample> routingExamples(const rt::HostTensor &images, int64_t n, const rt::HostTensor *labels,
                                                const std::vector<const rt::HostTensor *> &weights,
                                                int64_t classes = 4, int64_t perClass = 3);

} // namespace pce::run

#endif // PCE_TOOLS_PCE_RUN_EXAMPLES_H
