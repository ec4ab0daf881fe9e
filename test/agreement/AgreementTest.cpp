//===- AgreementTest.cpp - compiled pce ops vs the float64 reference ------===//
//
// Every op and whole layers are compiled with pce-compile (the CPU pipeline),
// run through the runtime in float32 on fresh random inputs, and compared with
// the float64 reference within SEMANTICS.md §6:
//   max|out - ref| / max(1, max|ref|) <= 1e-4.
//
//===----------------------------------------------------------------------===//

#include "test/agreement/Harness.h"
#include "runtime/reference/Layers.h"
#include "runtime/reference/Reference.h"
#include "runtime/ThreadPool.h"

#include <dlfcn.h>
#include <cstring>
#include <gtest/gtest.h>

using namespace pce;
using namespace pce::agree;

namespace {
auto f64 = torch::kFloat64;

/// Compiles and runs `model`; fails the test when either step fails.
std::map<std::string, torch::Tensor> compileAndRun(const ModelText &model,
                                                   const std::string &tag) {
  auto artifact = compile(model, tag);
  if (!artifact)
    return {};
  return run(*artifact, model);
}

void expectAgreement(const std::map<std::string, torch::Tensor> &outputs,
                     const std::string &name, const torch::Tensor &reference,
                     const std::string &what) {
  auto it = outputs.find(name);
  ASSERT_NE(it, outputs.end()) << "no result '" << name << "' for " << what;
  double error = relativeError(it->second, reference);
  report(what, error);
  EXPECT_LE(error, kTolerance) << what;
}

std::string ssaOf(const std::string &name) { return "%" + name; }
} // namespace

//===----------------------------------------------------------------------===//
// patchify, unpatchify
//===----------------------------------------------------------------------===//

struct PatchCase {
  int64_t b, c, h, w, ph, pw, r;
  ref::Halo halo;
};

TEST(Agreement, Patchify) {
  freshSeed();
  const PatchCase cases[] = {
      {1, 1, 28, 28, 7, 7, 1, ref::Halo::Context},  // Fashion-MNIST's first layer
      {2, 3, 8, 12, 4, 3, 2, ref::Halo::Isolated}, // H != W, ph != pw, k = 5
      {7, 1, 6, 10, 6, 10, 1, ref::Halo::Context}, // a single patch, batch 7
      {1, 3, 5, 5, 5, 1, 0, ref::Halo::Context},   // pw = 1, no halo
  };
  int i = 0;
  for (const PatchCase &k : cases) {
    ModelText model;
    std::string x = model.input("x", torch::randn({k.b, k.c, k.h, k.w}, f64));
    int64_t p = (k.h / k.ph) * (k.w / k.pw);
    std::vector<int64_t> shape = {k.b, p, k.c + 4, k.ph + 2 * k.r, k.pw + 2 * k.r};
    model.line("%p = pce.patchify " + x + " patch [" + std::to_string(k.ph) + ", " +
               std::to_string(k.pw) + "] radius " + std::to_string(k.r) +
               (k.halo == ref::Halo::Isolated ? " halo isolated" : "") + " : " +
               tensorType({k.b, k.c, k.h, k.w}));
    model.output("patches", "%p", shape);
    auto ref = ref::patchify(model.value("x"), {k.ph, k.pw, k.r, k.halo});
    expectAgreement(compileAndRun(model, "patchify" + std::to_string(i++)), "patches",
                    ref, "patchify " + std::to_string(k.ph) + "x" + std::to_string(k.pw));
  }
}

TEST(Agreement, Unpatchify) {
  freshSeed();
  ModelText model;
  std::string y = model.input("y", torch::randn({2, 6, 5, 4, 3}, f64));
  model.line("%o = pce.unpatchify " + y + " grid [2, 3] : " + tensorType({2, 6, 5, 4, 3}));
  model.output("out", "%o", {2, 5, 8, 9});
  expectAgreement(compileAndRun(model, "unpatchify"), "out",
                  ref::unpatchify(model.value("y"), 8, 9), "unpatchify 2x3 grid");
}

//===----------------------------------------------------------------------===//
// embed
//===----------------------------------------------------------------------===//

