//===- RoutingTestSupport.h - routing tensors for the report's tests ------===//
#ifndef PCE_TEST_RUNTIME_ROUTINGTESTSUPPORT_H
#define PCE_TEST_RUNTIME_ROUTINGTESTSUPPORT_H

#include "runtime/HostTensor.h"
#include "runtime/RoutingReport.h"

#include "TestSupport.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

namespace pce::rt::test::routing {


inline constexpr double kTol = 1e-12;

// f32 [B,P,E] from a function of (b, p, e).
template <typename F> HostTensor weights(int64_t B, int64_t P, int64_t E, F f) {
  auto t = HostTensor::create(DType::F32, {B, P, E});
  EXPECT_TRUE(t) << t.error();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t p = 0; p < P; ++p)
      for (int64_t e = 0; e < E; ++e)
        t->f32()[(b * P + p) * E + e] = static_cast<float>(f(b, p, e));
  return std::move(*t);
}

// One-hot routing: image b, patch p goes to expert choose(b, p).
template <typename F> HostTensor oneHot(int64_t B, int64_t P, int64_t E, F choose) {
  return weights(B, P, E, [&](int64_t b, int64_t p, int64_t e) { return choose(b, p) == e ? 1.0 : 0.0; });
}

inline HostTensor labelsOf(const std::vector<int64_t> &values) {
  auto t = HostTensor::create(DType::I64, {int64_t(values.size())});
  EXPECT_TRUE(t) << t.error();
  for (size_t i = 0; i < values.size(); ++i)
    t->i64()[i] = values[i];
  return std::move(*t);
}

// A random valid routing tensor: softmax of random logits, some rows cut to top-1.
inline HostTensor randomRouting(DType dtype, int64_t B, int64_t P, int64_t E) {
  auto t = HostTensor::create(dtype, {B, P, E});
  EXPECT_TRUE(t) << t.error();
  std::normal_distribution<double> normal(0.0, 2.0);
  std::bernoulli_distribution cut(0.2);
  std::vector<double> row(E);
  for (int64_t r = 0; r < B * P; ++r) {
    double sum = 0;
    for (auto &v : row)
      sum += v = std::exp(normal(rng()));
    int64_t best = std::max_element(row.begin(), row.end()) - row.begin();
    bool top1 = cut(rng());
    for (int64_t e = 0; e < E; ++e) {
      double v = top1 && e != best ? 0.0 : row[e] / sum;
      if (dtype == DType::F32)
        t->f32()[r * E + e] = static_cast<float>(v);
      else
        t->f64()[r * E + e] = v;
    }
  }
  return std::move(*t);
}

inline RoutingLayerReport report(const HostTensor &w, const HostTensor *labels = nullptr, int64_t classes = 0) {
  auto r = computeRoutingReport("layer0.routing", w, labels, classes);
  EXPECT_TRUE(r) << r.error();
  return r ? std::move(*r) : RoutingLayerReport{};
}

inline std::string reportError(const HostTensor &w, const HostTensor *labels = nullptr, int64_t classes = 0) {
  auto r = computeRoutingReport("layer0.routing", w, labels, classes);
  EXPECT_FALSE(r) << "expected an error";
  return r ? std::string() : r.error();
}


} // namespace pce::rt::test::routing

#endif // PCE_TEST_RUNTIME_ROUTINGTESTSUPPORT_H
