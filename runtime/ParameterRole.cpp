//===- ParameterRole.cpp - what a parameter is, and how it starts ---------===//

#include "runtime/ParameterRole.h"

#include "runtime/Failure.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace pce::rt {

namespace {
const std::pair<ParamRole, const char *> kRoles[] = {
    {ParamRole::ConvKernel, "conv_kernel"},
    {ParamRole::ConvBias, "conv_bias"},
    {ParamRole::LinearWeight, "linear_weight"},
    {ParamRole::LinearBias, "linear_bias"},
    {ParamRole::BnGamma, "bn_gamma"},
    {ParamRole::BnBeta, "bn_beta"},
    {ParamRole::BnRunningMean, "bn_running_mean"},
    {ParamRole::BnRunningVar, "bn_running_var"},
    {ParamRole::EmbedWeight, "embed_weight"},
    {ParamRole::EmbedBias, "embed_bias"},
    {ParamRole::RouterKeys, "router_keys"},
    {ParamRole::RouterMlpWeight, "router_mlp_weight"},
    {ParamRole::RouterMlpBias, "router_mlp_bias"},
    {ParamRole::RouterLogTau, "router_log_tau"},
    {ParamRole::ExpertKernel, "expert_kernel"},
    {ParamRole::ExpertScale, "expert_scale"},
    {ParamRole::ExpertShift, "expert_shift"},
    {ParamRole::MixProjWeight, "mix_proj_weight"},
    {ParamRole::MixProjBias, "mix_proj_bias"},
    {ParamRole::SeWeight, "se_weight"},
    {ParamRole::SeBias, "se_bias"},
    {ParamRole::HeatmapBias, "heatmap_bias"},
};

const std::pair<Initialiser::Kind, const char *> kKinds[] = {
    {Initialiser::Kind::Constant, "constant"},
    {Initialiser::Kind::HeNormal, "he_normal"},
    {Initialiser::Kind::UnitRows, "unit_rows"},
    {Initialiser::Kind::IdentityBlocks, "identity_blocks"},
};

Initialiser constant(double value) { return {Initialiser::Kind::Constant, value, 1}; }
Initialiser heNormal(int64_t fanIn) { return {Initialiser::Kind::HeNormal, 0, fanIn < 1 ? 1 : fanIn}; }

int64_t product(const std::vector<int64_t> &shape, size_t from) {
  int64_t n = 1;
  for (size_t i = from; i < shape.size(); ++i)
    n *= shape[i];
  return n;
}
} // namespace

const char *paramRoleName(ParamRole role) {
  for (const auto &[r, name] : kRoles)
    if (r == role)
      return name;
  return "?";
}

std::optional<ParamRole> parseParamRole(std::string_view name) {
  for (const auto &[r, n] : kRoles)
    if (name == n)
      return r;
  return std::nullopt;
}

const std::vector<std::string> &paramRoleNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto &entry : kRoles)
      v.push_back(entry.second);
    return v;
  }();
  return names;
}

const char *initialiserKindName(Initialiser::Kind kind) {
  for (const auto &[k, name] : kKinds)
    if (k == kind)
      return name;
  return "?";
}

std::optional<Initialiser::Kind> parseInitialiserKind(std::string_view name) {
  for (const auto &[k, n] : kKinds)
    if (name == n)
      return k;
  return std::nullopt;
}

