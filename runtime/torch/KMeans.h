//===- KMeans.h - K-Means for router key initialisation -------------------===//
//
// SEMANTICS.md §3: keys are the centroids of K-Means over patch embeddings;
// k-means++ seeding from a seeded generator, Lloyd iterations until no
// assignment changes or a maximum count, an empty cluster re-seeded with the
// point farthest from its centroid. Computed in float64.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_TORCH_KMEANS_H
#define PCE_RUNTIME_TORCH_KMEANS_H

#include <ATen/core/Generator.h>
#include <torch/types.h>

namespace pce::torchrt {

struct KMeansResult {
  torch::Tensor centroids;  // [K,D], the points' dtype
  torch::Tensor assignment; // [N] int64
  int64_t iterations = 0;   // Lloyd iterations run
  bool converged = false;   // the last iteration changed no assignment
  int64_t reseeded = 0;     // empty clusters re-seeded, over all iterations
};

// k-means++ initial centroids [K,D] of points [N,D] (N >= 1).
torch::Tensor kmeansPlusPlus(const torch::Tensor &points, int64_t k, at::Generator gen);

// Lloyd iterations from the given centroids.
KMeansResult lloyd(const torch::Tensor &points, const torch::Tensor &initial, int64_t maxIterations);

// kmeansPlusPlus, then lloyd.
KMeansResult kmeans(const torch::Tensor &points, int64_t k, int64_t maxIterations, at::Generator gen);

} // namespace pce::torchrt

#endif // PCE_RUNTIME_TORCH_KMEANS_H
