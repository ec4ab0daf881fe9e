//===- Baselines.cpp - the LibTorch side of each ratio --------------------===//

#include "tools/pce-bench/Baselines.h"

#include <cmath>

namespace pce::bench {

ConvBnRelu ConvBnRelu::random(int64_t c, int64_t co, int64_t k) {
  ConvBnRelu m;
  m.weight = torch::randn({co, c, k, k}) / std::sqrt(double(c * k * k));
  m.gamma = 1 + 0.3 * torch::randn({co});
  m.beta = 0.2 * torch::randn({co});
  m.runningMean = 0.2 * torch::randn({co});
  m.runningVar = 0.5 + torch::rand({co});
  return m;
}

torch::Tensor ConvBnRelu::forward(const torch::Tensor &x) const {
  int64_t pad = weight.size(2) / 2;
  auto y = torch::conv2d(x, weight, /*bias=*/{}, /*stride=*/1, /*padding=*/pad);
  y = torch::batch_norm(y, gamma, beta, runningMean, runningVar, /*training=*/false,
                        /*momentum=*/0.1, /*eps=*/1e-5, /*cudnn_enabled=*/false);
  return torch::relu(y);
}

/// SEMANTICS.md §1: lin(n, i) = 2i/(n-1) - 1, 0 when n == 1.
static double lin(int64_t n, int64_t i) {
  return n == 1 ? 0.0 : 2.0 * double(i) / double(n - 1) - 1.0;
}

void EagerPceLayer::setCoordinates(int64_t h, int64_t w) {
  int64_t r = k / 2, nph = h / ph, npw = w / pw;
  int64_t hp = ph + 2 * r, wp = pw + 2 * r;
  coordinates = torch::empty({nph * npw, 4, hp, wp});
  auto c = coordinates.accessor<float, 4>();
  for (int64_t a = 0; a < nph; ++a)
    for (int64_t b = 0; b < npw; ++b)
      for (int64_t i = 0; i < hp; ++i)
        for (int64_t j = 0; j < wp; ++j) {
          int64_t p = a * npw + b;
          c[p][0][i][j] = float(lin(ph, i - r));
          c[p][1][i][j] = float(lin(pw, j - r));
          c[p][2][i][j] = float(lin(nph, a));
          c[p][3][i][j] = float(lin(npw, b));
        }
}

torch::Tensor EagerPceLayer::forward(const torch::Tensor &x) const {
  return forward(x, /*training=*/false);
}

torch::Tensor EagerPceLayer::forward(const torch::Tensor &x, bool training) const {
  int64_t batch = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  int64_t r = k / 2, nph = h / ph, npw = w / pw, p = nph * npw, n = batch * p;
  int64_t hp = ph + 2 * r, wp = pw + 2 * r;
  int64_t experts = kernels.size(0), co = kernels.size(1);

  // §1 patchify: zero padding supplies the halo outside the image, unfold
  // cuts overlapping (ph+2r) x (pw+2r) windows with stride ph x pw.
  auto padded = torch::constant_pad_nd(x, {r, r, r, r}, 0);
  auto windows = padded.unfold(2, hp, ph).unfold(3, wp, pw); // [B,C,nph,npw,hp,wp]
  auto pixels = windows.permute({0, 2, 3, 1, 4, 5}).reshape({n, c, hp, wp});
  auto coords = coordinates.unsqueeze(0).expand({batch, p, 4, hp, wp}).reshape({n, 4, hp, wp});
  auto patches = torch::cat({pixels, coords}, 1); // [N,C+4,hp,wp]

  // §2 embed: 1x1 convolution of the core, then spatial pyramid max pooling.
  auto core = patches.slice(2, r, r + ph).slice(3, r, r + pw);
  auto z = torch::conv2d(core, We.view({We.size(0), We.size(1), 1, 1}), be);
  std::vector<torch::Tensor> pooled;
  for (int64_t l : levels)
    pooled.push_back(std::get<0>(torch::adaptive_max_pool2d(z, {l, l})).flatten(1));
  auto emb = torch::cat(pooled, 1); // [N,D]

  // §3 cosine router, softmax(s / tau), optional top-k (no renormalisation).
  auto norms = emb.norm(2, 1, /*keepdim=*/true) * keys.norm(2, 1).unsqueeze(0);
  auto scores = emb.mm(keys.t()) / norms.clamp_min(1e-12);
  auto weights = torch::softmax(scores / tau, 1); // [N,E]
  torch::Tensor routed; // [N,E] bool: the patches whose BN statistics count
  if (topK > 0) {
    auto kept = std::get<1>(weights.topk(topK, 1));
    auto mask = torch::zeros_like(weights).scatter_(1, kept, 1.0);
    weights = weights * mask;
    routed = mask.to(torch::kBool);
  }

  // §4 every expert over every patch, BN, ReLU, weighted sum.
  auto mixed = torch::zeros({n, co, ph, pw});
  for (int64_t e = 0; e < experts; ++e) {
    auto y = torch::conv2d(patches, kernels[e]); // valid: [N,Co,ph,pw]
    if (!training) {
      y = torch::batch_norm(y, gamma[e], beta[e], runningMean[e], runningVar[e],
                            /*training=*/false, 0.1, 1e-5, /*cudnn_enabled=*/false);
    } else if (!routed.defined()) {
      // Dense: batch statistics over every patch (running stats not updated).
      y = torch::batch_norm(y, gamma[e], beta[e], /*running_mean=*/{}, /*running_var=*/{},
                            /*training=*/true, 0.1, 1e-5, /*cudnn_enabled=*/false);
    } else {
      // Top-k: batch statistics over the patches that chose expert e.
      auto mine = y.index({routed.select(1, e)});
      torch::Tensor mean = runningMean[e], var = runningVar[e];
      if (mine.size(0) > 0) {
        mean = mine.mean({0, 2, 3});
        var = (mine - mean.view({1, co, 1, 1})).pow(2).mean({0, 2, 3});
      }
      y = (y - mean.view({1, co, 1, 1})) * torch::rsqrt(var.view({1, co, 1, 1}) + 1e-5) *
              gamma[e].view({1, co, 1, 1}) +
          beta[e].view({1, co, 1, 1});
    }
    mixed += weights.select(1, e).view({n, 1, 1, 1}) * torch::relu(y);
  }

  // unpatchify: patch (a, b) back at rows a*ph.., columns b*pw..
  return mixed.view({batch, nph, npw, co, ph, pw})
      .permute({0, 3, 1, 4, 2, 5})
      .reshape({batch, co, h, w});
}

} // namespace pce::bench
