//===- RoutingClusters.h - k-means over the images' routing ---------------===//
//
// Route clustering (docs/Runtime.md, the routing report): each image is
// described by its routing vector, the concatenation over the routing
// results given of its weights w[i] ([P, E] each, flattened), in float64.
// k-means (k-means++ seeding from a seeded generator, then Lloyd's steps
// until no image changes cluster, at most 100) groups the images; each
// cluster's exemplar is the image nearest its centroid. The silhouette
// score, mean over images of (b - a) / max(a, b) with Euclidean distances
// (a: mean distance to the own cluster's other images, b: the smallest mean
// distance to another cluster; 0 for an image alone in its cluster), is
// taken over at most kSilhouetteImages images, evenly spaced, as it costs
// O(n^2). Plain C++; errors are values.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_ROUTINGCLUSTERS_H
#define PCE_RUNTIME_ROUTINGCLUSTERS_H

#include "runtime/HostTensor.h"
#include "runtime/Status.h"

#include <cstdint>
#include <vector>

namespace pce::rt {

inline constexpr int64_t kSilhouetteImages = 2000;

struct RouteClusters {
  int64_t k = 0;
  int64_t dims = 0;                ///< length of a routing vector
  std::vector<int64_t> assignment; ///< [N] cluster of each image
  std::vector<int64_t> sizes;      ///< [k]
  std::vector<int64_t> exemplars;  ///< [k] image nearest each centroid; -1 for an empty cluster
  std::vector<double> centroids;   ///< [k * dims]
  int64_t iterations = 0;          ///< Lloyd's steps taken
  double silhouette = 0;
  int64_t silhouetteImages = 0;    ///< images the silhouette was taken over
};

/// Clusters the first `items` images of `weights` (each f32/f64 [>= items, P,
/// E]; P and E may differ between results) into min(k, items) clusters.
Expected<RouteClusters> clusterRoutes(const std::vector<const HostTensor *> &weights, int64_t items, int64_t k,
                                      uint64_t seed = 1);

/// The silhouette score of `assignment` over the images listed in `sample`
/// (indices into the n x dims row-major `points`), as above.
double silhouetteScore(const std::vector<double> &points, int64_t dims, const std::vector<int64_t> &assignment,
                       int64_t k, const std::vector<int64_t> &sample);

} // namespace pce::rt

#endif // PCE_RUNTIME_ROUTINGCLUSTERS_H
