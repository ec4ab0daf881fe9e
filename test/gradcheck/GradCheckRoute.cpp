//===- GradCheckRoute.cpp - gradients of pce.route --------------------------===//
//
// The compiled training forward and backward of every router kind against
// the float64 reference in training mode (docs/SEMANTICS.md §3), dense and
// top-k, with and without renormalisation, with a fixed or learnable
// temperature, on random inputs of several shapes.
//
//===----------------------------------------------------------------------===//

#include "test/gradcheck/GradCheck.h"
#include "runtime/reference/Layers.h"
#include "runtime/reference/Reference.h"

#include <gtest/gtest.h>

#include <cctype>
#include <functional>
#include <sstream>

using namespace pce;
using pce::agree::ModelText;
using pce::agree::tensorType;
using pce::grad::Tensors;

namespace {

auto f64 = torch::kFloat64;

struct Shape {
  int64_t b, p, d, e;
  int64_t hidden = 6; ///< MLP router
};

const Shape kShapes[] = {{2, 3, 5, 4}, {1, 7, 6, 3, 5}, {3, 2, 4, 5, 3}};

struct RouteCase {
  ref::RouterKind kind;
  int64_t topK = 0;
  bool renormalize = false;
  bool learnableTau = false;
  bool hard = false; ///< gumbel
  Shape shape = kShapes[0];
  bool normalizeInput = false; ///< mlp
  bool cosineHead = false;     ///< mlp
  bool linearHidden = false;   ///< mlp

