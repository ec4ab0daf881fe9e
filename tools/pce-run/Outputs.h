//===- Outputs.h - what pce-run writes: results, routing report, errors ---===//
#ifndef PCE_TOOLS_PCE_RUN_OUTPUTS_H
#define PCE_TOOLS_PCE_RUN_OUTPUTS_H

#include "tools/pce-run/Options.h"

#include "runtime/Artifact.h"

#include <optional>
#include <string>
#include <utility>

namespace pce::run {

/// Prints "pce-run: error: MESSAGE"; returns the runtime-error exit status.
int runtimeError(const std::string &message);

/// Writes --output (the first output result) and --routing (every routing
/// result) when they were asked for.
rt::Status writeResults(const Options &o, const rt::EntryPoint &ep, const rt::BufferSpec &output,
                        const rt::TensorMap &results);

/// What the routing report knows beyond the routing results themselves.
struct ReportContext {
  const rt::HostTensor *labels = nullptr; // i64 [N], each in [0, classes)
  // Or dense labels: u8 masks [N, H, W] (imageSize) of class indices, 255
  // void; I(expert; class) then takes each patch's majority class (ties: the
  // lower class; a patch of void only is left out).
  const uint8_t *masks = nullptr;
  int64_t maskItems = 0; // images of `masks`
  int64_t classes = 0;
  std::optional<std::pair<int64_t, int64_t>> imageSize; // H, W of the input images
  // The images as run (f32 [>= N, C, H, W]): a few go into report.html.
  const rt::HostTensor *images = nullptr;
};

/// --routing: RDIR/report.json, report.md and report.html from every routing
/// result (already written as .npy by writeResults), the labels beside them
/// (RDIR/labels.npy i64 [N], or RDIR/masks.npy u8 [N, H, W] for dense heads:
/// what I(expert; class) and the class x expert matrix read), one summary line per layer
/// on stdout. A result that is not a routing distribution (NaN, negative
/// weights...) is left out of the report with a warning, not an error: its
/// .npy is written all the same.
rt::Status writeRoutingReportFiles(const Options &o, const rt::EntryPoint &ep, const rt::TensorMap &results,
                                   const ReportContext &ctx);

} // namespace pce::run

#endif // PCE_TOOLS_PCE_RUN_OUTPUTS_H
