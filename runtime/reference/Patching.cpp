//===- Patching.cpp - patchify / unpatchify (SEMANTICS.md §1, §4) ----------===//

#include "runtime/reference/Reference.h"

namespace pce::ref {

double lin(int64_t n, int64_t i) {
  if (n == 1)
    return 0.0;
  return 2.0 * static_cast<double>(i) / static_cast<double>(n - 1) - 1.0;
}

torch::Tensor patchify(const torch::Tensor &x, const PatchifyConfig &cfg) {
  TORCH_CHECK(x.dim() == 4, "patchify: x must be [B,C,H,W]");
  TORCH_CHECK(cfg.ph > 0 && cfg.pw > 0 && cfg.r >= 0, "patchify: bad patch config");
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t ph = cfg.ph, pw = cfg.pw, r = cfg.r;
  TORCH_CHECK(H % ph == 0, "patchify: H=", H, " is not a multiple of ph=", ph);
  TORCH_CHECK(W % pw == 0, "patchify: W=", W, " is not a multiple of pw=", pw);
  const int64_t nph = H / ph, npw = W / pw, P = nph * npw;
  const int64_t Hp = ph + 2 * r, Wp = pw + 2 * r;

  // For every (patch, offset) the flat pixel index y*W + x it reads, or H*W (a
  // zero appended to the flattened image) where the pixel is outside the image,
  // or outside the core in isolated mode. The coordinate channels are constants.
  const int64_t zeroIndex = H * W;
  auto index = torch::empty({P, Hp, Wp}, torch::kLong);
  auto coords = torch::empty({P, 4, Hp, Wp}, torch::kDouble);
  auto idx = index.accessor<int64_t, 3>();
  auto crd = coords.accessor<double, 4>();
  for (int64_t a = 0; a < nph; ++a)
    for (int64_t b = 0; b < npw; ++b) {
      const int64_t p = a * npw + b;
      for (int64_t i = -r; i < ph + r; ++i)
        for (int64_t j = -r; j < pw + r; ++j) {
          const int64_t row = a * ph + i, col = b * pw + j;
          const bool inImage = row >= 0 && row < H && col >= 0 && col < W;
          const bool inCore = i >= 0 && i < ph && j >= 0 && j < pw;
          const bool read = inImage && (cfg.halo == Halo::Context || inCore);
          idx[p][i + r][j + r] = read ? row * W + col : zeroIndex;
          crd[p][0][i + r][j + r] = lin(ph, i);
          crd[p][1][i + r][j + r] = lin(pw, j);
          crd[p][2][i + r][j + r] = lin(nph, a);
          crd[p][3][i + r][j + r] = lin(npw, b);
        }
    }

  auto flat = torch::cat({x.reshape({B, C, H * W}), torch::zeros({B, C, 1}, x.options())}, 2);
  auto pixels = flat.index_select(2, index.reshape({-1}))
                    .reshape({B, C, P, Hp, Wp})
                    .permute({0, 2, 1, 3, 4});
  auto coordinates = coords.to(x.options()).unsqueeze(0).expand({B, P, 4, Hp, Wp});
  return torch::cat({pixels, coordinates}, 2).contiguous();
}

torch::Tensor patchCore(const torch::Tensor &patches, int64_t r) {
  TORCH_CHECK(patches.dim() == 5, "patchCore: patches must be [B,P,C,ph+2r,pw+2r]");
  using torch::indexing::Slice;
  const int64_t Hp = patches.size(3), Wp = patches.size(4);
  TORCH_CHECK(Hp > 2 * r && Wp > 2 * r, "patchCore: halo larger than the patch");
  return patches.index({Slice(), Slice(), Slice(), Slice(r, Hp - r), Slice(r, Wp - r)});
}

torch::Tensor unpatchify(const torch::Tensor &y, int64_t H, int64_t W) {
  TORCH_CHECK(y.dim() == 5, "unpatchify: y must be [B,P,Co,ph,pw]");
  const int64_t B = y.size(0), P = y.size(1), Co = y.size(2), ph = y.size(3), pw = y.size(4);
  TORCH_CHECK(H % ph == 0 && W % pw == 0, "unpatchify: image not a multiple of the patch");
  const int64_t nph = H / ph, npw = W / pw;
  TORCH_CHECK(P == nph * npw, "unpatchify: P=", P, " but the image has ", nph * npw, " patches");
  // [B, a, b, Co, i, j] -> [B, Co, a, i, b, j] -> [B, Co, a*ph+i, b*pw+j]
  return y.reshape({B, nph, npw, Co, ph, pw})
      .permute({0, 3, 1, 4, 2, 5})
      .reshape({B, Co, H, W});
}

} // namespace pce::ref
