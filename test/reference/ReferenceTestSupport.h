//===- ReferenceTestSupport.h - fixtures of the reference's tests ---------===//
//
// Random layers of several shapes, the error measure of SEMANTICS.md §6 and
// torch formulations shared by ReferenceTest.cpp and ReferenceLayerTest.cpp.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_TEST_REFERENCE_REFERENCETESTSUPPORT_H
#define PCE_TEST_REFERENCE_REFERENCETESTSUPPORT_H

#include "runtime/reference/Reference.h"

#include <torch/csrc/autograd/autograd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include <unistd.h>

namespace pce::reftest {

using namespace pce::ref;

const auto kF64 = torch::TensorOptions().dtype(torch::kDouble);

inline torch::Tensor randn(torch::IntArrayRef shape) { return torch::randn(shape, kF64); }

/// max|a - b| / max(1, max|b|)  (SEMANTICS.md §6's measure).
inline double relErr(const torch::Tensor &a, const torch::Tensor &b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.sizes() != b.sizes())
    return INFINITY;
  if (a.numel() == 0)
    return 0;
  const double diff = (a.detach() - b.detach()).abs().max().item<double>();
  const double scale = std::max(1.0, b.detach().abs().max().item<double>());
  return std::isnan(diff) ? INFINITY : diff / scale;
}

#define EXPECT_CLOSE(a, b, tol) EXPECT_LE(relErr((a), (b)), (tol))

/// lin() of SEMANTICS.md §1, vectorised over an index tensor t.
inline torch::Tensor linPlane(int64_t n, const torch::Tensor &t) {
  if (n == 1)
    return torch::zeros_like(t);
  return 2.0 * t / static_cast<double>(n - 1) - 1.0;
}

/// The 4 coordinate planes of each pixel's own patch, [B,4,H,W], built with tensor
/// arithmetic on pixel indices (no patch loops).
inline torch::Tensor coordinatePlanes(int64_t B, int64_t H, int64_t W, int64_t ph, int64_t pw) {
  auto rows = torch::arange(H, kF64), cols = torch::arange(W, kF64);
  auto i = torch::fmod(rows, ph), a = torch::floor(rows / ph);
  auto j = torch::fmod(cols, pw), b = torch::floor(cols / pw);
  auto rowPlane = [&](const torch::Tensor &v) { return v.reshape({H, 1}).expand({H, W}); };
  auto colPlane = [&](const torch::Tensor &v) { return v.reshape({1, W}).expand({H, W}); };
  auto planes = torch::stack({rowPlane(linPlane(ph, i)), colPlane(linPlane(pw, j)),
                              rowPlane(linPlane(H / ph, a)), colPlane(linPlane(W / pw, b))});
  return planes.unsqueeze(0).expand({B, 4, H, W});
}

struct Shape {
  int64_t B, C, H, W, ph, pw, E, Co, k;
};

inline std::string describe(const Shape &s) {
  std::ostringstream os;
  os << "B=" << s.B << " C=" << s.C << " H=" << s.H << " W=" << s.W << " ph=" << s.ph
     << " pw=" << s.pw << " E=" << s.E << " Co=" << s.Co << " k=" << s.k;
  return os.str();
}

/// Shapes covering H != W, ph != pw, a single patch, E = 1, k in {1,3,5}, C in {1,3},
/// B in {1,7}. The kernel size is overridden by tests that need a fixed k.
inline const std::vector<Shape> &shapes() {
  static const std::vector<Shape> all = {
      {1, 1, 4, 4, 2, 2, 2, 2, 1},   // square
      {7, 3, 6, 8, 3, 2, 3, 4, 3},   // H != W, ph != pw, B = 7
      {2, 3, 5, 7, 5, 7, 3, 2, 3},   // a single patch
      {1, 1, 8, 6, 4, 3, 1, 3, 5},   // E = 1
      {7, 1, 6, 6, 3, 3, 4, 1, 5},   // Co = 1
      {2, 3, 4, 6, 1, 2, 2, 3, 1},   // ph = 1
  };
  return all;
}

struct Layer {
  LayerConfig cfg;
  LayerParams params;
};

/// A layer with random parameters. identical: every expert has the same kernel and BN.
inline Layer makeLayer(const Shape &s, RouterKind kind, bool identical) {
  Layer l;
  l.cfg.patch = {s.ph, s.pw, s.k / 2, Halo::Context};
  l.cfg.router.kind = kind;
  l.cfg.router.numExperts = s.E;
  l.cfg.router.tau = 0.3;
  l.cfg.router.beta = 2.0;
  l.cfg.router.sigma = 0.7;
  l.cfg.router.gumbelTau = 0.8;
  const int64_t Cin = s.C + 4, De = Cin, D = 21 * De, Hd = 5;
  const int64_t P = (s.H / s.ph) * (s.W / s.pw);
  auto &p = l.params;
  p.We = randn({De, Cin}) * 0.5;
  p.be = randn({De}) * 0.1;
  p.router.keys = randn({s.E, D});
  p.router.W1 = randn({Hd, D}) * 0.2;
  p.router.b1 = randn({Hd}) * 0.1;
  p.router.W2 = randn({s.E, Hd});
  p.router.b2 = randn({s.E}) * 0.1;
  p.router.positionNoise = randn({s.B, P, s.E});
  p.router.gumbelNoise = -(-torch::rand({s.B, P, s.E}, kF64).clamp(1e-12, 1 - 1e-12).log()).log();
  const int64_t nk = identical ? 1 : s.E;
  auto rep = [&](torch::Tensor t) {
    if (!identical)
      return t;
    std::vector<int64_t> sizes(t.sizes().begin(), t.sizes().end());
    sizes[0] = s.E;
    return t.expand(sizes).clone();
  };
  auto &x = p.experts;
  x.kernels = rep(randn({nk, s.Co, Cin, s.k, s.k}) / std::sqrt(double(Cin * s.k * s.k)));
  x.gamma = rep(1.0 + 0.3 * randn({nk, s.Co}));
  x.beta = rep(0.3 * randn({nk, s.Co}));
  x.runningMean = rep(0.2 * randn({nk, s.Co}));
  x.runningVar = rep(0.5 + torch::rand({nk, s.Co}, kF64));
  p.Wc = randn({s.Co, s.E * s.Co}) * 0.5;
  p.bc = randn({s.Co}) * 0.1;
  p.seW1 = randn({3, s.Co});
  p.seb1 = randn({3}) * 0.1;
  p.seW2 = randn({s.Co, 3});
  p.seb2 = randn({s.Co}) * 0.1;
  return l;
}

/// Conv-BN-ReLU over a whole image with torch ops, with expert 0's BN parameters.
inline torch::Tensor convBnRelu(const torch::Tensor &input, const torch::Tensor &kernel, int64_t padding,
                         const ExpertParams &bn, bool training, torch::Tensor &runMean,
                         torch::Tensor &runVar) {
  auto conv = torch::conv2d(input, kernel, {}, 1, padding);
  runMean = bn.runningMean[0].clone();
  runVar = bn.runningVar[0].clone();
  return torch::relu(torch::batch_norm(conv, bn.gamma[0], bn.beta[0], runMean, runVar, training,
                                       bn.momentum, bn.eps, /*cudnn_enabled=*/false));
}
} // namespace pce::reftest

#endif // PCE_TEST_REFERENCE_REFERENCETESTSUPPORT_H