TEST(Agreement, Embed) {
  freshSeed();
  struct Case { int64_t b, p, cin, ph, pw, r, de; std::vector<int64_t> levels; };
  const Case cases[] = {
      {2, 16, 5, 7, 7, 1, 5, {1, 2, 4}},   // default levels, ph = 7 (uneven bins)
      {3, 4, 7, 4, 6, 2, 9, {1, 3}},       // De != C+4, ph != pw
      {1, 2, 5, 2, 3, 0, 4, {1, 2, 4}},    // more bins than rows (overlapping bins)
  };
  int i = 0;
  for (const Case &k : cases) {
    ModelText model;
    auto patchesShape = std::vector<int64_t>{k.b, k.p, k.cin, k.ph + 2 * k.r, k.pw + 2 * k.r};
    std::string p = model.input("patches", torch::randn(patchesShape, f64));
    std::string we = model.param("we", torch::randn({k.de, k.cin}, f64));
    std::string be = model.param("be", torch::randn({k.de}, f64));
    int64_t bins = 0;
    std::string levels;
    for (int64_t l : k.levels) {
      bins += l * l;
      levels += (levels.empty() ? "" : ", ") + std::to_string(l);
    }
    model.line("%e = pce.embed " + p + ", " + we + ", " + be + " radius " +
               std::to_string(k.r) + " levels [" + levels + "] : " +
               tensorType(patchesShape) + ", " + tensorType({k.de, k.cin}) + ", " +
               tensorType({k.de}));
    model.output("emb", "%e", {k.b, k.p, k.de * bins});
    auto ref = ref::embed(model.value("patches"), k.r, model.value("we"),
                          model.value("be"), {k.levels});
    expectAgreement(compileAndRun(model, "embed" + std::to_string(i++)), "emb", ref,
                    "embed levels [" + levels + "] patch " + std::to_string(k.ph) + "x" +
                        std::to_string(k.pw));
  }
}

//===----------------------------------------------------------------------===//
// route: every kind, top_k in {0, 1, 2}, renormalize on/off
//===----------------------------------------------------------------------===//

TEST(Agreement, RouteEveryKind) {
  freshSeed();
  const int64_t b = 3, p = 5, d = 12, e = 4, hd = 7;
  for (ref::RouterKind kind : {ref::RouterKind::Uniform, ref::RouterKind::Position,
                               ref::RouterKind::Cosine, ref::RouterKind::Mlp,
                               ref::RouterKind::Gumbel}) {
    // One model per kind holds all top-k / renormalize variants.
    ModelText model;
    std::string emb = model.input("emb", torch::randn({b, p, d}, f64));
    ref::RouterParams params;
    ref::RouterConfig base;
    base.kind = kind;
    base.numExperts = e;
    std::string operands, trailing; // the assembly format's order: top_k before table
    if (kind == ref::RouterKind::Cosine || kind == ref::RouterKind::Gumbel) {
      std::string keys = model.param("keys", torch::randn({e, d}, f64));
      params.keys = model.value("keys");
      operands = " keys(" + keys + " : " + tensorType({e, d}) + ") tau 0.700000";
      base.tau = 0.7;
    } else if (kind == ref::RouterKind::Mlp) {
      std::string w1 = model.param("w1", torch::randn({hd, d}, f64) / 3);
      std::string b1 = model.param("b1", torch::randn({hd}, f64));
      std::string w2 = model.param("w2", torch::randn({e, hd}, f64));
      std::string b2 = model.param("b2", torch::randn({e}, f64));
      params.W1 = model.value("w1");
      params.b1 = model.value("b1");
      params.W2 = model.value("w2");
      params.b2 = model.value("b2");
      operands = " mlp(" + w1 + ", " + b1 + ", " + w2 + ", " + b2 + " : " +
                 tensorType({hd, d}) + ", " + tensorType({hd}) + ", " +
                 tensorType({e, hd}) + ", " + tensorType({e}) + ")";
    } else if (kind == ref::RouterKind::Position) {
      operands = " experts 4";
      trailing = " table [3, 1, 1, 0, 2] beta 1.500000";
      base.positionTable = {3, 1, 1, 0, 2};
      base.beta = 1.5;
    } else {
      operands = " experts 4";
    }
    std::vector<std::pair<std::string, ref::RouterConfig>> variants;
    // The MLP also reading unit embeddings (normalize_input).
    const std::vector<bool> units = kind == ref::RouterKind::Mlp ? std::vector<bool>{false, true}
                                                                  : std::vector<bool>{false};
    for (bool unit : units)
      for (int64_t k : {0, 1, 2})
        for (bool renormalize : {false, true}) {
          if (k == 0 && renormalize)
            continue;
          ref::RouterConfig cfg = base;
          cfg.topK = k;
          cfg.renormalize = renormalize;
          cfg.normalizeInput = unit;
          std::string name = "w_top" + std::to_string(k) + (renormalize ? "_renorm" : "") +
                             (unit ? "_unit" : "");
          model.line(ssaOf(name) + " = pce.route " + routerName(kind) + " " + emb +
                     operands + (k ? " top_k " + std::to_string(k) : "") +
                     (renormalize ? " renormalize" : "") + trailing +
                     (unit ? " normalize_input" : "") + " : " + tensorType({b, p, d}));
          model.output(name, ssaOf(name), {b, p, e});
          variants.emplace_back(name, cfg);
        }
    auto outputs = compileAndRun(model, std::string("route_") + routerName(kind));
    for (const auto &[name, cfg] : variants)
      expectAgreement(outputs, name, ref::route(model.value("emb"), cfg, params),
                      std::string("route ") + routerName(kind) + " " + name);
  }
}

