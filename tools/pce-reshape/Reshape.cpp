//===- Reshape.cpp - pruning and splitting a PCE layer's experts ---------===//

#include "tools/pce-reshape/Reshape.h"

#include <cmath>
#include <cstdio>
#include <cstring>

namespace pce::reshape {

using rt::Expected;
using rt::HostTensor;
using rt::ParamRole;
using rt::Status;

const char *actionName(Action action) {
  switch (action) {
  case Action::Keep:
    return "keep";
  case Action::Prune:
    return "prune";
  case Action::Split:
    return "split";
  }
  return "keep";
}

namespace {

std::string percent(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100 * v);
  return buf;
}

std::string fixed(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

bool endsWith(const std::string &s, const std::string &tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

} // namespace

LayerDecision decideExperts(const std::vector<double> &usage, const std::vector<double> *entropy,
                            const Thresholds &t) {
  LayerDecision d;
  const int64_t E = int64_t(usage.size());
  for (int64_t e = 0; e < E; ++e) {
    ExpertDecision x;
    x.expert = e;
    x.usage = usage[e];
    if (entropy)
      x.entropy = (*entropy)[e];
    if (t.pruneUsageBelow && x.usage < *t.pruneUsageBelow) {
      x.action = Action::Prune;
      x.why = "usage " + percent(x.usage) + " < " + percent(*t.pruneUsageBelow);
    } else if (t.splitUsageAbove && x.usage > *t.splitUsageAbove) {
      x.action = Action::Split;
      x.why = "usage " + percent(x.usage) + " > " + percent(*t.splitUsageAbove);
    } else if (t.splitEntropyAbove && x.entropy && *x.entropy > *t.splitEntropyAbove) {
      x.action = Action::Split;
      x.why = "entropy " + fixed(*x.entropy) + " > " + fixed(*t.splitEntropyAbove);
    }
    d.experts.push_back(x);
  }
  // A layer needs an expert: keep the most used one rather than none.
  bool anyLeft = false;
  for (const ExpertDecision &x : d.experts)
    anyLeft |= x.action != Action::Prune;
  if (E > 0 && !anyLeft) {
    int64_t best = 0;
    for (int64_t e = 1; e < E; ++e)
      if (usage[e] > usage[best])
        best = e;
    d.experts[best].action = Action::Keep;
    d.experts[best].why = "kept: the rule would prune all " + std::to_string(E) + " experts";
    d.note = "the prune rule would remove all " + std::to_string(E) + " experts; kept expert " +
             std::to_string(best) + " (the most used, " + percent(usage[best]) + ")";
  }

  ExpertMap &m = d.map;
  m.before = E;
  std::vector<int64_t> newIndex(E, -1);
  for (const ExpertDecision &x : d.experts) {
    if (x.action == Action::Prune) {
      m.pruned.push_back(x.expert);
      continue;
    }
    newIndex[x.expert] = m.after();
    m.origin.push_back(x.expert);
  }
  for (const ExpertDecision &x : d.experts)
    if (x.action == Action::Split) {
      m.splits.push_back({x.expert, newIndex[x.expert], m.after()});
      m.origin.push_back(x.expert);
    }
  return d;
}

Expected<std::optional<ExpertAxis>> expertAxis(const std::string &name,
                                               std::optional<ParamRole> role,
                                               const std::vector<int64_t> &shape, int64_t E,
                                               int64_t Co) {
  using Axis = std::optional<ExpertAxis>;
  if (!role)
    return Status::error("parameter '" + name +
                         "' has no role in the manifest: cannot tell whether it has an expert "
                         "dimension (compile the model again to record roles)");
  const std::string roleName = rt::paramRoleName(*role);
  auto bad = [&](const std::string &expected) {
    return Status::error("parameter '" + name + "' (" + roleName + ") has shape " +
                         shapeString(shape) + ", expected " + expected + " with E = " +
                         std::to_string(E));
  };
  // Experts along dim 0: [E, ...] of a known rank.
  auto rows = [&](size_t rank, const std::string &expected) -> Expected<Axis> {
    if (shape.size() != rank || shape[0] != E)
      return bad(expected);
    return Axis(ExpertAxis{0, 1});
  };
  switch (*role) {
  case ParamRole::ExpertKernel:
    return rows(5, "[E, Co, Cin, k, k]");
  case ParamRole::BnGamma:
  case ParamRole::BnBeta:
  case ParamRole::BnRunningMean:
  case ParamRole::BnRunningVar:
  case ParamRole::ExpertScale:
  case ParamRole::ExpertShift:
    return rows(2, "[E, Co]");
  case ParamRole::RouterKeys:
    return rows(2, "[E, D]");
  // The MLP router's last layer is [out, in] = [E, Hd] and b2 [E]; the first
  // layer's rows are hidden units. The name tells them apart even when Hd == E.
  case ParamRole::RouterMlpWeight:
    if (endsWith(name, ".w2"))
      return rows(2, "[E, Hd]");
    if (endsWith(name, ".w1"))
      return Axis();
    return Status::error("parameter '" + name +
                         "' (router_mlp_weight) is neither the MLP router's w1 nor w2: "
                         "cannot tell its expert dimension");
  case ParamRole::RouterMlpBias:
    if (endsWith(name, ".b2"))
      return rows(1, "[E]");
    if (endsWith(name, ".b1"))
      return Axis();
    return Status::error("parameter '" + name +
                         "' (router_mlp_bias) is neither the MLP router's b1 nor b2: "
                         "cannot tell its expert dimension");
  // [Co', E*Co]: expert-major blocks of Co columns.
  case ParamRole::MixProjWeight:
    if (shape.size() != 2 || Co <= 0 || shape[1] != E * Co)
      return bad("[Co', E*Co] (Co = " + std::to_string(Co) + ")");
    return Axis(ExpertAxis{1, Co});
  case ParamRole::EmbedWeight:
  case ParamRole::EmbedBias:
  case ParamRole::RouterLogTau:
  case ParamRole::MixProjBias:
  case ParamRole::SeWeight:
  case ParamRole::SeBias:
    return Axis();
  default:
    return Status::error("parameter '" + name + "' has role " + roleName +
                         ", which a pce layer does not have: pce-reshape cannot reshape it");
  }
}

Expected<HostTensor> gatherExperts(const HostTensor &t, const ExpertAxis &axis,
                                   const std::vector<int64_t> &origin) {
  if (axis.dim < 0 || size_t(axis.dim) >= t.shape.size() || axis.block <= 0 ||
      t.shape[axis.dim] % axis.block != 0)
    return Status::error("cannot take expert blocks of " + std::to_string(axis.block) +
                         " along dim " + std::to_string(axis.dim) + " of " + t.typeString());
  const int64_t E = t.shape[axis.dim] / axis.block;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis.dim; ++i)
    outer *= t.shape[i];
  for (size_t i = axis.dim + 1; i < t.shape.size(); ++i)
    inner *= t.shape[i];
  for (int64_t o : origin)
    if (o < 0 || o >= E)
      return Status::error("expert " + std::to_string(o) + " out of range for " + t.typeString());
  std::vector<int64_t> shape = t.shape;
  shape[axis.dim] = int64_t(origin.size()) * axis.block;
  auto out = HostTensor::create(t.dtype, shape);
  if (!out)
    return out.status();
  const size_t chunk = size_t(axis.block * inner) * rt::dtypeSize(t.dtype);
  const uint8_t *src = t.data.data();
  uint8_t *dst = out->data.data();
  const int64_t after = int64_t(origin.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < after; ++i)
      std::memcpy(dst + (o * after + i) * chunk, src + (o * E + origin[i]) * chunk, chunk);
  return out;
}

namespace {

// Element i of an f32/f64 tensor as a double, and back.
double getAt(const HostTensor &t, int64_t i) {
  return t.dtype == rt::DType::F32 ? double(t.f32()[i]) : t.f64()[i];
}
void setAt(HostTensor &t, int64_t i, double v) {
  if (t.dtype == rt::DType::F32)
    t.f32()[i] = float(v);
  else
    t.f64()[i] = v;
}
bool isFloat(const HostTensor &t) {
  return t.dtype == rt::DType::F32 || t.dtype == rt::DType::F64;
}

} // namespace

Status reshapeLayer(std::map<std::string, HostTensor> &tensors, const std::vector<LayerParam> &params,
                    const ExpertMap &map, const SurgeryOptions &options, std::mt19937_64 &rng) {
  // Co from the experts' kernel: the concat projection's column blocks.
  const HostTensor *kernel = nullptr;
  std::string kernelName;
  for (const LayerParam &p : params)
    if (p.role == ParamRole::ExpertKernel) {
      auto it = tensors.find(p.name);
      if (it == tensors.end())
        return Status::error("the weights have no tensor '" + p.name + "' (the manifest's expert kernel)");
      kernel = &it->second;
      kernelName = p.name;
    }
  if (!kernel)
    return Status::error("the manifest lists no expert_kernel parameter for this layer");
  if (kernel->shape.size() != 5)
    return Status::error("expert kernel '" + kernelName + "' is " + kernel->typeString() +
                         ", expected [E, Co, Cin, k, k]");
  const int64_t E = map.before, Co = kernel->shape[1];

  // Everything is computed into `updated` first, so an error leaves `tensors` alone.
  std::map<std::string, HostTensor> updated;
  std::string mlpBias;
  for (const LayerParam &p : params) {
    auto it = tensors.find(p.name);
    if (it == tensors.end())
      return Status::error("the weights have no tensor '" + p.name + "' that the manifest lists");
    auto axis = expertAxis(p.name, p.role, it->second.shape, E, Co);
    if (!axis)
      return axis.status();
    if (!*axis)
      continue;
    auto gathered = gatherExperts(it->second, **axis, map.origin);
    if (!gathered)
      return Status::error("'" + p.name + "': " + gathered.error());
    if (p.role == ParamRole::RouterMlpBias)
      mlpBias = p.name;
    updated[p.name] = std::move(*gathered);
  }

  if (!map.splits.empty()) {
    // The copy's kernel: k + EPS * rms(k) * n, so the pair can separate in
    // fine-tuning while the original expert stays bit for bit.
    HostTensor &k = updated[kernelName];
    if (!isFloat(k))
      return Status::error("expert kernel '" + kernelName + "' is " + k.typeString() +
                           ": only f32/f64 kernels can be perturbed");
    const int64_t per = k.numel() / map.after();
    std::normal_distribution<double> normal(0.0, 1.0);
    for (const Split &s : map.splits) {
      double sumSq = 0;
      for (int64_t i = 0; i < per; ++i)
        sumSq += getAt(k, s.copy * per + i) * getAt(k, s.copy * per + i);
      const double scale = options.perturb * std::sqrt(sumSq / double(per));
      for (int64_t i = 0; i < per; ++i) {
        const int64_t at = s.copy * per + i;
        setAt(k, at, getAt(k, at) + scale * normal(rng));
      }
    }
    // exp(b - log 2) * 2 = exp(b): the pair shares the old softmax mass and
    // the normaliser, hence every other expert's weight, is unchanged.
    if (!mlpBias.empty()) {
      HostTensor &b = updated[mlpBias];
      if (!isFloat(b))
        return Status::error("'" + mlpBias + "' is " + b.typeString() + ": expected f32/f64");
      for (const Split &s : map.splits) {
        setAt(b, s.stays, getAt(b, s.stays) - std::log(2.0));
        setAt(b, s.copy, getAt(b, s.copy) - std::log(2.0));
      }
    }
  }
  for (auto &[name, t] : updated)
    tensors[name] = std::move(t);
  return Status::success();
}

} // namespace pce::reshape
