//===- Layers.cpp - random PCE layers as MLIR text and reference ----------===//

#include "runtime/reference/Layers.h"

#include <sstream>

namespace pce::agree {

const char *routerName(ref::RouterKind kind) {
  switch (kind) {
  case ref::RouterKind::Uniform: return "uniform";
  case ref::RouterKind::Position: return "position";
  case ref::RouterKind::Cosine: return "cosine";
  case ref::RouterKind::Mlp: return "mlp";
  case ref::RouterKind::Gumbel: return "gumbel";
  }
  return "?";
}

std::string LayerSpec::describe() const {
  std::ostringstream os;
  os << routerName(router) << " E=" << experts << " top_k=" << topK
     << (renormalize ? " renorm" : "")
     << (normalizeInput ? " unit-input" : "") << (cosineHead ? " cosine-head" : "") << (linearHidden ? " linear" : "")
     << " patch=" << ph << "x" << pw
     << " k=" << k << (halo == ref::Halo::Isolated ? " isolated" : "")
     << (mix == ref::MixKind::Concat ? " concat" : "")
     << (attention == ref::AttentionKind::SE ? "+se" : "")
     << (affineNorm ? " affine" : "");
  return os.str();
}

static std::string join(const std::vector<int64_t> &v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i)
    s += (i ? ", " : "") + std::to_string(v[i]);
  return s;
}

/// `(%a, %b : T, T)` for an operand group.
static std::string group(const std::vector<std::string> &ssa,
                         const std::vector<torch::Tensor> &values, bool f64) {
  std::string names, types;
  for (size_t i = 0; i < ssa.size(); ++i) {
    names += (i ? ", " : "") + ssa[i];
    types += (i ? ", " : "") + tensorType(values[i].sizes(), f64);
  }
  return "(" + names + " : " + types + ")";
}

