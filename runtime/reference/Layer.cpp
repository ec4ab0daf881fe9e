//===- Layer.cpp - the composite PCE layer -----------------------------------===//

#include "runtime/reference/Reference.h"

namespace pce::ref {

LayerResult layer(const torch::Tensor &x, const LayerConfig &cfg, const LayerParams &params) {
  TORCH_CHECK(x.dim() == 4, "layer: x must be [B,C,H,W]");
  const auto &K = params.experts.kernels;
  TORCH_CHECK(K.defined() && K.dim() == 5, "layer: kernels must be [E,Co,C+4,k,k]");
  TORCH_CHECK(cfg.patch.r == K.size(3) / 2, "layer: patch halo r=", cfg.patch.r,
              " but the kernels are ", K.size(3), "x", K.size(4));
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3), E = K.size(0);

  RouterConfig routerCfg = cfg.router;
  routerCfg.training = cfg.training;
  TORCH_CHECK(routerCfg.numExperts == E, "layer: router has ", routerCfg.numExperts,
              " experts, the kernels ", E);

  LayerResult result;
  auto patches = patchify(x, cfg.patch);
  const int64_t P = patches.size(1);
  const bool routerReadsEmbedding = routerCfg.kind == RouterKind::Cosine ||
                                    routerCfg.kind == RouterKind::Mlp ||
                                    routerCfg.kind == RouterKind::Gumbel;
  if (params.We.defined())
    result.emb = embed(patches, cfg.patch.r, params.We, params.be, cfg.embed);
  TORCH_CHECK(result.emb.defined() || !routerReadsEmbedding,
              "layer: this router needs the embedding weights We, be");
  auto routerInput = result.emb.defined() ? result.emb : torch::zeros({B, P, 0}, torch::kDouble);

  result.denseWeights = routeDense(routerInput, routerCfg, params.router);
  result.weights = applyTopK(result.denseWeights, routerCfg.topK, routerCfg.renormalize);

  // Under top-k an expert's batch statistics cover only the patches that chose it.
  torch::Tensor routed;
  if (cfg.training && routerCfg.topK > 0)
    routed = topKMask(result.denseWeights, routerCfg.topK);
  result.experts = experts(patches, params.experts, cfg.training, routed);

  torch::Tensor mixed;
  if (cfg.mix == MixKind::Sum)
    mixed = mixSum(result.experts.y, result.weights);
  else
    mixed = mixConcat(result.experts.y, result.weights, params.Wc, params.bc);
  if (cfg.attention == AttentionKind::SE)
    mixed = attentionSE(mixed, params.seW1, params.seb1, params.seW2, params.seb2);

  result.out = unpatchify(mixed, H, W);
  return result;
}

} // namespace pce::ref
