//===- CoordConv.cpp - the CoordConv twin of a PCE layer -------------------===//

#include "runtime/train/CoordConv.h"

#include <stdexcept>
#include <string>

namespace pce::train {

namespace {
// SEMANTICS.md §1: lin(n, i) = 2i/(n-1) - 1, and 0 for n == 1.
torch::Tensor lin(int64_t n, const torch::Tensor &i) {
  return n > 1 ? i * 2.0 / static_cast<double>(n - 1) - 1.0 : torch::zeros_like(i);
}
} // namespace

torch::Tensor coordinatePlanes(int64_t H, int64_t W, int64_t ph, int64_t pw, const torch::TensorOptions &options) {
  if (ph < 1 || pw < 1 || H % ph != 0 || W % pw != 0)
    throw std::runtime_error("coordinate planes: " + std::to_string(ph) + "x" + std::to_string(pw) +
                             " patches do not tile a " + std::to_string(H) + "x" + std::to_string(W) + " map");
  auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  torch::Tensor y = torch::arange(H, f64).view({H, 1}).expand({H, W});
  torch::Tensor x = torch::arange(W, f64).view({1, W}).expand({H, W});
  torch::Tensor planes = torch::stack({lin(ph, y.remainder(ph)), lin(pw, x.remainder(pw)),
                                       lin(H / ph, torch::floor(y / double(ph))),
                                       lin(W / pw, torch::floor(x / double(pw)))});
  return planes.unsqueeze(0).to(options);
}

} // namespace pce::train