BuiltLayer addLayer(ModelText &model, const std::string &prefix,
                    const std::string &x, c10::IntArrayRef xShape,
                    const LayerSpec &s) {
  auto f64 = torch::kFloat64;
  int64_t b = xShape[0], c = xShape[1], h = xShape[2], w = xShape[3];
  int64_t cin = c + 4, e = s.experts, co = s.outChannels, r = s.k / 2;
  int64_t de = s.embedWidth ? s.embedWidth : cin;
  int64_t d = de * [&] { int64_t n = 0; for (int64_t l : s.levels) n += l * l; return n; }();
  int64_t p = (h / s.ph) * (w / s.pw);
  auto param = [&](const std::string &name, torch::Tensor value) {
    return model.param(prefix + "." + name, value);
  };
  auto value = [&](const std::string &name) { return model.value(prefix + "." + name); };

  BuiltLayer out;
  out.config.patch = {s.ph, s.pw, r, s.halo};
  out.config.embed.levels = s.levels;
  ref::RouterConfig &rc = out.config.router;
  rc.kind = s.router;
  rc.numExperts = e;
  rc.tau = s.tau;
  rc.topK = s.topK;
  rc.renormalize = s.renormalize;
  rc.positionTable = s.table;
  rc.beta = s.beta;
  rc.sigma = s.sigma;
  rc.gumbelTau = s.gumbelTau;
  rc.hard = s.hard;
  rc.normalizeInput = s.normalizeInput;
  rc.cosineHead = s.cosineHead;
  rc.linearHidden = s.linearHidden;
  out.config.mix = s.mix;
  out.config.attention = s.attention;

  std::ostringstream op;
  out.ssa = "%" + std::string(prefix == "" ? "l" : prefix);
  for (char &ch : out.ssa)
    if (ch == '.')
      ch = '_';
  op << out.ssa << " = pce.layer " << x << " patch [" << s.ph << ", " << s.pw << "]";
  if (s.halo == ref::Halo::Isolated)
    op << " halo isolated";

  bool readsEmbeddings = s.router == ref::RouterKind::Cosine ||
                         s.router == ref::RouterKind::Mlp ||
                         s.router == ref::RouterKind::Gumbel;
  if (readsEmbeddings) {
    auto we = param("embed.weight", torch::randn({de, cin}, f64) / std::sqrt(double(cin)));
    auto be = param("embed.bias", torch::randn({de}, f64) * 0.1);
    op << " embed" << group({we, be}, {value("embed.weight"), value("embed.bias")}, model.isF64())
       << " levels [" << join(s.levels) << "]";
    out.params.We = value("embed.weight");
    out.params.be = value("embed.bias");
  }
  op << " router " << routerName(s.router);
  if (s.router == ref::RouterKind::Cosine || s.router == ref::RouterKind::Gumbel) {
    auto keys = param("router.keys", torch::randn({e, d}, f64));
    op << " keys" << group({keys}, {value("router.keys")}, model.isF64());
    out.params.router.keys = value("router.keys");
  }
  if (s.router == ref::RouterKind::Mlp) {
    int64_t hd = s.hidden;
    std::vector<std::string> ssa = {
        param("router.mlp.w1", torch::randn({hd, d}, f64) / std::sqrt(double(d))),
        param("router.mlp.b1", torch::randn({hd}, f64) * 0.1),
        param("router.mlp.w2", torch::randn({e, hd}, f64) / std::sqrt(double(hd)))};
    out.params.router.W1 = value("router.mlp.w1");
    out.params.router.b1 = value("router.mlp.b1");
    out.params.router.W2 = value("router.mlp.w2");
    std::vector<torch::Tensor> values = {out.params.router.W1, out.params.router.b1, out.params.router.W2};
    if (!s.cosineHead) {
      ssa.push_back(param("router.mlp.b2", torch::randn({e}, f64) * 0.1));
      out.params.router.b2 = value("router.mlp.b2");
      values.push_back(out.params.router.b2);
    }
    op << " mlp" << group(ssa, values, model.isF64());
  }
  bool hasTau = s.router == ref::RouterKind::Cosine || s.router == ref::RouterKind::Gumbel ||
                (s.router == ref::RouterKind::Mlp && s.cosineHead);
  if (hasTau && s.learnableTau) {
    auto t = param("router.log_tau", torch::randn({}, f64) * 0.5);
    op << " log_tau" << group({t}, {value("router.log_tau")}, model.isF64());
    rc.logTau = value("router.log_tau");
  } else if (hasTau) {
    op << " tau " << std::to_string(s.tau);
  }
  if (s.topK)
    op << " top_k " << s.topK;
  if (s.renormalize)
    op << " renormalize";
  if (s.router == ref::RouterKind::Position) {
    if (!s.table.empty())
      op << " table [" << join(s.table) << "]";
    op << " beta " << std::to_string(s.beta);
    if (s.sigma != 0)
      op << " sigma " << std::to_string(s.sigma);
  }
  if (s.router == ref::RouterKind::Mlp && s.normalizeInput)
    op << " normalize_input";
  if (s.router == ref::RouterKind::Mlp && s.cosineHead)
    op << " cosine_head";
  if (s.router == ref::RouterKind::Mlp && s.linearHidden)
    op << " linear_hidden";
  if (s.router == ref::RouterKind::Gumbel) {
    if (s.gumbelTau != 1.0)
      op << " gumbel_tau " << std::to_string(s.gumbelTau);
    if (s.hard)
      op << " hard";
  }

  auto kernels = param("experts.kernel",
                       torch::randn({e, co, cin, s.k, s.k}, f64) /
                           std::sqrt(double(cin * s.k * s.k)));
  op << " experts" << group({kernels}, {value("experts.kernel")}, model.isF64());
  ref::ExpertParams &ep = out.params.experts;
  ep.kernels = value("experts.kernel");
  if (s.affineNorm) {
    auto scale = param("experts.scale", 1.0 + 0.3 * torch::randn({e, co}, f64));
    auto shift = param("experts.shift", 0.2 * torch::randn({e, co}, f64));
    op << " affine" << group({scale, shift}, {value("experts.scale"), value("experts.shift")}, model.isF64());
    // scale*x + shift == gamma*(x - 0)/sqrt((1 - eps) + eps) + beta
    ep.gamma = value("experts.scale");
    ep.beta = value("experts.shift");
    ep.runningMean = torch::zeros({e, co}, f64);
    ep.runningVar = torch::full({e, co}, 1.0 - ep.eps, f64);
  } else {
    std::vector<std::string> ssa = {
        param("experts.bn.gamma", 1.0 + 0.3 * torch::randn({e, co}, f64)),
        param("experts.bn.beta", 0.2 * torch::randn({e, co}, f64)),
        param("experts.bn.running_mean", 0.2 * torch::randn({e, co}, f64)),
        param("experts.bn.running_var", 0.5 + torch::rand({e, co}, f64))};
    ep.gamma = value("experts.bn.gamma");
    ep.beta = value("experts.bn.beta");
    ep.runningMean = value("experts.bn.running_mean");
    ep.runningVar = value("experts.bn.running_var");
    op << " bn" << group(ssa, {ep.gamma, ep.beta, ep.runningMean, ep.runningVar}, model.isF64());
  }
  int64_t outChannels = co;
  if (s.mix == ref::MixKind::Concat) {
    outChannels = co + 1; // the projection may change the width
    auto wc = param("mix.proj.weight",
                    torch::randn({outChannels, e * co}, f64) / std::sqrt(double(e * co)));
    auto bc = param("mix.proj.bias", 0.1 * torch::randn({outChannels}, f64));
    out.params.Wc = value("mix.proj.weight");
    out.params.bc = value("mix.proj.bias");
    op << " mix concat proj" << group({wc, bc}, {out.params.Wc, out.params.bc}, model.isF64());
  }
  if (s.attention == ref::AttentionKind::SE) {
    int64_t hd = std::max<int64_t>(1, outChannels / 4);
    std::vector<std::string> ssa = {
        param("attention.se.w1", torch::randn({hd, outChannels}, f64)),
        param("attention.se.b1", 0.1 * torch::randn({hd}, f64)),
        param("attention.se.w2", torch::randn({outChannels, hd}, f64)),
        param("attention.se.b2", 0.1 * torch::randn({outChannels}, f64))};
    out.params.seW1 = value("attention.se.w1");
    out.params.seb1 = value("attention.se.b1");
    out.params.seW2 = value("attention.se.w2");
    out.params.seb2 = value("attention.se.b2");
    op << " attention se se"
       << group(ssa, {out.params.seW1, out.params.seb1, out.params.seW2, out.params.seb2}, model.isF64());
  }
  op << " : " << tensorType(xShape, model.isF64());
  model.line(op.str());
  out.shape = {b, outChannels, h, w};
  (void)p;
  return out;
}

} // namespace pce::agree
