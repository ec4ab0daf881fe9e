//===- DescriptionHead.cpp - the `head:` section of a description --------===//
//
// classification, segmentation or detection (docs/ModelDescription.md); the
// keys of one kind are refused on another. Shapes (the detection head's
// stride, a segmentation head's class weights against its classes) are the
// importer's.
//
//===----------------------------------------------------------------------===//

#include "frontend/DescriptionParser.h"

#include <cmath>

using namespace pce::frontend;
using namespace pce::frontend::detail;

namespace pce::frontend::detail {

LogicalResult Parser::parseHead(yaml::Node *value, SMLoc keyLoc, HeadDesc &head) {
  head.loc = keyLoc;
  head.given = true;
  static constexpr StringRef kKinds[] = {"classification", "segmentation",
                                         "detection"};
  if (failed(forEachEntry(
          value, keyLoc, "'head'",
          {"kind", "classes", "max_detections", "score_threshold", "class_weights"},
          [&](StringRef key, SMLoc loc, yaml::Node *v) -> LogicalResult {
            if (key == "kind") {
              if (failed(readString(v, loc, key, head.kind)))
                return failure();
              StringRef kind = head.kind.value;
              if (llvm::is_contained(kKinds, kind))
                return success();
              mlir::InFlightDiagnostic err = error(head.kind.loc);
              err << "unknown head kind '" << kind << "'";
              if (StringRef best = nearest(kind, kKinds); !best.empty())
                return err << "; did you mean '" << best << "'?";
              return err << "; expected one of: " << joined(kKinds);
            }
            if (key == "classes")
              return readInt(v, loc, key, 1, head.classes);
            if (key == "max_detections")
              return readInt(v, loc, key, 1, head.maxDetections);
            if (key == "score_threshold") {
              if (failed(readDouble(v, loc, key, head.scoreThreshold)))
                return failure();
              double t = head.scoreThreshold.value;
              if (!(t >= 0 && t < 1))
                return error(head.scoreThreshold.loc)
                       << "'score_threshold' must be in [0, 1), found " << num(t);
              return success();
            }
            Located<std::vector<double>> &weights = head.classWeights;
            weights.loc = locOf(v, loc);
            weights.given = true;
            return forEachItem(v, loc, key, "[one weight per class]",
                               Limits::kMaxSize, [&](yaml::Node *item) -> LogicalResult {
                                 Located<double> x;
                                 if (failed(readDouble(item, loc, key, x)))
                                   return failure();
                                 if (!(x.value >= 0) || !std::isfinite(x.value))
                                   return error(x.loc)
                                          << "class weights must be finite and >= 0, found "
                                          << num(x.value);
                                 weights.value.push_back(x.value);
                                 return success();
                               });
          })))
    return failure();
  if (!head.kind.given)
    return error(keyLoc) << "'head' needs 'kind' (" << joined(kKinds) << ")";
  StringRef kind = head.kind.value;
  if (!head.classes.given)
    return error(keyLoc) << "a " << kind << " head needs 'classes'";
  // Keys that belong to another kind of head.
  auto refuse = [&](bool given, SMLoc at, StringRef key, StringRef owner) {
    if (!given || kind == owner)
      return success();
    return LogicalResult(error(at) << "'" << key << "' applies to a " << owner
                                   << " head, not a " << kind << " head");
  };
  if (failed(refuse(head.maxDetections.given, head.maxDetections.loc,
                    "max_detections", "detection")) ||
      failed(refuse(head.scoreThreshold.given, head.scoreThreshold.loc,
                    "score_threshold", "detection")) ||
      failed(refuse(head.classWeights.given, head.classWeights.loc,
                    "class_weights", "segmentation")))
    return failure();
  if (head.classWeights.given &&
      static_cast<int64_t>(head.classWeights.value.size()) != head.classes.value)
    return error(head.classWeights.loc)
           << "'class_weights' has " << head.classWeights.value.size()
           << " entries, expected one per class (" << head.classes.value << ")";
  return success();
}

} // namespace pce::frontend::detail
