//===- KMeansTest.cpp - K-Means key initialisation ------------------------===//

#include "runtime/torch/KMeans.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

using namespace pce::torchrt;

TEST(KMeans, RecoversKnownClusters) {
  // Three tight blobs far apart in 5-D.
  at::Generator gen = at::detail::createCPUGenerator(11);
  torch::Tensor centres = torch::tensor({{0.0, 0.0, 0.0, 0.0, 0.0}, {10.0, 0.0, 5.0, 0.0, 0.0}, {0.0, -8.0, 0.0, 9.0, 1.0}});
  std::vector<torch::Tensor> parts;
  for (int64_t k = 0; k < 3; ++k)
    parts.push_back(centres[k] + 0.1 * torch::randn({50, 5}, gen, torch::kFloat64));
  torch::Tensor points = torch::cat(parts).to(torch::kFloat32);
  KMeansResult r = kmeans(points, 3, 100, at::detail::createCPUGenerator(5));
  EXPECT_TRUE(r.converged);
  ASSERT_EQ(r.centroids.sizes(), (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(r.centroids.scalar_type(), torch::kFloat32);
  // Every true centre has a centroid within 0.1, and each blob is one cluster.
  for (int64_t k = 0; k < 3; ++k) {
    torch::Tensor d = (r.centroids.to(torch::kFloat64) - centres[k]).norm(2, {1});
    EXPECT_LT(d.min().item<double>(), 0.1) << "centre " << k;
    torch::Tensor a = r.assignment.slice(0, 50 * k, 50 * (k + 1));
    EXPECT_TRUE((a == a[0]).all().item<bool>()) << "blob " << k << " split";
  }
  EXPECT_EQ((torch::bincount(r.assignment) > 0).sum().item<int64_t>(), 3);
}

TEST(KMeans, SameSeedSameCentroids) {
  torch::Tensor points = torch::randn({200, 4}, at::detail::createCPUGenerator(3), torch::kFloat32);
  KMeansResult a = kmeans(points, 5, 100, at::detail::createCPUGenerator(8));
  KMeansResult b = kmeans(points, 5, 100, at::detail::createCPUGenerator(8));
  EXPECT_TRUE(torch::equal(a.centroids, b.centroids));
}

TEST(KMeans, EmptyClusterReseededWithFarthestPoint) {
  torch::Tensor points = torch::tensor({{0.0, 0.0}, {0.0, 1.0}, {1.0, 0.0}, {1.0, 1.0}, {5.0, 5.0}});
  // The second initial centroid is nearest to no point: its cluster is empty
  // after the first assignment and takes the point farthest from its own
  // centroid (the mean of all points, (1.4, 1.4)): (5, 5).
  torch::Tensor initial = torch::tensor({{0.5, 0.5}, {100.0, -100.0}});
  KMeansResult r = lloyd(points, initial, 100);
  EXPECT_EQ(r.reseeded, 1);
  EXPECT_TRUE(r.converged);
  EXPECT_TRUE(torch::allclose(r.centroids, torch::tensor({{0.5, 0.5}, {5.0, 5.0}})));
  EXPECT_TRUE(torch::equal(r.assignment, torch::tensor({0, 0, 0, 0, 1}, torch::kLong)));
}

TEST(KMeans, StopsAtTheIterationLimit) {
  torch::Tensor points = torch::randn({300, 3}, at::detail::createCPUGenerator(4), torch::kFloat64);
  KMeansResult r = kmeans(points, 8, 1, at::detail::createCPUGenerator(2));
  EXPECT_EQ(r.iterations, 1);
}

TEST(KMeans, PlusPlusPicksDistinctPoints) {
  torch::Tensor points = torch::tensor({{0.0}, {1.0}, {2.0}, {3.0}});
  torch::Tensor c = kmeansPlusPlus(points, 4, at::detail::createCPUGenerator(1));
  auto sorted = std::get<0>(c.view({-1}).sort());
  EXPECT_TRUE(torch::equal(sorted, points.view({-1})));
}
