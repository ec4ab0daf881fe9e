//===- Description.h - the model description side of pce-reshape --------===//
//
// Reads a model description with the frontend's parser (every value keeps
// where it was written), rewrites only the `experts:` values of reshaped
// layers in the original text (comments and layout stay), and checks the
// result: it must import, and the weights must have every parameter's shape.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_TOOLS_PCE_RESHAPE_DESCRIPTION_H
#define PCE_TOOLS_PCE_RESHAPE_DESCRIPTION_H

#include "runtime/HostTensor.h"
#include "runtime/Status.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pce::reshape {

/// A `pce` layer of the description.
struct DescribedLayer {
  std::string name;
  int64_t experts = 0;
  unsigned line = 0, column = 0; ///< of the `experts:` value (1-based)
  size_t offset = 0, length = 0; ///< the value's digits in the text
  std::string router;            ///< the layer's own router kind
  bool table = false;            ///< a position router `table:` is given
  int64_t topK = 0;
};

struct Description {
  std::string path, text;
  std::vector<DescribedLayer> layers; ///< the `pce` layers, in order
  std::vector<std::string> otherLayers; ///< names of the other layers
  bool phaseTable = false; ///< some `training: phases:` router gives a table
};

/// Reads and parses `path`; errors carry the parser's FILE:LINE:COL message.
rt::Expected<Description> readDescription(const std::string &path);

/// The description text with layer L's `experts:` value replaced by
/// newExperts[L] for each entry; everything else byte for byte.
rt::Expected<std::string> rewriteExperts(const Description &description,
                                         const std::map<std::string, int64_t> &newExperts);

/// Imports `text` (named `path` in messages) as pce-compile would (with a
/// `training:` section: the phase named `artifact`, e.g. "phase3", else the
/// last) and checks that `weights` has every parameter of its forward with
/// that shape. Errors: the importer's FILE:LINE:COL diagnostics, or the
/// first parameter that is missing or has another shape.
rt::Status verifyDescription(const std::string &path, const std::string &text,
                             const std::string &artifact,
                             const std::map<std::string, rt::HostTensor> &weights);

} // namespace pce::reshape

#endif // PCE_TOOLS_PCE_RESHAPE_DESCRIPTION_H
