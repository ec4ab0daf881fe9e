//===- DataRun.h - pce-run on a whole data set ----------------------------===//
#ifndef PCE_TOOLS_PCE_RUN_DATARUN_H
#define PCE_TOOLS_PCE_RUN_DATARUN_H

#include "tools/pce-run/Options.h"

#include "runtime/Artifact.h"
#include "runtime/DataDescription.h"

#include <optional>

namespace pce::run {

/// --idx-images, or --data in --data-format: the whole data set through the
/// entry point's single input, k compiled batches in one run() (the runtime
/// spreads them over threads); prints the accuracy given labels. `trained` is
/// how the weights' training made its inputs (their pce.data.* metadata):
/// its normalisation is used unless --normalize says otherwise (then a
/// warning), its format unless --data-format says. Returns the exit status.
int runData(const Options &o, const rt::Artifact &art, const rt::EntryPoint &ep, const rt::BufferSpec &output,
           const std::optional<rt::DataDescription> &trained);

} // namespace pce::run

#endif // PCE_TOOLS_PCE_RUN_DATARUN_H
