//===- Routing.cpp - routers and top-k (SEMANTICS.md §3) --------------------===//

#include "runtime/reference/Reference.h"

#include <limits>

namespace pce::ref {

torch::Tensor temperature(const RouterConfig &cfg) {
  if (cfg.logTau.defined()) {
    TORCH_CHECK(cfg.logTau.numel() == 1, "router: logTau must be a scalar");
    return cfg.logTau.reshape({}).exp();
  }
  TORCH_CHECK(cfg.tau > 0, "router: tau must be positive");
  return torch::scalar_tensor(cfg.tau, torch::kDouble);
}

torch::Tensor cosineScores(const torch::Tensor &emb, const torch::Tensor &keys) {
  TORCH_CHECK(emb.dim() == 3, "cosine router: emb must be [B,P,D]");
  TORCH_CHECK(keys.dim() == 2 && keys.size(1) == emb.size(2), "cosine router: keys must be [E,D]");
  auto dot = torch::einsum("bpd,ed->bpe", {emb, keys});
  auto embNorm = emb.pow(2).sum(-1).sqrt().unsqueeze(-1); // [B,P,1]
  auto keyNorm = keys.pow(2).sum(-1).sqrt();              // [E]
  return dot / (embNorm * keyNorm).clamp_min(1e-12);
}

namespace {

/// The position router's one-hot assign(p) table [P,E].
torch::Tensor positionOneHot(int64_t P, int64_t E, const std::vector<int64_t> &table) {
  TORCH_CHECK(table.empty() || static_cast<int64_t>(table.size()) == P,
              "position router: the table has ", table.size(), " entries for ", P, " patches");
  auto oneHot = torch::zeros({P, E}, torch::kDouble);
  auto acc = oneHot.accessor<double, 2>();
  for (int64_t p = 0; p < P; ++p) {
    const int64_t e = table.empty() ? p % E : table[p];
    TORCH_CHECK(e >= 0 && e < E, "position router: table entry ", e, " out of range");
    acc[p][e] = 1.0;
  }
  return oneHot;
}

torch::Tensor sampleGumbel(torch::IntArrayRef shape) {
  auto u = torch::rand(shape, torch::kDouble).clamp(std::numeric_limits<double>::min(),
                                                    1.0 - 1e-16);
  return -(-u.log()).log();
}

} // namespace

torch::Tensor routeDense(const torch::Tensor &emb, const RouterConfig &cfg,
                         const RouterParams &params) {
  TORCH_CHECK(emb.dim() == 3, "route: emb must be [B,P,D]");
  const int64_t B = emb.size(0), P = emb.size(1), E = cfg.numExperts;
  TORCH_CHECK(E >= 1, "route: numExperts must be >= 1");
  const auto opts = torch::TensorOptions().dtype(torch::kDouble);

  switch (cfg.kind) {
  case RouterKind::Uniform:
    return torch::full({B, P, E}, 1.0 / static_cast<double>(E), opts);

  case RouterKind::Position: {
    auto logits = cfg.beta * positionOneHot(P, E, cfg.positionTable).unsqueeze(0).expand({B, P, E});
    if (cfg.training && cfg.sigma != 0.0) {
      auto xi = params.positionNoise.defined() ? params.positionNoise
                                               : torch::randn({B, P, E}, opts);
      TORCH_CHECK(xi.sizes() == torch::IntArrayRef({B, P, E}), "position router: xi must be [B,P,E]");
      logits = logits + cfg.sigma * xi;
    }
    return torch::softmax(logits, -1);
  }

  case RouterKind::Cosine: {
    TORCH_CHECK(params.keys.defined() && params.keys.size(0) == E, "cosine router: keys must be [E,D]");
    return torch::softmax(cosineScores(emb, params.keys) / temperature(cfg), -1);
  }

  case RouterKind::Mlp: {
    TORCH_CHECK(params.W1.defined() && params.b1.defined() && params.W2.defined() &&
                    params.b2.defined() != cfg.cosineHead,
                cfg.cosineHead ? "mlp router with a cosine head: W1, b1, W2 are required, b2 is not"
                               : "mlp router: W1, b1, W2, b2 are required");
    TORCH_CHECK(params.W2.size(0) == E, "mlp router: W2 must be [E,Hd]");
    auto input = emb;
    if (cfg.normalizeInput)
      input = emb / emb.pow(2).sum(-1, /*keepdim=*/true).sqrt().clamp_min(1e-12);
    auto hidden = torch::einsum("bpd,hd->bph", {input, params.W1}) + params.b1;
    if (!cfg.linearHidden)
      hidden = torch::relu(hidden);
    if (cfg.cosineHead) // the cosine router over the hidden features
      return torch::softmax(cosineScores(hidden, params.W2) / temperature(cfg), -1);
    auto logits = torch::einsum("bph,eh->bpe", {hidden, params.W2}) + params.b2;
    return torch::softmax(logits, -1);
  }

  case RouterKind::Gumbel: {
    TORCH_CHECK(params.keys.defined() && params.keys.size(0) == E, "gumbel router: keys must be [E,D]");
    auto logits = cosineScores(emb, params.keys) / temperature(cfg);
    if (!cfg.training)
      return torch::softmax(logits, -1);
    auto g = params.gumbelNoise.defined() ? params.gumbelNoise : sampleGumbel({B, P, E});
    TORCH_CHECK(g.sizes() == torch::IntArrayRef({B, P, E}), "gumbel router: g must be [B,P,E]");
    auto soft = torch::softmax((logits + g) / cfg.gumbelTau, -1);
    if (!cfg.hard)
      return soft;
    auto hard = torch::one_hot(argmaxExpert(soft), E).to(torch::kDouble);
    return hard - soft.detach() + soft; // straight-through
  }
  }
  TORCH_CHECK(false, "route: unknown router kind");
}

torch::Tensor topKMask(const torch::Tensor &w, int64_t k) {
  const int64_t E = w.size(-1);
  if (k <= 0 || k >= E)
    return torch::ones(w.sizes(), torch::kBool);
  // rank of e = #{e' : w_e' > w_e} + #{e' < e : w_e' == w_e}; keep rank < k.
  auto we = w.detach().unsqueeze(-1);      // [..., E(e), 1]
  auto wo = w.detach().unsqueeze(-2);      // [..., 1, E(e')]
  auto lower = torch::ones({E, E}, torch::kBool).tril(-1); // [e, e'] true where e' < e
  auto ahead = (wo > we).logical_or((wo == we).logical_and(lower));
  auto rank = ahead.sum(-1);
  return rank < k;
}

torch::Tensor applyTopK(const torch::Tensor &w, int64_t k, bool renormalize) {
  const int64_t E = w.size(-1);
  if (k <= 0 || k >= E)
    return w;
  auto kept = w * topKMask(w, k).to(w.scalar_type());
  if (renormalize)
    kept = kept / kept.sum(-1, /*keepdim=*/true);
  return kept;
}

torch::Tensor route(const torch::Tensor &emb, const RouterConfig &cfg,
                    const RouterParams &params) {
  return applyTopK(routeDense(emb, cfg, params), cfg.topK, cfg.renormalize);
}

} // namespace pce::ref
