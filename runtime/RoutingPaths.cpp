//===- RoutingPaths.cpp - experts along stacked PCE layers ----------------===//

#include "runtime/RoutingPaths.h"

#include <algorithm>
#include <map>
#include <string>

namespace pce::rt {

int64_t topExpert(const HostTensor &w, int64_t row, int64_t E) {
  auto at = [&](int64_t e) { return w.dtype == DType::F32 ? double(w.f32()[row + e]) : w.f64()[row + e]; };
  int64_t best = 0;
  for (int64_t e = 1; e < E; ++e)
    if (at(e) > at(best))
      best = e;
  return best;
}

namespace {

// Most frequent first; equal counts in lexicographic order of the path.
std::vector<RoutingPath> ranked(const std::map<std::vector<int64_t>, int64_t> &counts, int64_t total, size_t keep) {
  std::vector<std::pair<std::vector<int64_t>, int64_t>> all(counts.begin(), counts.end());
  std::stable_sort(all.begin(), all.end(), [](const auto &a, const auto &b) { return a.second > b.second; });
  std::vector<RoutingPath> out;
  for (size_t i = 0; i < std::min(keep, all.size()); ++i)
    out.push_back({all[i].first, double(all[i].second) / double(total)});
  return out;
}

} // namespace

Expected<RoutingPaths> computeRoutingPaths(const std::vector<const HostTensor *> &weights,
                                           const std::vector<std::pair<int64_t, int64_t>> &grids, int64_t items,
                                           int64_t keep) {
  const size_t L = weights.size();
  if (L < 2 || grids.size() != L || items < 1 || keep < 1)
    return Status::error("routing paths need two or more layers, each with its patch grid, and an image");
  for (size_t l = 0; l < L; ++l) {
    const HostTensor &w = *weights[l];
    if ((w.dtype != DType::F32 && w.dtype != DType::F64) || w.shape.size() != 3 || w.shape[0] < items ||
        !w.consistent() || grids[l].first < 1 || grids[l].second < 1 ||
        grids[l].first * grids[l].second != w.shape[1] || w.shape[2] < 1)
      return Status::error("routing paths: layer " + std::to_string(l) + ": routing weights " + w.typeString() +
                           " do not fit " + std::to_string(items) + " images on a " +
                           std::to_string(grids[l].first) + " x " + std::to_string(grids[l].second) + " grid");
  }
  // Position p of the first grid -> the patch of layer l holding its centre.
  const auto [rows0, cols0] = grids[0];
  const int64_t P = rows0 * cols0;
  std::vector<std::vector<int64_t>> cell(L, std::vector<int64_t>(static_cast<size_t>(P)));
  for (size_t l = 0; l < L; ++l)
    for (int64_t p = 0; p < P; ++p) {
      // Centre (2i + 1) / (2 rows0) lies in row floor(centre * rows_l).
      const int64_t r = (2 * (p / cols0) + 1) * grids[l].first / (2 * rows0);
      const int64_t c = (2 * (p % cols0) + 1) * grids[l].second / (2 * cols0);
      cell[l][size_t(p)] = r * grids[l].second + c;
    }
  std::map<std::vector<int64_t>, int64_t> all;
  std::vector<std::map<std::vector<int64_t>, int64_t>> byPosition(static_cast<size_t>(P));
  std::vector<int64_t> path(L);
  for (int64_t i = 0; i < items; ++i)
    for (int64_t p = 0; p < P; ++p) {
      for (size_t l = 0; l < L; ++l) {
        const HostTensor &w = *weights[l];
        const int64_t E = w.shape[2];
        path[l] = topExpert(w, (i * w.shape[1] + cell[l][size_t(p)]) * E, E);
      }
      ++all[path];
      ++byPosition[size_t(p)][path];
    }
  RoutingPaths out;
  out.layers = int64_t(L);
  out.positions = P;
  out.items = items;
  out.distinct = int64_t(all.size());
  out.top = ranked(all, items * P, size_t(keep));
  for (const auto &counts : byPosition)
    out.perPosition.push_back(ranked(counts, items, 1).front());
  return out;
}

} // namespace pce::rt