// The MLP with a cosine head (no b2): raw and unit inputs, a fixed and a
// learnable temperature, dense and top-k, with and without the ReLU.
TEST(Agreement, RouteMlpCosineHead) {
  freshSeed();
  const int64_t b = 3, p = 5, d = 12, e = 4, hd = 7;
  ModelText model;
  std::string emb = model.input("emb", torch::randn({b, p, d}, f64));
  std::string w1 = model.param("w1", torch::randn({hd, d}, f64) / 3);
  std::string b1 = model.param("b1", torch::randn({hd}, f64));
  std::string w2 = model.param("w2", torch::randn({e, hd}, f64));
  std::string t = model.param("log_tau", torch::tensor(-0.7, f64));
  ref::RouterParams params;
  params.W1 = model.value("w1");
  params.b1 = model.value("b1");
  params.W2 = model.value("w2");
  const std::string group = " mlp(" + w1 + ", " + b1 + ", " + w2 + " : " + tensorType({hd, d}) + ", " +
                            tensorType({hd}) + ", " + tensorType({e, hd}) + ")";
  std::vector<std::pair<std::string, ref::RouterConfig>> variants;
  for (bool unit : {false, true})
    for (bool learnable : {false, true})
      for (int64_t k : {0, 1, 2}) {
        const bool linear = (k + learnable) % 2 == 1; // half of them without the ReLU
        ref::RouterConfig cfg;
        cfg.kind = ref::RouterKind::Mlp;
        cfg.numExperts = e;
        cfg.cosineHead = true;
        cfg.linearHidden = linear;
        cfg.normalizeInput = unit;
        cfg.topK = k;
        cfg.renormalize = k == 2;
        cfg.tau = 0.3;
        if (learnable)
          cfg.logTau = model.value("log_tau");
        std::string name = "w_top" + std::to_string(k) + (unit ? "_unit" : "") + (learnable ? "_log_tau" : "");
        model.line(ssaOf(name) + " = pce.route mlp " + emb + group +
                   (learnable ? " log_tau(" + t + " : " + tensorType({}) + ")" : " tau 0.300000") +
                   (k ? " top_k " + std::to_string(k) : "") + (k == 2 ? " renormalize" : "") +
                   (unit ? " normalize_input" : "") + " cosine_head" + (linear ? " linear_hidden" : "") + " : " +
                   tensorType({b, p, d}));
        model.output(name, ssaOf(name), {b, p, e});
        variants.emplace_back(name, cfg);
      }
  auto outputs = compileAndRun(model, "route_mlp_cosine_head");
  for (const auto &[name, cfg] : variants)
    expectAgreement(outputs, name, ref::route(model.value("emb"), cfg, params), "route mlp cosine_head " + name);
}

