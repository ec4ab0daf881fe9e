//===- Experts.cpp - experts, mixing and attention (SEMANTICS.md §4) -------===//

#include "runtime/reference/Reference.h"

namespace pce::ref {

ExpertsResult experts(const torch::Tensor &patches, const ExpertParams &params, bool training,
                      const torch::Tensor &routed) {
  TORCH_CHECK(patches.dim() == 5, "experts: patches must be [B,P,C+4,ph+2r,pw+2r]");
  const auto &K = params.kernels;
  TORCH_CHECK(K.dim() == 5 && K.size(2) == patches.size(2) && K.size(3) == K.size(4) &&
                  K.size(3) % 2 == 1,
              "experts: kernels must be [E,Co,C+4,k,k] with k odd");
  const int64_t B = patches.size(0), P = patches.size(1), E = K.size(0), Co = K.size(1);
  for (const auto *t : {&params.gamma, &params.beta, &params.runningMean, &params.runningVar})
    TORCH_CHECK(t->defined() && t->sizes() == torch::IntArrayRef({E, Co}),
                "experts: BN tensors must be [E,Co]");
  TORCH_CHECK(!routed.defined() || routed.sizes() == torch::IntArrayRef({B, P, E}),
              "experts: routed mask must be [B,P,E]");

  auto flat = patches.flatten(0, 1); // [N, C+4, ph+2r, pw+2r]
  auto routedFlat = routed.defined() ? routed.reshape({B * P, E}).to(torch::kBool) : torch::Tensor();

  std::vector<torch::Tensor> ys, means, vars, runMeans, runVars;
  std::vector<int64_t> counts;
  for (int64_t e = 0; e < E; ++e) {
    auto conv = torch::conv2d(flat, K[e]); // valid convolution: [N, Co, ph, pw]
    const int64_t pixels = conv.size(2) * conv.size(3);
    torch::Tensor mean = params.runningMean[e], var = params.runningVar[e];
    torch::Tensor runMean = params.runningMean[e].detach(), runVar = params.runningVar[e].detach();
    int64_t count = 0;
    if (training) {
      auto mine = routedFlat.defined() ? conv.index({routedFlat.select(1, e)}) : conv;
      count = mine.size(0) * pixels;
      if (count > 0) {
        mean = mine.mean({0, 2, 3});
        var = (mine - mean.reshape({1, Co, 1, 1})).pow(2).mean({0, 2, 3}); // biased
        const double unbias = count > 1 ? static_cast<double>(count) / (count - 1) : 1.0;
        runMean = (1 - params.momentum) * runMean + params.momentum * mean.detach();
        runVar = (1 - params.momentum) * runVar + params.momentum * unbias * var.detach();
      }
    }
    auto normalised = (conv - mean.reshape({1, Co, 1, 1})) /
                      (var.reshape({1, Co, 1, 1}) + params.eps).sqrt();
    ys.push_back(torch::relu(params.gamma[e].reshape({1, Co, 1, 1}) * normalised +
                             params.beta[e].reshape({1, Co, 1, 1})));
    means.push_back(mean);
    vars.push_back(var);
    runMeans.push_back(runMean);
    runVars.push_back(runVar);
    counts.push_back(count);
  }

  ExpertsResult result;
  auto y = torch::stack(ys, 1); // [N, E, Co, ph, pw]
  result.y = y.reshape({B, P, E, Co, y.size(3), y.size(4)});
  result.mean = torch::stack(means);
  result.var = torch::stack(vars);
  result.runningMean = torch::stack(runMeans);
  result.runningVar = torch::stack(runVars);
  result.count = torch::tensor(counts, torch::kLong);
  return result;
}

torch::Tensor mixSum(const torch::Tensor &y, const torch::Tensor &w) {
  TORCH_CHECK(y.dim() == 6 && w.dim() == 3 && y.sizes().slice(0, 3) == w.sizes(),
              "mix: y must be [B,P,E,Co,ph,pw] and w [B,P,E]");
  return (w.reshape({w.size(0), w.size(1), w.size(2), 1, 1, 1}) * y).sum(2);
}

torch::Tensor mixConcat(const torch::Tensor &y, const torch::Tensor &w, const torch::Tensor &Wc,
                        const torch::Tensor &bc) {
  TORCH_CHECK(y.dim() == 6 && w.dim() == 3 && y.sizes().slice(0, 3) == w.sizes(),
              "mix: y must be [B,P,E,Co,ph,pw] and w [B,P,E]");
  const int64_t B = y.size(0), P = y.size(1), E = y.size(2), Co = y.size(3);
  TORCH_CHECK(Wc.dim() == 2 && Wc.size(1) == E * Co, "mix concat: Wc must be [Co', E*Co]");
  TORCH_CHECK(bc.dim() == 1 && bc.size(0) == Wc.size(0), "mix concat: bc must be [Co']");
  // Channel e*Co + c of the concatenation is w_e * y_e[c].
  auto weighted = w.reshape({B, P, E, 1, 1, 1}) * y;
  auto concatenated = weighted.reshape({B, P, E * Co, y.size(4), y.size(5)});
  return torch::einsum("oq,bpqij->bpoij", {Wc, concatenated}) + bc.reshape({1, 1, -1, 1, 1});
}

torch::Tensor attentionSE(const torch::Tensor &x, const torch::Tensor &W1, const torch::Tensor &b1,
                          const torch::Tensor &W2, const torch::Tensor &b2) {
  TORCH_CHECK(x.dim() == 5, "se: x must be [B,P,Co,ph,pw]");
  const int64_t Co = x.size(2);
  TORCH_CHECK(W1.dim() == 2 && W1.size(1) == Co && b1.dim() == 1 && b1.size(0) == W1.size(0),
              "se: W1 must be [Hd,Co], b1 [Hd]");
  TORCH_CHECK(W2.dim() == 2 && W2.size(0) == Co && W2.size(1) == W1.size(0) && b2.dim() == 1 &&
                  b2.size(0) == Co,
              "se: W2 must be [Co,Hd], b2 [Co]");
  auto squeezed = x.mean({3, 4});                                            // [B,P,Co]
  auto hidden = torch::relu(torch::einsum("hc,bpc->bph", {W1, squeezed}) + b1);
  auto gate = torch::sigmoid(torch::einsum("ch,bph->bpc", {W2, hidden}) + b2); // [B,P,Co]
  return x * gate.unsqueeze(-1).unsqueeze(-1);
}

} // namespace pce::ref
