//===- KMeans.cpp - K-Means for router key initialisation -----------------===//

#include "runtime/torch/KMeans.h"

#include <stdexcept>

namespace pce::torchrt {

namespace {

// Squared distances [N,K] of points [N,D] to centroids [K,D].
torch::Tensor sqDistances(const torch::Tensor &x, const torch::Tensor &c) {
  torch::Tensor d = x.pow(2).sum(1, true) - 2 * x.matmul(c.t()) + c.pow(2).sum(1).unsqueeze(0);
  return d.clamp_min(0);
}

// Nearest centroid; torch::argmin takes the first of equal minima.
torch::Tensor nearest(const torch::Tensor &x, const torch::Tensor &c) { return sqDistances(x, c).argmin(1); }

} // namespace

torch::Tensor kmeansPlusPlus(const torch::Tensor &points, int64_t k, at::Generator gen) {
  torch::NoGradGuard noGrad;
  if (points.dim() != 2 || points.size(0) < 1 || k < 1)
    throw std::runtime_error("kmeans++: needs points [N,D] with N >= 1 and k >= 1");
  torch::Tensor x = points.to(torch::kFloat64);
  const int64_t N = x.size(0);
  std::vector<int64_t> chosen;
  chosen.push_back(torch::randint(N, {1}, gen, torch::kLong).item<int64_t>());
  torch::Tensor d2 = sqDistances(x, x.index({torch::tensor(chosen)})).select(1, 0);
  while (static_cast<int64_t>(chosen.size()) < k) {
    int64_t next;
    if (d2.sum().item<double>() > 0)
      next = torch::multinomial(d2, 1, false, gen).item<int64_t>();
    else // every point coincides with a chosen one: any point will do
      next = torch::randint(N, {1}, gen, torch::kLong).item<int64_t>();
    chosen.push_back(next);
    d2 = torch::minimum(d2, sqDistances(x, x[next].unsqueeze(0)).select(1, 0));
  }
  return x.index({torch::tensor(chosen)}).to(points.scalar_type());
}

KMeansResult lloyd(const torch::Tensor &points, const torch::Tensor &initial, int64_t maxIterations) {
  torch::NoGradGuard noGrad;
  torch::Tensor x = points.to(torch::kFloat64);
  torch::Tensor c = initial.to(torch::kFloat64).clone();
  const int64_t K = c.size(0);
  KMeansResult result;
  torch::Tensor assign = nearest(x, c);
  while (result.iterations < maxIterations) {
    ++result.iterations;
    // Update step: means of the assigned points.
    torch::Tensor counts = torch::bincount(assign, {}, K);
    torch::Tensor sums = torch::zeros_like(c).index_add_(0, assign, x);
    torch::Tensor filled = (counts > 0).unsqueeze(1);
    c = torch::where(filled, sums / counts.clamp_min(1).unsqueeze(1).to(torch::kFloat64), c);
    // Empty clusters take the points farthest from their own centroids, one
    // point each (a taken point's distance is zeroed).
    if ((counts == 0).any().item<bool>()) {
      torch::Tensor own = (x - c.index({assign})).pow(2).sum(1);
      auto countsAcc = counts.accessor<int64_t, 1>();
      for (int64_t k = 0; k < K; ++k) {
        if (countsAcc[k] != 0)
          continue;
        int64_t far = own.argmax().item<int64_t>();
        c[k].copy_(x[far]);
        own[far] = -1;
        ++result.reseeded;
      }
    }
    torch::Tensor next = nearest(x, c);
    bool same = torch::equal(next, assign);
    assign = next;
    if (same) {
      result.converged = true;
      break;
    }
  }
  result.centroids = c.to(points.scalar_type());
  result.assignment = assign;
  return result;
}

KMeansResult kmeans(const torch::Tensor &points, int64_t k, int64_t maxIterations, at::Generator gen) {
  return lloyd(points, kmeansPlusPlus(points, k, gen), maxIterations);
}

} // namespace pce::torchrt