TEST(Agreement, RouteLearnableTemperature) {
  freshSeed();
  ModelText model;
  std::string emb = model.input("emb", torch::randn({2, 6, 10}, f64));
  std::string keys = model.param("keys", torch::randn({3, 10}, f64));
  std::string t = model.param("log_tau", torch::tensor(-0.8, f64));
  model.line("%w = pce.route cosine " + emb + " keys(" + keys + " : " + tensorType({3, 10}) +
             ") log_tau(" + t + " : tensor<f32>) : " + tensorType({2, 6, 10}));
  model.output("w", "%w", {2, 6, 3});
  ref::RouterConfig cfg;
  cfg.kind = ref::RouterKind::Cosine;
  cfg.numExperts = 3;
  cfg.logTau = model.value("log_tau");
  ref::RouterParams params;
  params.keys = model.value("keys");
  expectAgreement(compileAndRun(model, "route_log_tau"), "w",
                  ref::route(model.value("emb"), cfg, params), "route cosine log_tau");
}

//===----------------------------------------------------------------------===//
// experts, mix, attention
//===----------------------------------------------------------------------===//

TEST(Agreement, Experts) {
  freshSeed();
  struct Case { int64_t b, p, cin, hp, wp, e, co, k; bool affine; };
  const Case cases[] = {
      {2, 4, 5, 9, 9, 3, 4, 3, false}, // C = 1, k = 3
      {1, 3, 7, 8, 10, 2, 5, 5, true}, // C = 3, k = 5, folded BN
      {3, 2, 5, 4, 6, 1, 3, 1, false}, // one expert, k = 1
  };
  int i = 0;
  for (const Case &c : cases) {
    ModelText model;
    std::vector<int64_t> ps = {c.b, c.p, c.cin, c.hp, c.wp};
    std::string p = model.input("patches", torch::randn(ps, f64));
    std::string k = model.param("kernels", torch::randn({c.e, c.co, c.cin, c.k, c.k}, f64) / 3);
    ref::ExpertParams ep;
    ep.kernels = model.value("kernels");
    std::string norm;
    std::string ec = tensorType({c.e, c.co});
    if (c.affine) {
      std::string s = model.param("scale", 1 + 0.3 * torch::randn({c.e, c.co}, f64));
      std::string t = model.param("shift", 0.2 * torch::randn({c.e, c.co}, f64));
      norm = " affine(" + s + ", " + t + " : " + ec + ", " + ec + ")";
      ep.gamma = model.value("scale");
      ep.beta = model.value("shift");
      ep.runningMean = torch::zeros({c.e, c.co}, f64);
      ep.runningVar = torch::full({c.e, c.co}, 1 - ep.eps, f64);
    } else {
      std::string g = model.param("gamma", 1 + 0.3 * torch::randn({c.e, c.co}, f64));
      std::string b = model.param("beta", 0.2 * torch::randn({c.e, c.co}, f64));
      std::string m = model.param("mean", 0.2 * torch::randn({c.e, c.co}, f64));
      std::string v = model.param("var", 0.5 + torch::rand({c.e, c.co}, f64));
      norm = " bn(" + g + ", " + b + ", " + m + ", " + v + " : " + ec + ", " + ec + ", " +
             ec + ", " + ec + ")";
      ep.gamma = model.value("gamma");
      ep.beta = model.value("beta");
      ep.runningMean = model.value("mean");
      ep.runningVar = model.value("var");
    }
    model.line("%y = pce.experts " + p + ", " + k + norm + " : " + tensorType(ps) + ", " +
               tensorType({c.e, c.co, c.cin, c.k, c.k}));
    model.output("y", "%y", {c.b, c.p, c.e, c.co, c.hp - c.k + 1, c.wp - c.k + 1});
    auto ref = ref::experts(model.value("patches"), ep, /*training=*/false).y;
    expectAgreement(compileAndRun(model, "experts" + std::to_string(i++)), "y", ref,
                    "experts k=" + std::to_string(c.k) + (c.affine ? " affine" : " bn"));
  }
}

