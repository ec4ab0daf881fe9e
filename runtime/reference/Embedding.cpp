//===- Embedding.cpp - patch embedding with SPP (SEMANTICS.md §2) ----------===//

#include "runtime/reference/Reference.h"

namespace pce::ref {

std::pair<int64_t, int64_t> sppBin(int64_t n, int64_t l, int64_t u) {
  TORCH_CHECK(n > 0 && l > 0 && u >= 0 && u < l, "sppBin: bad arguments");
  const int64_t begin = (u * n) / l;                 // floor(u*n/l)
  const int64_t end = ((u + 1) * n + l - 1) / l;     // ceil((u+1)*n/l)
  return {begin, end};
}

torch::Tensor spp(const torch::Tensor &z, const std::vector<int64_t> &levels) {
  TORCH_CHECK(z.dim() == 4, "spp: z must be [N,De,h,w]");
  using torch::indexing::Slice;
  const int64_t N = z.size(0), De = z.size(1), h = z.size(2), w = z.size(3);
  std::vector<torch::Tensor> perLevel;
  for (int64_t l : levels) {
    std::vector<torch::Tensor> bins; // bin u*l+v -> [N, De]
    for (int64_t u = 0; u < l; ++u) {
      auto [r0, r1] = sppBin(h, l, u);
      for (int64_t v = 0; v < l; ++v) {
        auto [c0, c1] = sppBin(w, l, v);
        bins.push_back(z.index({Slice(), Slice(), Slice(r0, r1), Slice(c0, c1)})
                           .amax({2, 3}));
      }
    }
    // [N, De, l*l] flattened channel-major: c*l*l + u*l + v.
    perLevel.push_back(torch::stack(bins, 2).reshape({N, De * l * l}));
  }
  return torch::cat(perLevel, 1);
}

torch::Tensor embed(const torch::Tensor &patches, int64_t r, const torch::Tensor &We,
                    const torch::Tensor &be, const EmbedConfig &cfg) {
  TORCH_CHECK(patches.dim() == 5, "embed: patches must be [B,P,C+4,ph+2r,pw+2r]");
  TORCH_CHECK(We.dim() == 2 && We.size(1) == patches.size(2), "embed: We must be [De, C+4]");
  TORCH_CHECK(be.dim() == 1 && be.size(0) == We.size(0), "embed: be must be [De]");
  const int64_t B = patches.size(0), P = patches.size(1);
  auto core = patchCore(patches, r);                           // [B,P,C+4,ph,pw]
  auto z = torch::einsum("dc,bpcij->bpdij", {We, core}) +      // conv1x1
           be.reshape({1, 1, -1, 1, 1});
  auto pooled = spp(z.flatten(0, 1), cfg.levels);              // [B*P, D]
  return pooled.reshape({B, P, -1});
}

} // namespace pce::ref
