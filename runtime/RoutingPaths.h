//===- RoutingPaths.h - experts along stacked PCE layers ------------------===//
//
// Routing paths (docs/Runtime.md, the routing report): for each image and
// each patch position of the first layer's patch grid, the sequence of top-1
// experts (ties: the lower expert) through the layers, where a later layer
// contributes the patch of its own grid that contains the centre of the
// first layer's patch (every layer's grid is taken to tile the whole image,
// as convolutions with 'same' padding and poolings keep it). The report
// keeps the most frequent paths over all images and positions with their
// shares, and per position its most frequent path. Plain C++; errors are
// values.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_ROUTINGPATHS_H
#define PCE_RUNTIME_ROUTINGPATHS_H

#include "runtime/HostTensor.h"
#include "runtime/Status.h"

#include <cstdint>
#include <utility>
#include <vector>

namespace pce::rt {

struct RoutingPath {
  std::vector<int64_t> experts; ///< one per layer
  double share = 0;             ///< of all (image, position) pairs, or of one position's images
};

struct RoutingPaths {
  int64_t layers = 0, positions = 0, items = 0;
  int64_t distinct = 0;                   ///< different paths seen
  std::vector<RoutingPath> top;           ///< most frequent first (ties: lexicographic), at most `keep`
  std::vector<RoutingPath> perPosition;   ///< [positions] each position's most frequent path
};

/// The top-1 expert of the routing row starting at element `row` of w (f32
/// or f64, E weights): the argmax, ties to the lower expert, as every routing
/// statistic takes it (SEMANTICS.md §5).
int64_t topExpert(const HostTensor &w, int64_t row, int64_t E);

/// The paths of the first `items` images through `weights` (f32/f64 [>= items,
/// P_l, E_l], one per layer in order) on patch grids `grids` ((rows, cols)
/// with rows * cols == P_l); at least two layers.
Expected<RoutingPaths> computeRoutingPaths(const std::vector<const HostTensor *> &weights,
                                           const std::vector<std::pair<int64_t, int64_t>> &grids, int64_t items,
                                           int64_t keep = 10);

} // namespace pce::rt

#endif // PCE_RUNTIME_ROUTINGPATHS_H