TEST(Agreement, MixAndAttention) {
  freshSeed();
  const int64_t b = 2, p = 3, e = 3, co = 4, ph = 5, pw = 2, out = 6, hd = 2;
  ModelText model;
  std::string w = model.input("w", torch::softmax(torch::randn({b, p, e}, f64), -1));
  std::string y = model.input("y", torch::randn({b, p, e, co, ph, pw}, f64));
  std::string wc = model.param("wc", torch::randn({out, e * co}, f64));
  std::string bc = model.param("bc", torch::randn({out}, f64));
  std::string s1 = model.param("s1", torch::randn({hd, out}, f64));
  std::string t1 = model.param("t1", torch::randn({hd}, f64));
  std::string s2 = model.param("s2", torch::randn({out, hd}, f64));
  std::string t2 = model.param("t2", torch::randn({out}, f64));
  std::string types = tensorType({b, p, e}) + ", " + tensorType({b, p, e, co, ph, pw});
  model.line("%s = pce.mix sum " + w + ", " + y + " : " + types);
  model.line("%c = pce.mix concat " + w + ", " + y + " proj(" + wc + ", " + bc + " : " +
             tensorType({out, e * co}) + ", " + tensorType({out}) + ") : " + types);
  model.line("%a = pce.attention se %c weights(" + s1 + ", " + t1 + ", " + s2 + ", " + t2 +
             " : " + tensorType({hd, out}) + ", " + tensorType({hd}) + ", " +
             tensorType({out, hd}) + ", " + tensorType({out}) + ") : " +
             tensorType({b, p, out, ph, pw}));
  model.output("sum", "%s", {b, p, co, ph, pw});
  model.output("concat", "%c", {b, p, out, ph, pw});
  model.output("se", "%a", {b, p, out, ph, pw});
  auto outputs = compileAndRun(model, "mix_attention");
  const auto &W = model.value("w");
  const auto &Y = model.value("y");
  auto concat = ref::mixConcat(Y, W, model.value("wc"), model.value("bc"));
  expectAgreement(outputs, "sum", ref::mixSum(Y, W), "mix sum");
  expectAgreement(outputs, "concat", concat, "mix concat");
  expectAgreement(outputs, "se",
                  ref::attentionSE(concat, model.value("s1"), model.value("t1"),
                                   model.value("s2"), model.value("t2")),
                  "attention se");
}

//===----------------------------------------------------------------------===//
// whole layers
//===----------------------------------------------------------------------===//

struct LayerCase {
  std::vector<int64_t> input; // B, C, H, W
  LayerSpec spec;
};

/// ctest lists parameterised tests by their printed parameter.
void PrintTo(const LayerCase &c, std::ostream *os) { *os << c.spec.describe(); }

/// The layer of `c` compiled with `flags`, output and routing against the
/// float64 reference.
static void checkLayer(const LayerCase &c, const std::string &tagPrefix,
                       const std::string &flags = "") {
  freshSeed();
  ModelText model;
  std::string x = model.input("x", torch::randn(c.input, f64));
  BuiltLayer layer = addLayer(model, "layer0", x, c.input, c.spec);
  model.output("y", layer.ssa, layer.shape);
  std::string tag = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  auto artifact = compile(model, tagPrefix + tag.substr(tag.rfind('/') + 1), flags);
  ASSERT_TRUE(artifact);
  auto outputs = run(*artifact, model);
  auto ref = ref::layer(model.value("x"), layer.config, layer.params);
  std::string what = c.spec.describe() + (flags.empty() ? "" : " " + flags);
  expectAgreement(outputs, "y", ref.out, "layer " + what);
  expectAgreement(outputs, "layer0.routing", ref.weights, "layer routing " + what);
}

class LayerAgreement : public ::testing::TestWithParam<LayerCase> {};

TEST_P(LayerAgreement, OutputAndRoutingMatchTheReference) {
  checkLayer(GetParam(), "layer_");
}

// The GPU pipeline's kernels (collapsed, tiled by the block size, tail
// guards) run as loops on the CPU (--target cuda-emulated): every layer kind
// computes the reference through the code structure a GPU would run. Block
// size 96 divides none of these loops, so every tail guard runs. (The NVVM
// lowering and the launches are not covered: docs/GPU.md.)
class GpuPipelineLayerAgreement : public ::testing::TestWithParam<LayerCase> {};

TEST_P(GpuPipelineLayerAgreement, OutputAndRoutingMatchTheReference) {
  checkLayer(GetParam(), "gpu_layer_",
             "--target cuda-emulated --pipeline-options=block-size=96");
}


