//===- DenseRun.h - pce-run's segmentation and detection evaluation -------===//
#ifndef PCE_TOOLS_PCE_RUN_DENSERUN_H
#define PCE_TOOLS_PCE_RUN_DENSERUN_H

#include "tools/pce-run/Options.h"

#include "runtime/Artifact.h"
#include "runtime/DataDescription.h"

namespace pce::run {

/// --data with an artifact whose manifest names a segmentation or detection
/// head: the split's images and labels through the rule pce-train used
/// (runtime/datasets/Examples.h), the forward over every image, then the
/// head's score by runtime/dense/DenseEvaluation.h (what pce-train reports):
/// mIoU, pixel accuracy and per-class IoU, or VOC mAP@0.5 (11-point and
/// all-point) with per-class AP. --scores FILE.json writes every number,
/// --masks DIR each predicted mask as a VOC palette PNG (<id>.png, in the
/// model's input geometry), --detections FILE.json every box in the pixels
/// of its image. Returns the exit status.
int runDense(const Options &o, const rt::Artifact &art, const rt::EntryPoint &ep, const rt::BufferSpec &output,
             const rt::DataDescription &trained, const rt::HeadSpec &head);

} // namespace pce::run

#endif // PCE_TOOLS_PCE_RUN_DENSERUN_H