  std::string describe() const {
    std::ostringstream os;
    os << agree::routerName(kind) << " top_k=" << topK
       << (renormalize ? " renorm" : "") << (learnableTau ? " log_tau" : "")
       << (hard ? " hard" : "") << (normalizeInput ? " unit" : "")
       << (cosineHead ? " head" : "") << (linearHidden ? " linear" : "") << " B=" << shape.b << " P=" << shape.p
       << " D=" << shape.d << " E=" << shape.e;
    return os.str();
  }
  std::string tag() const {
    std::string t = describe();
    for (char &c : t)
      if (!std::isalnum(static_cast<unsigned char>(c)))
        c = '_';
    return "route_" + t;
  }
};

/// Options of the cases' routers (printed as the assembly format wants them).
constexpr double kTau = 0.7, kBeta = 1.5, kSigma = 0.8, kGumbelTau = 0.6;

std::string number(double v) { return std::to_string(v); }

/// A model `w = pce.route ...` on random values, and the reference's
/// configuration of the same router (in training mode).
ModelText buildModel(const RouteCase &c, ref::RouterConfig &cfg,
                     bool f64Model = true) {
  const Shape &s = c.shape;
  ModelText model(f64Model);
  auto type = [&](c10::IntArrayRef shape) { return tensorType(shape, f64Model); };
  std::string scalar = f64Model ? "tensor<f64>" : "tensor<f32>";
  std::string emb = model.input("emb", torch::randn({s.b, s.p, s.d}, f64));
  cfg.kind = c.kind;
  cfg.numExperts = s.e;
  cfg.topK = c.topK;
  cfg.renormalize = c.renormalize;
  cfg.training = true;

  // Operands and options in the order of the assembly format.
  std::string text = std::string(agree::routerName(c.kind)) + " " + emb;
  bool keys = c.kind == ref::RouterKind::Cosine || c.kind == ref::RouterKind::Gumbel;
  if (keys) {
    std::string k = model.param("keys", torch::randn({s.e, s.d}, f64));
    text += " keys(" + k + " : " + type({s.e, s.d}) + ")";
  }
  if (c.kind == ref::RouterKind::Mlp) {
    std::string w1 = model.param("w1", torch::randn({s.hidden, s.d}, f64) / 2);
    std::string b1 = model.param("b1", torch::randn({s.hidden}, f64));
    std::string w2 = model.param("w2", torch::randn({s.e, s.hidden}, f64));
    text += " mlp(" + w1 + ", " + b1 + ", " + w2;
    std::string types = type({s.hidden, s.d}) + ", " + type({s.hidden}) + ", " + type({s.e, s.hidden});
    if (!c.cosineHead) { // a cosine head has no b2
      text += ", " + model.param("b2", torch::randn({s.e}, f64));
      types += ", " + type({s.e});
    }
    text += " : " + types + ")";
  }
  if (c.learnableTau) {
    std::string t = model.param("log_tau", torch::tensor(-0.4, f64));
    text += " log_tau(" + t + " : " + scalar + ")";
  }
  if (c.kind == ref::RouterKind::Uniform || c.kind == ref::RouterKind::Position)
    text += " experts " + std::to_string(s.e);
  if ((keys || c.cosineHead) && !c.learnableTau) {
    text += " tau " + number(kTau);
    cfg.tau = kTau;
  }
  if (c.topK)
    text += " top_k " + std::to_string(c.topK);
  if (c.renormalize)
    text += " renormalize";
  if (c.kind == ref::RouterKind::Position) {
    // A table that is not p mod E, with noise: the training forward's only
    // difference from inference.
    std::string table;
    for (int64_t p = 0; p < s.p; ++p) {
      int64_t e = (3 * p + 1) % s.e;
      cfg.positionTable.push_back(e);
      table += (p ? ", " : "") + std::to_string(e);
    }
    text += " table [" + table + "] beta " + number(kBeta) + " sigma " +
            number(kSigma);
    cfg.beta = kBeta;
    cfg.sigma = kSigma;
  }
  if (c.kind == ref::RouterKind::Gumbel) {
    text += " gumbel_tau " + number(kGumbelTau);
    cfg.gumbelTau = kGumbelTau;
  }
  if (c.hard) {
    text += " hard";
    cfg.hard = true;
  }
  if (c.normalizeInput) {
    text += " normalize_input";
    cfg.normalizeInput = true;
  }
  if (c.cosineHead) {
    text += " cosine_head";
    cfg.cosineHead = true;
  }
  if (c.linearHidden) {
    text += " linear_hidden";
    cfg.linearHidden = true;
  }
  model.line("%w = pce.route " + text + " : " + type({s.b, s.p, s.d}));
  model.output("w", "%w", {s.b, s.p, s.e});
  return model;
}

/// The reference router on `values`, with the noise the training forward
/// read (`noise.0.*`: each case has one router). pce-compile reports the
/// router's weights as `layer0.routing` too (pce-expose-routing).
Tensors reference(const ref::RouterConfig &base, const Tensors &values) {
  ref::RouterConfig cfg = base;
  auto get = [&](const char *name) {
    auto it = values.find(name);
    return it == values.end() ? torch::Tensor() : it->second;
  };
  cfg.logTau = get("log_tau");
  ref::RouterParams params;
  params.keys = get("keys");
  params.W1 = get("w1");
  params.b1 = get("b1");
  params.W2 = get("w2");
  params.b2 = get("b2");
  params.positionNoise = get("noise.0.normal");
  params.gumbelNoise = get("noise.0.gumbel");
  torch::Tensor w = ref::route(values.at("emb"), cfg, params);
  return {{"w", w}, {"layer0.routing", w}};
}

/// Checks every case and reports its errors.
void checkAll(const std::vector<RouteCase> &cases,
              const grad::Options &options = {}) {
  agree::freshSeed();
  for (const RouteCase &c : cases) {
    SCOPED_TRACE(c.describe());
    ref::RouterConfig cfg;
    ModelText model = buildModel(c, cfg);
    grad::Result result = grad::check(
        model, c.tag(),
        [&](const Tensors &values) { return reference(cfg, values); }, options);
    grad::report(c.describe(), result);
  }
}

/// The top-k variants of `kind`: dense, 1 and 2, each with and without
/// renormalisation, over the shapes in turn.
std::vector<RouteCase> topKVariants(ref::RouterKind kind) {
  std::vector<RouteCase> cases;
  int i = 0;
  for (int64_t k : {0, 1, 2})
    for (bool renormalize : {false, true}) {
      if (k == 0 && renormalize)
        continue;
      RouteCase c{kind};
      c.topK = k;
      c.renormalize = renormalize;
      c.shape = kShapes[i++ % std::size(kShapes)];
      cases.push_back(c);
    }
  return cases;
}

/// The MLP router's top-k variants, each `options(i, case)` set.
std::vector<RouteCase> mlpVariants(const std::function<void(size_t, RouteCase &)> &options) {
  std::vector<RouteCase> cases = topKVariants(ref::RouterKind::Mlp);
  for (size_t i = 0; i < cases.size(); ++i)
    options(i, cases[i]);
  return cases;
}

} // namespace