static std::vector<LayerCase> layerCases() {
  using RK = ref::RouterKind;
  std::vector<LayerCase> cases;
  // Every router kind, dense and top-k, on an H != W image with ph != pw.
  for (RK kind : {RK::Uniform, RK::Position, RK::Cosine, RK::Mlp, RK::Gumbel})
    for (auto [k, renorm] : {std::pair{0, false}, {1, false}, {2, true}}) {
      LayerSpec s = LayerSpec::withRouter(kind, k, renorm);
      s.ph = 4;
      s.pw = 3;
      cases.push_back({{2, 3, 8, 12}, s});
    }
  // Isolated halo, kernel 5, one input channel, batch 7.
  LayerSpec isolated = LayerSpec::withRouter(RK::Cosine, 1, false);
  isolated.halo = ref::Halo::Isolated;
  isolated.k = 5;
  cases.push_back({{7, 1, 8, 8}, isolated});
  // k = 1, a single patch, one expert.
  LayerSpec single = LayerSpec::withRouter(RK::Mlp, 0, false);
  single.k = 1;
  single.experts = 1;
  single.ph = 6;
  single.pw = 10;
  cases.push_back({{1, 3, 6, 10}, single});
  // Phase 3: concat mix with SE attention; and concat without attention.
  LayerSpec phase3 = LayerSpec::withRouter(RK::Cosine, 0, false);
  phase3.mix = ref::MixKind::Concat;
  phase3.attention = ref::AttentionKind::SE;
  phase3.learnableTau = true;
  cases.push_back({{2, 1, 8, 8}, phase3});
  LayerSpec concat = LayerSpec::withRouter(RK::Position, 1, false);
  concat.mix = ref::MixKind::Concat;
  concat.table = {1, 0, 2, 2};
  concat.affineNorm = true;
  cases.push_back({{1, 3, 8, 8}, concat});
  // The Fashion-MNIST first layer: 28x28, 7x7 patches.
  LayerSpec fashion = LayerSpec::withRouter(RK::Cosine, 1, false);
  fashion.ph = fashion.pw = 7;
  fashion.experts = 4;
  fashion.outChannels = 8;
  cases.push_back({{2, 1, 28, 28}, fashion});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Layers, LayerAgreement, ::testing::ValuesIn(layerCases()),
                         [](const ::testing::TestParamInfo<LayerCase> &info) {
                           return "case" + std::to_string(info.index);
                         });
INSTANTIATE_TEST_SUITE_P(Layers, GpuPipelineLayerAgreement, ::testing::ValuesIn(layerCases()),
                         [](const ::testing::TestParamInfo<LayerCase> &info) {
                           return "case" + std::to_string(info.index);
                         });

TEST(Agreement, TwoStackedLayersWithDifferentPatchSizes) {
  freshSeed();
  ModelText model;
  std::vector<int64_t> xs = {3, 1, 12, 12};
  std::string x = model.input("x", torch::randn(xs, f64));
  LayerSpec first = LayerSpec::withRouter(ref::RouterKind::Cosine, 1, false);
  first.ph = first.pw = 6;
  BuiltLayer l0 = addLayer(model, "layer0", x, xs, first);
  LayerSpec second = LayerSpec::withRouter(ref::RouterKind::Mlp, 2, true);
  second.ph = 3;
  second.pw = 4;
  second.experts = 2;
  second.outChannels = 5;
  BuiltLayer l1 = addLayer(model, "layer1", l0.ssa, l0.shape, second);
  model.output("y", l1.ssa, l1.shape);
  auto outputs = compileAndRun(model, "stacked");
  auto r0 = ref::layer(model.value("x"), l0.config, l0.params);
  auto r1 = ref::layer(r0.out, l1.config, l1.params);
  expectAgreement(outputs, "y", r1.out, "two stacked layers");
  expectAgreement(outputs, "layer0.routing", r0.weights, "two stacked layers routing 0");
  expectAgreement(outputs, "layer1.routing", r1.weights, "two stacked layers routing 1");
}

//===----------------------------------------------------------------------===//
// SEMANTICS.md §1 identities: identical experts against one ordinary conv
//===----------------------------------------------------------------------===//