Expected<Initialiser> initialiserFor(ParamRole role, const std::vector<int64_t> &shape,
                                     const InitContext &context) {
  auto needRank = [&](size_t rank) {
    if (shape.size() != rank)
      return Status::error(std::string("a ") + paramRoleName(role) + " has rank " + std::to_string(rank) +
                           ", found rank " + std::to_string(shape.size()));
    return Status::success();
  };
  switch (role) {
  case ParamRole::ConvKernel: // [Co, Cin, kh, kw]: fan-in Cin*kh*kw
    if (Status s = needRank(4); !s)
      return s;
    return heNormal(product(shape, 1));
  case ParamRole::ExpertKernel: // [E, Co, Cin, k, k]: fan-in Cin*k*k
    if (Status s = needRank(5); !s)
      return s;
    return heNormal(product(shape, 2));
  case ParamRole::LinearWeight: // [in, out]
    if (Status s = needRank(2); !s)
      return s;
    return heNormal(shape[0]);
  case ParamRole::EmbedWeight: // [out, in]
  case ParamRole::RouterMlpWeight:
  case ParamRole::SeWeight:
    if (Status s = needRank(2); !s)
      return s;
    return heNormal(shape[1]);
  case ParamRole::RouterKeys:
    if (Status s = needRank(2); !s)
      return s;
    return Initialiser{Initialiser::Kind::UnitRows, 0, 1};
  case ParamRole::MixProjWeight: // [Co', E*Co]: with Co' == Co, starts as the experts' sum
    if (Status s = needRank(2); !s)
      return s;
    if (context.experts > 0 && shape[1] == context.experts * shape[0])
      return Initialiser{Initialiser::Kind::IdentityBlocks, 0, 1};
    return heNormal(shape[1]);
  case ParamRole::RouterLogTau:
    if (Status s = needRank(0); !s)
      return s;
    if (!(context.tau > 0))
      return Status::error("router_log_tau needs a positive tau, found " + std::to_string(context.tau));
    return constant(std::log(context.tau));
  case ParamRole::BnGamma:
  case ParamRole::BnRunningVar:
  case ParamRole::ExpertScale:
    return constant(1.0);
  case ParamRole::ConvBias:
  case ParamRole::LinearBias:
  case ParamRole::BnBeta:
  case ParamRole::BnRunningMean:
  case ParamRole::EmbedBias:
  case ParamRole::RouterMlpBias:
  case ParamRole::ExpertShift:
  case ParamRole::MixProjBias:
  case ParamRole::SeBias:
    return constant(0.0);
  case ParamRole::HeatmapBias:
    return constant(std::log(kHeatmapPrior / (1 - kHeatmapPrior)));
  }
  return Status::error("unknown parameter role");
}

Status initialise(const Initialiser &init, HostTensor &t, std::mt19937_64 &rng) {
  if (!t.f32() && !t.f64())
    return Status::error("cannot initialise a " + std::string(dtypeName(t.dtype)) + " tensor");
  const int64_t n = t.numel();
  auto set = [&](int64_t i, double v) {
    if (t.f32())
      t.f32()[i] = static_cast<float>(v);
    else
      t.f64()[i] = v;
  };
  std::normal_distribution<double> normal(0.0, 1.0);
  switch (init.kind) {
  case Initialiser::Kind::Constant:
    for (int64_t i = 0; i < n; ++i)
      set(i, init.value);
    return Status::success();
  case Initialiser::Kind::HeNormal: {
    double std = std::sqrt(2.0 / static_cast<double>(init.fanIn < 1 ? 1 : init.fanIn));
    for (int64_t i = 0; i < n; ++i)
      set(i, std * normal(rng));
    return Status::success();
  }
  case Initialiser::Kind::UnitRows: {
    if (t.shape.empty())
      return Status::error("unit_rows needs a tensor of rank 1 or more");
    int64_t cols = t.shape.back(), rows = cols ? n / cols : 0;
    std::vector<double> row(cols);
    for (int64_t r = 0; r < rows; ++r) {
      double norm = 0;
      for (double &v : row) {
        v = normal(rng);
        norm += v * v;
      }
      norm = std::max(std::sqrt(norm), 1e-12);
      for (int64_t c = 0; c < cols; ++c)
        set(r * cols + c, row[c] / norm);
    }
    return Status::success();
  }
  case Initialiser::Kind::IdentityBlocks: {
    if (t.shape.size() != 2 || t.shape[0] < 1 || t.shape[1] % t.shape[0] != 0)
      return Status::error("identity_blocks needs a [r, k*r] tensor");
    int64_t rows = t.shape[0], cols = t.shape[1];
    for (int64_t i = 0; i < n; ++i)
      set(i, (i % cols) % rows == i / cols ? 1.0 : 0.0);
    return Status::success();
  }
  }
  return Status::error("unknown initialiser");
}

} // namespace pce::rt