// Neither router reads anything trainable: no argument receives a gradient,
// which is what finite differences of the reference find too.
TEST(GradCheckRoute, Uniform) {
  checkAll({{ref::RouterKind::Uniform}, {ref::RouterKind::Uniform, 2}});
}

TEST(GradCheckRoute, PositionWithNoise) {
  checkAll(topKVariants(ref::RouterKind::Position));
}

TEST(GradCheckRoute, Cosine) { checkAll(topKVariants(ref::RouterKind::Cosine)); }

TEST(GradCheckRoute, CosineLearnableTemperature) {
  RouteCase dense{ref::RouterKind::Cosine};
  dense.learnableTau = true;
  RouteCase top2 = dense;
  top2.topK = 2;
  top2.renormalize = true;
  top2.shape = kShapes[1];
  checkAll({dense, top2});
}

TEST(GradCheckRoute, Mlp) { checkAll(topKVariants(ref::RouterKind::Mlp)); }

// The unit rows' adjoint `(g - u <g, u>) / |emb|`, dense and top-k.
TEST(GradCheckRoute, MlpUnitInput) {
  checkAll(mlpVariants([](size_t, RouteCase &c) { c.normalizeInput = true; }));
}

// The cosine head: the cosine router's adjoint over the hidden features
// (W2 as keys), the ReLU's, then the first layer's; raw and unit inputs, and
// a learnable temperature.
TEST(GradCheckRoute, MlpCosineHead) {
  std::vector<RouteCase> cases = mlpVariants([](size_t i, RouteCase &c) {
    c.cosineHead = true;
    c.normalizeInput = i % 2 == 1;
  });
  RouteCase learnable{ref::RouterKind::Mlp, 2, true, /*learnableTau=*/true};
  learnable.cosineHead = true;
  learnable.normalizeInput = true;
  learnable.shape = kShapes[1];
  cases.push_back(learnable);
  checkAll(cases);
}

// Without the ReLU (linear_hidden): the plain head and the cosine head
// (X-MoE's router), dense and top-k.
TEST(GradCheckRoute, MlpLinearHidden) {
  checkAll(mlpVariants([](size_t i, RouteCase &c) {
    c.linearHidden = true;
    c.cosineHead = i % 2 == 0;
    c.normalizeInput = i % 3 != 0;
  }));
}

TEST(GradCheckRoute, Gumbel) { checkAll(topKVariants(ref::RouterKind::Gumbel)); }

TEST(GradCheckRoute, GumbelLearnableTemperature) {
  RouteCase c{ref::RouterKind::Gumbel};
  c.learnableTau = true;
  c.topK = 1;
  c.shape = kShapes[2];
  checkAll({c});
}

// The straight-through gradient is not the derivative of the one-hot forward
// (which is 0 almost everywhere), so finite differences cannot see it: compare
// with the reference's autograd of `hard - soft.detach() + soft` instead.
TEST(GradCheckRoute, GumbelHardStraightThrough) {
  std::vector<RouteCase> cases;
  for (RouteCase c : topKVariants(ref::RouterKind::Gumbel)) {
    c.hard = true;
    cases.push_back(c);
  }
  RouteCase learnable{ref::RouterKind::Gumbel};
  learnable.hard = true;
  learnable.learnableTau = true;
  learnable.shape = kShapes[1];
  cases.push_back(learnable);
  grad::Options options;
  options.autograd = true;
  checkAll(cases, options);
}