/// Makes every expert of `layer` a copy of expert 0 (kernel and BN), in the
/// model's values, so that the compiled layer sees identical experts.
static void makeExpertsIdentical(ModelText &model, const std::string &prefix,
                                 bool zeroCoordinateWeights, int64_t channels) {
  for (const char *name : {"experts.kernel", "experts.bn.gamma", "experts.bn.beta",
                           "experts.bn.running_mean", "experts.bn.running_var"}) {
    auto &t = const_cast<torch::Tensor &>(model.value(prefix + "." + name));
    t.copy_(t.narrow(0, 0, 1).expand_as(t));
    if (zeroCoordinateWeights && std::string(name) == "experts.kernel")
      t.narrow(2, channels, 4).zero_();
  }
}

/// Conv-BN-ReLU with expert 0's parameters, written directly with torch ops.
/// Only the kernel's first `channels` input channels are used (the image's,
/// when the coordinate weights are zero).
static torch::Tensor convBnRelu(const torch::Tensor &input, const ModelText &model,
                                int64_t padding) {
  auto v = [&](const char *n) { return model.value(std::string("layer0.") + n).select(0, 0); };
  auto kernel = v("experts.kernel").narrow(1, 0, input.size(1));
  auto z = torch::conv2d(input, kernel, {}, 1, padding);
  auto bn = (z - v("experts.bn.running_mean").view({1, -1, 1, 1})) /
                torch::sqrt(v("experts.bn.running_var").view({1, -1, 1, 1}) + 1e-5) *
                v("experts.bn.gamma").view({1, -1, 1, 1}) +
            v("experts.bn.beta").view({1, -1, 1, 1});
  return torch::relu(bn);
}

TEST(Agreement, IdentityKernel1IsOneConvOverImageAndCoordinates) {
  freshSeed();
  std::vector<int64_t> xs = {2, 3, 8, 12};
  ModelText model;
  std::string x = model.input("x", torch::randn(xs, f64));
  LayerSpec s = LayerSpec::withRouter(ref::RouterKind::Mlp, 0, false); // any router
  s.k = 1;
  s.ph = 4;
  s.pw = 3;
  BuiltLayer layer = addLayer(model, "layer0", x, xs, s);
  makeExpertsIdentical(model, "layer0", false, 3);
  model.output("y", layer.ssa, layer.shape);
  auto outputs = compileAndRun(model, "identity_k1");
  // The 4 coordinate planes of each pixel's own patch.
  int64_t h = 8, w = 12;
  auto coords = torch::zeros({1, 4, h, w}, f64);
  for (int64_t i = 0; i < h; ++i)
    for (int64_t j = 0; j < w; ++j) {
      coords[0][0][i][j] = ref::lin(s.ph, i % s.ph);
      coords[0][1][i][j] = ref::lin(s.pw, j % s.pw);
      coords[0][2][i][j] = ref::lin(h / s.ph, i / s.ph);
      coords[0][3][i][j] = ref::lin(w / s.pw, j / s.pw);
    }
  auto input = torch::cat({model.value("x"), coords.expand({2, 4, h, w})}, 1);
  expectAgreement(outputs, "y", convBnRelu(input, model, 0),
                  "identity (a): k=1 identical experts == 1x1 conv over image+coords");
}

TEST(Agreement, IdentityZeroCoordinateWeightsIsAPaddedConv) {
  freshSeed();
  for (int64_t k : {3, 5}) {
    std::vector<int64_t> xs = {2, 2, 8, 12};
    ModelText model;
    std::string x = model.input("x", torch::randn(xs, f64));
    // Any router whose weights sum to 1: dense for k = 3, renormalised
    // top-1 for k = 5 (plain top-1 scales the output by the kept weight).
    LayerSpec s = k == 3 ? LayerSpec::withRouter(ref::RouterKind::Cosine, 0, false)
                         : LayerSpec::withRouter(ref::RouterKind::Gumbel, 1, true);
    s.k = k;
    s.ph = 4;
    s.pw = 6;
    BuiltLayer layer = addLayer(model, "layer0", x, xs, s);
    makeExpertsIdentical(model, "layer0", true, 2);
    model.output("y", layer.ssa, layer.shape);
    auto outputs = compileAndRun(model, "identity_pad_k" + std::to_string(k));
    expectAgreement(outputs, "y", convBnRelu(model.value("x"), model, k / 2),
                    "identity (b): zero coordinate weights, k=" + std::to_string(k) +
                        " == padded conv");
  }
}
