//===- RoutingClusters.cpp - k-means over the images' routing -------------===//

#include "runtime/RoutingClusters.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>

namespace pce::rt {

namespace {

double squaredDistance(const double *a, const double *b, int64_t dims) {
  double d = 0;
  for (int64_t j = 0; j < dims; ++j)
    d += (a[j] - b[j]) * (a[j] - b[j]);
  return d;
}

// Nearest centroid (ties: the lower cluster).
int64_t nearest(const double *x, const std::vector<double> &centroids, int64_t k, int64_t dims) {
  int64_t best = 0;
  double bestD = std::numeric_limits<double>::infinity();
  for (int64_t c = 0; c < k; ++c) {
    const double d = squaredDistance(x, centroids.data() + c * dims, dims);
    if (d < bestD)
      best = c, bestD = d;
  }
  return best;
}

} // namespace

double silhouetteScore(const std::vector<double> &points, int64_t dims, const std::vector<int64_t> &assignment,
                       int64_t k, const std::vector<int64_t> &sample) {
  if (sample.empty())
    return 0;
  double total = 0;
  std::vector<double> sum(static_cast<size_t>(k));
  std::vector<int64_t> count(static_cast<size_t>(k));
  for (int64_t i : sample) {
    std::fill(sum.begin(), sum.end(), 0.0);
    std::fill(count.begin(), count.end(), 0);
    for (int64_t j : sample) {
      if (j == i)
        continue;
      sum[size_t(assignment[size_t(j)])] +=
          std::sqrt(squaredDistance(&points[size_t(i * dims)], &points[size_t(j * dims)], dims));
      ++count[size_t(assignment[size_t(j)])];
    }
    const int64_t own = assignment[size_t(i)];
    if (count[size_t(own)] == 0)
      continue; // alone in its cluster: 0
    const double a = sum[size_t(own)] / double(count[size_t(own)]);
    double b = std::numeric_limits<double>::infinity();
    for (int64_t c = 0; c < k; ++c)
      if (c != own && count[size_t(c)] > 0)
        b = std::min(b, sum[size_t(c)] / double(count[size_t(c)]));
    if (std::isinf(b) || std::max(a, b) == 0)
      continue; // one cluster in the sample, or identical points: 0
    total += (b - a) / std::max(a, b);
  }
  return total / double(sample.size());
}

Expected<RouteClusters> clusterRoutes(const std::vector<const HostTensor *> &weights, int64_t items, int64_t k,
                                      uint64_t seed) {
  if (weights.empty() || items < 1 || k < 1)
    return Status::error("route clustering needs at least one routing result, one image and one cluster");
  int64_t dims = 0;
  for (const HostTensor *w : weights) {
    if ((w->dtype != DType::F32 && w->dtype != DType::F64) || w->shape.size() != 3 || w->shape[0] < items ||
        !w->consistent())
      return Status::error("route clustering: routing weights must be f32 or f64 [>= " + std::to_string(items) +
                           ", P, E], found " + w->typeString());
    dims += w->shape[1] * w->shape[2];
  }
  // The routing vectors, [items, dims].
  std::vector<double> x(static_cast<size_t>(items * dims));
  int64_t offset = 0;
  for (const HostTensor *w : weights) {
    const int64_t row = w->shape[1] * w->shape[2];
    for (int64_t i = 0; i < items; ++i)
      for (int64_t j = 0; j < row; ++j)
        x[size_t(i * dims + offset + j)] = w->dtype == DType::F32 ? double(w->f32()[i * row + j])
                                                                   : w->f64()[i * row + j];
    offset += row;
  }

  RouteClusters r;
  r.k = std::min(k, items);
  r.dims = dims;
  // k-means++ seeding: the first centre uniformly, each next one with
  // probability proportional to the squared distance to the nearest chosen.
  std::mt19937_64 gen(seed);
  r.centroids.assign(size_t(r.k * dims), 0.0);
  std::vector<double> d2(static_cast<size_t>(items), std::numeric_limits<double>::infinity());
  int64_t pick = int64_t(std::uniform_int_distribution<int64_t>(0, items - 1)(gen));
  for (int64_t c = 0; c < r.k; ++c) {
    std::copy_n(&x[size_t(pick * dims)], dims, &r.centroids[size_t(c * dims)]);
    double total = 0;
    for (int64_t i = 0; i < items; ++i) {
      d2[size_t(i)] = std::min(d2[size_t(i)], squaredDistance(&x[size_t(i * dims)], &r.centroids[size_t(c * dims)], dims));
      total += d2[size_t(i)];
    }
    if (total <= 0) { // every image is a chosen centre: take the next ones in order
      pick = (pick + 1) % items;
      continue;
    }
    double u = std::uniform_real_distribution<double>(0, total)(gen);
    pick = items - 1;
    for (int64_t i = 0; i < items; ++i)
      if ((u -= d2[size_t(i)]) < 0) {
        pick = i;
        break;
      }
  }
  // Lloyd's steps.
  r.assignment.assign(size_t(items), -1);
  for (r.iterations = 0; r.iterations < 100; ++r.iterations) {
    bool changed = false;
    for (int64_t i = 0; i < items; ++i) {
      const int64_t c = nearest(&x[size_t(i * dims)], r.centroids, r.k, dims);
      changed |= c != r.assignment[size_t(i)];
      r.assignment[size_t(i)] = c;
    }
    if (!changed)
      break;
    std::vector<double> sum(static_cast<size_t>(r.k * dims), 0.0);
    std::vector<int64_t> n(static_cast<size_t>(r.k), 0);
    for (int64_t i = 0; i < items; ++i) {
      const int64_t c = r.assignment[size_t(i)];
      ++n[size_t(c)];
      for (int64_t j = 0; j < dims; ++j)
        sum[size_t(c * dims + j)] += x[size_t(i * dims + j)];
    }
    for (int64_t c = 0; c < r.k; ++c)
      if (n[size_t(c)] > 0) // an empty cluster keeps its centre
        for (int64_t j = 0; j < dims; ++j)
          r.centroids[size_t(c * dims + j)] = sum[size_t(c * dims + j)] / double(n[size_t(c)]);
  }
  r.sizes.assign(size_t(r.k), 0);
  r.exemplars.assign(size_t(r.k), -1);
  std::vector<double> bestD(static_cast<size_t>(r.k), std::numeric_limits<double>::infinity());
  for (int64_t i = 0; i < items; ++i) {
    const int64_t c = r.assignment[size_t(i)];
    ++r.sizes[size_t(c)];
    const double d = squaredDistance(&x[size_t(i * dims)], &r.centroids[size_t(c * dims)], dims);
    if (d < bestD[size_t(c)])
      bestD[size_t(c)] = d, r.exemplars[size_t(c)] = i;
  }
  std::vector<int64_t> sample;
  const int64_t m = std::min(items, kSilhouetteImages);
  for (int64_t s = 0; s < m; ++s)
    sample.push_back(s * items / m);
  r.silhouette = silhouetteScore(x, dims, r.assignment, r.k, sample);
  r.silhouetteImages = m;
  return r;
}

} // namespace pce::rt