//===----------------------------------------------------------------------===//
// Float32
//===----------------------------------------------------------------------===//

// The same functions compiled for f32 (whose gradients finite differences of
// float32 code could not resolve): the compiled gradients against the float64
// reference's autograd, on the same float32-rounded values and noise.
TEST(GradCheckRoute, Float32AgainstAutograd) {
  agree::freshSeed();
  std::vector<RouteCase> cases;
  RouteCase cosine{ref::RouterKind::Cosine, 2, true, /*learnableTau=*/true};
  RouteCase mlp{ref::RouterKind::Mlp, 1};
  mlp.shape = kShapes[1];
  RouteCase unit{ref::RouterKind::Mlp, 2};
  unit.normalizeInput = true;
  unit.shape = kShapes[2];
  RouteCase head{ref::RouterKind::Mlp, 1, false, /*learnableTau=*/true};
  head.cosineHead = true;
  head.normalizeInput = true;
  RouteCase gumbel{ref::RouterKind::Gumbel, 2, false, false, /*hard=*/true};
  gumbel.shape = kShapes[2];
  RouteCase soft{ref::RouterKind::Gumbel, 0, false, /*learnableTau=*/true};
  RouteCase position{ref::RouterKind::Position, 1};
  for (const RouteCase &c : {cosine, mlp, unit, head, gumbel, soft, position}) {
    SCOPED_TRACE(c.describe());
    ref::RouterConfig cfg;
    ModelText model = buildModel(c, cfg, /*f64Model=*/false);
    model.setDifferentiable();
    std::optional<rt::Artifact> artifact = agree::compile(model, c.tag() + "_f32");
    if (!artifact)
      continue;
    const rt::EntryPoint *train = grad::findEntry(*artifact, "forward_train");
    const rt::EntryPoint *backward = grad::findEntry(*artifact, "forward_backward");
    ASSERT_TRUE(train && backward);

    Tensors values = model.values();
    for (auto &[name, noise] : grad::drawArguments(*train, "noise.", /*f32=*/true))
      values[name] = noise;
    Tensors trained = grad::runEntry(*artifact, "forward_train", values, /*f64=*/false);
    Tensors cotangents = grad::drawArguments(*backward, "grad.", /*f32=*/true);
    Tensors bwdInputs = model.values();
    for (const auto &[name, cot] : cotangents)
      bwdInputs[name] = cot;
    for (const auto &[name, value] : trained)
      if (name.rfind("saved.", 0) == 0)
        bwdInputs[name] = value;
    Tensors grads = grad::runEntry(*artifact, "forward_backward", bwdInputs, /*f64=*/false);

    Tensors leaves = values;
    for (const auto &[name, value] : model.values())
      leaves[name] = value.clone().requires_grad_(true);
    Tensors want = reference(cfg, leaves);
    torch::Tensor objective = torch::zeros({}, f64);
    for (const auto &[name, ref] : want) {
      auto it = trained.find(name);
      ASSERT_NE(it, trained.end()) << name;
      double error = agree::relativeError(it->second, ref.detach());
      EXPECT_LE(error, agree::kTolerance) << "forward_train result " << name;
      objective = objective + (ref * cotangents.at("grad." + name)).sum();
    }
    if (objective.requires_grad()) // not for a position router
      objective.backward();
    double worst = 0;
    for (const auto &[name, leaf] : leaves) {
      if (!model.values().count(name))
        continue;
      torch::Tensor wantGrad =
          leaf.grad().defined() ? leaf.grad() : torch::zeros_like(leaf);
      auto it = grads.find("grad." + name);
      torch::Tensor got = it != grads.end() ? it->second : torch::zeros_like(leaf);
      double scale = std::max(1e-2, wantGrad.abs().max().item<double>());
      double error = (got - wantGrad).abs().max().item<double>() / scale;
      worst = std::max(worst, error);
      EXPECT_LE(error, grad::kGradientTolerance) << "gradient of " << name;
    }
    std::printf("[gradcheck] f32 %s: gradient error %.3e\n", c.describe().c_str(),
                worst);
  }
}
