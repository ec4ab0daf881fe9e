//===- GradCheckExperts.cpp - experts, mix, attention gradient checks -----===//
//
// The compiled training forward and backward of pce.experts (batch-statistic
// BN over every patch, or over the routed ones under a top-k router; affine),
// pce.mix (sum, concat) and pce.attention se against the float64 reference:
// forward results and `batch.*` statistics exactly (1e-9), gradients within
// 1e-3 of central finite differences.
//
//===----------------------------------------------------------------------===//

#include "test/gradcheck/GradCheck.h"
#include "runtime/reference/Reference.h"

#include <gtest/gtest.h>

using namespace pce;
using namespace pce::agree;
using namespace pce::grad;

namespace {
auto f64 = torch::kFloat64;

std::string type(c10::IntArrayRef shape) { return tensorType(shape, /*f64=*/true); }

/// What the trainer moves the running statistics towards: the value `batch`
/// with (1 - m) running + m batch equal to the reference's updated running
/// statistics.
torch::Tensor batchStatistic(const torch::Tensor &running,
                             const torch::Tensor &updated, double momentum = 0.1) {
  return (updated - (1 - momentum) * running) / momentum;
}

struct ExpertsShape {
  int64_t b, p, cin, k, ph, pw, e, co;
  std::vector<int64_t> patches() const {
    return {b, p, cin, ph + k - 1, pw + k - 1};
  }
  std::vector<int64_t> kernels() const { return {e, co, cin, k, k}; }
  std::vector<int64_t> y() const { return {b, p, e, co, ph, pw}; }
  std::string describe() const {
    return "B" + std::to_string(b) + " P" + std::to_string(p) + " Cin" +
           std::to_string(cin) + " k" + std::to_string(k) + " " +
           std::to_string(ph) + "x" + std::to_string(pw) + " E" +
           std::to_string(e) + " Co" + std::to_string(co);
  }
};

/// Adds `pce.experts` (bn or affine) on `patches` to `model` as `%y`; the
/// parameters are `k`, `gamma`, `beta`, `running_mean`, `running_var` (bn) or
/// `scale`, `shift` (affine).
void addExperts(ModelText &model, const std::string &patches,
                const ExpertsShape &s, bool affine) {
  std::string k = model.param("k", torch::randn(s.kernels(), f64) / 3);
  std::string ec = type({s.e, s.co});
  std::string norm;
  if (affine) {
    std::string scale = model.param("scale", torch::randn({s.e, s.co}, f64));
    std::string shift = model.param("shift", torch::randn({s.e, s.co}, f64));
    norm = " affine(" + scale + ", " + shift + " : " + ec + ", " + ec + ")";
  } else {
    std::string gamma = model.param("gamma", 1 + torch::randn({s.e, s.co}, f64) / 4);
    std::string beta = model.param("beta", torch::randn({s.e, s.co}, f64) / 2);
    std::string mean = model.param("running_mean", torch::randn({s.e, s.co}, f64));
    std::string var =
        model.param("running_var", 0.5 + torch::rand({s.e, s.co}, f64));
    norm = " bn(" + gamma + ", " + beta + ", " + mean + ", " + var + " : " + ec +
           ", " + ec + ", " + ec + ", " + ec + ")";
  }
  model.line("%y = pce.experts " + patches + ", " + k + norm + " : " +
             type(s.patches()) + ", " + type(s.kernels()));
}

/// The reference experts in training on `values` (as addExperts names them);
/// adds the `batch.*` statistics to `out` in the bn form.
torch::Tensor referenceExperts(const Tensors &values, bool affine, Tensors &out,
                               const torch::Tensor &routed = {}) {
  const torch::Tensor &patches = values.at("patches");
  if (affine) {
    auto flat = patches.flatten(0, 1);
    std::vector<torch::Tensor> ys;
    for (int64_t e = 0; e < values.at("k").size(0); ++e)
      ys.push_back(torch::relu(
          values.at("scale")[e].reshape({1, -1, 1, 1}) *
              torch::conv2d(flat, values.at("k")[e]) +
          values.at("shift")[e].reshape({1, -1, 1, 1})));
    auto y = torch::stack(ys, 1); // [N, E, Co, ph, pw]
    return y.reshape({patches.size(0), patches.size(1), y.size(1), y.size(2),
                      y.size(3), y.size(4)});
  }
  ref::ExpertParams params;
  params.kernels = values.at("k");
  params.gamma = values.at("gamma");
  params.beta = values.at("beta");
  params.runningMean = values.at("running_mean");
  params.runningVar = values.at("running_var");
  ref::ExpertsResult r = ref::experts(patches, params, /*training=*/true, routed);
  out["batch.running_mean"] =
      batchStatistic(params.runningMean, r.runningMean, params.momentum);
  out["batch.running_var"] =
      batchStatistic(params.runningVar, r.runningVar, params.momentum);
  return r.y;
}

void expectWithin(const Result &result) {
  EXPECT_LE(result.gradientError, kGradientTolerance);
  EXPECT_LE(result.forwardError, kForwardTolerance);
}
} // namespace

//===----------------------------------------------------------------------===//
// experts alone
//===----------------------------------------------------------------------===//

TEST(GradCheckExperts, ExpertsBatchNorm) {
  freshSeed();
  const ExpertsShape shapes[] = {
      {2, 3, 5, 3, 4, 4, 2, 4}, // the usual 3x3 kernels
      {1, 2, 3, 1, 3, 2, 3, 2}, // 1x1 kernels, ph != pw
      {3, 1, 2, 5, 2, 3, 1, 3}, // 5x5 kernels, one patch, one expert
      {1, 1, 2, 3, 1, 1, 2, 2}, // a single value per channel (n = 1)
  };
  int i = 0;
  for (const ExpertsShape &s : shapes) {
    ModelText model(/*f64=*/true);
    std::string p = model.input("patches", torch::randn(s.patches(), f64));
    addExperts(model, p, s, /*affine=*/false);
    model.output("y", "%y", s.y());
    Result result = check(model, "experts_bn" + std::to_string(i++),
                          [&](const Tensors &v) {
                            Tensors out;
                            out["y"] = referenceExperts(v, false, out);
                            return out;
                          });
    report("experts bn " + s.describe(), result);
    expectWithin(result);
  }
}

TEST(GradCheckExperts, ExpertsAffine) {
  freshSeed();
  ExpertsShape s{2, 3, 4, 3, 3, 4, 2, 3};
  ModelText model(/*f64=*/true);
  std::string p = model.input("patches", torch::randn(s.patches(), f64));
  addExperts(model, p, s, /*affine=*/true);
  model.output("y", "%y", s.y());
  Result result = check(model, "experts_affine", [&](const Tensors &v) {
    Tensors out;
    out["y"] = referenceExperts(v, true, out);
    return out;
  });
  report("experts affine " + s.describe(), result);
  expectWithin(result);
}

//===----------------------------------------------------------------------===//
// experts + mix: which patches the batch statistics see
//===----------------------------------------------------------------------===//

// Dense weights given as an input: every patch counts for every expert.
TEST(GradCheckExperts, ExpertsMixDense) {
  freshSeed();
  ExpertsShape s{2, 3, 4, 3, 3, 3, 3, 2};
  ModelText model(/*f64=*/true);
  std::string p = model.input("patches", torch::randn(s.patches(), f64));
  std::string w =
      model.input("w", torch::softmax(torch::randn({s.b, s.p, s.e}, f64), -1));
  addExperts(model, p, s, /*affine=*/false);
  model.line("%m = pce.mix sum " + w + ", %y : " + type({s.b, s.p, s.e}) + ", " +
             type(s.y()));
  model.output("out", "%m", {s.b, s.p, s.co, s.ph, s.pw});
  Result result = check(model, "experts_mix_dense", [&](const Tensors &v) {
    Tensors out;
    out["out"] = ref::mixSum(referenceExperts(v, false, out), v.at("w"));
    return out;
  });
  report("experts + mix sum, dense weights", result);
  expectWithin(result);
}

// A top-1 position router: each expert's statistics cover the patches the
// table sends to it; expert 1 gets none and is normalised with its running
// statistics, which its batch.* values repeat. The experts' output is a
// result too, so that unrouted entries (normalised with statistics they do
// not enter) receive gradients other than through w = 0.
TEST(GradCheckExperts, ExpertsMixTop1Position) {
  freshSeed();
  ExpertsShape s{2, 4, 3, 3, 3, 2, 3, 2};
  const std::vector<int64_t> table = {0, 2, 0, 2};
  ModelText model(/*f64=*/true);
  std::string p = model.input("patches", torch::randn(s.patches(), f64));
  model.line("%w = pce.route position " + p +
             " experts 3 top_k 1 table [0, 2, 0, 2] beta 1.500000 : " +
             type(s.patches()));
  addExperts(model, p, s, /*affine=*/false);
  model.line("%m = pce.mix sum %w, %y : " + type({s.b, s.p, s.e}) + ", " +
             type(s.y()));
  model.output("out", "%m", {s.b, s.p, s.co, s.ph, s.pw});
  model.output("y", "%y", s.y());
  ref::RouterConfig cfg;
  cfg.kind = ref::RouterKind::Position;
  cfg.numExperts = s.e;
  cfg.topK = 1;
  cfg.positionTable = table;
  cfg.beta = 1.5;
  cfg.training = true;
  Result result = check(model, "experts_mix_top1_position", [&](const Tensors &v) {
    Tensors out;
    ref::RouterParams params;
    if (v.count("noise.0.normal"))
      params.positionNoise = v.at("noise.0.normal");
    // Any [B,P,*] tensor stands for the embeddings of a position router.
    torch::Tensor dense =
        ref::routeDense(v.at("patches").flatten(2), cfg, params);
    torch::Tensor w = ref::applyTopK(dense, cfg.topK, cfg.renormalize);
    out["layer0.routing"] = w;
    out["y"] = referenceExperts(v, false, out, ref::topKMask(dense, cfg.topK));
    out["out"] = ref::mixSum(out["y"], w);
    return out;
  });
  report("experts + mix sum, top-1 position router", result);
  expectWithin(result);
}

namespace {
/// Experts and mix sum behind a cosine router on given embeddings, dense
/// (top_k 0) or top-k: the mask follows the keys, and the gradient reaches
/// them through the mixing weights.
Result checkCosineRouted(int64_t topK, const std::string &tag, bool affine = false) {
  ExpertsShape s{3, 4, 3, 3, 2, 3, 3, 2};
  const int64_t d = 5;
  ModelText model(/*f64=*/true);
  std::string p = model.input("patches", torch::randn(s.patches(), f64));
  std::string emb = model.input("emb", torch::randn({s.b, s.p, d}, f64));
  std::string keys = model.param("keys", torch::randn({s.e, d}, f64));
  model.line("%w = pce.route cosine " + emb + " keys(" + keys + " : " +
             type({s.e, d}) + ") tau 5.000000e-01" +
             (topK ? " top_k " + std::to_string(topK) : "") + " : " +
             type({s.b, s.p, d}));
  addExperts(model, p, s, affine);
  model.line("%m = pce.mix sum %w, %y : " + type({s.b, s.p, s.e}) + ", " +
             type(s.y()));
  model.output("out", "%m", {s.b, s.p, s.co, s.ph, s.pw});
  ref::RouterConfig cfg;
  cfg.kind = ref::RouterKind::Cosine;
  cfg.numExperts = s.e;
  cfg.tau = 0.5;
  cfg.topK = topK;
  cfg.training = true;
  return check(model, tag, [&](const Tensors &v) {
    Tensors out;
    ref::RouterParams params;
    params.keys = v.at("keys");
    torch::Tensor dense = ref::routeDense(v.at("emb"), cfg, params);
    torch::Tensor w = ref::applyTopK(dense, cfg.topK, cfg.renormalize);
    out["layer0.routing"] = w;
    torch::Tensor routed = topK ? ref::topKMask(dense, topK) : torch::Tensor();
    out["out"] = ref::mixSum(referenceExperts(v, affine, out, routed), w);
    return out;
  });
}
} // namespace

TEST(GradCheckExperts, ExpertsMixDenseCosine) {
  freshSeed();
  Result result = checkCosineRouted(0, "experts_mix_dense_cosine");
  report("experts + mix sum, dense cosine router", result);
  expectWithin(result);
}

TEST(GradCheckExperts, ExpertsMixTop1Cosine) {
  freshSeed();
  Result result = checkCosineRouted(1, "experts_mix_top1_cosine");
  report("experts + mix sum, top-1 cosine router", result);
  expectWithin(result);
}

// Top-2 of 3 experts: two routed convolutions per patch accumulate into the
// patches' gradient (passes/Builders/RoutedConvolution.cpp).
TEST(GradCheckExperts, ExpertsMixTop2Cosine) {
  freshSeed();
  Result result = checkCosineRouted(2, "experts_mix_top2_cosine");
  report("experts + mix sum, top-2 cosine router", result);
  expectWithin(result);
}

// Affine experts convolve the routed pairs too (their weights are saved).
TEST(GradCheckExperts, ExpertsAffineMixTop1Cosine) {
  freshSeed();
  Result result = checkCosineRouted(1, "experts_affine_mix_top1_cosine", /*affine=*/true);
  report("affine experts + mix sum, top-1 cosine router", result);
  expectWithin(result);
}

//===----------------------------------------------------------------------===//
// mix, attention
//===----------------------------------------------------------------------===//

TEST(GradCheckExperts, MixSum) {
  freshSeed();
  const std::vector<int64_t> y = {2, 3, 3, 4, 2, 3};
  ModelText model(/*f64=*/true);
  std::string w = model.input("w", torch::randn({2, 3, 3}, f64));
  std::string ys = model.input("y", torch::randn(y, f64));
  model.line("%m = pce.mix sum " + w + ", " + ys + " : " + type({2, 3, 3}) +
             ", " + type(y));
  model.output("out", "%m", {2, 3, 4, 2, 3});
  Result result = check(model, "mix_sum", [&](const Tensors &v) {
    return Tensors{{"out", ref::mixSum(v.at("y"), v.at("w"))}};
  });
  report("mix sum", result);
  expectWithin(result);
}

TEST(GradCheckExperts, MixConcat) {
  freshSeed();
  const int64_t b = 2, p = 3, e = 3, co = 2, ph = 3, pw = 2, out = 5;
  const std::vector<int64_t> y = {b, p, e, co, ph, pw};
  ModelText model(/*f64=*/true);
  std::string w = model.input("w", torch::randn({b, p, e}, f64));
  std::string ys = model.input("y", torch::randn(y, f64));
  std::string wc = model.param("wc", torch::randn({out, e * co}, f64));
  std::string bc = model.param("bc", torch::randn({out}, f64));
  model.line("%m = pce.mix concat " + w + ", " + ys + " proj(" + wc + ", " + bc +
             " : " + type({out, e * co}) + ", " + type({out}) + ") : " +
             type({b, p, e}) + ", " + type(y));
  model.output("out", "%m", {b, p, out, ph, pw});
  Result result = check(model, "mix_concat", [&](const Tensors &v) {
    return Tensors{{"out", ref::mixConcat(v.at("y"), v.at("w"), v.at("wc"),
                                          v.at("bc"))}};
  });
  report("mix concat", result);
  expectWithin(result);
}

TEST(GradCheckExperts, AttentionSE) {
  freshSeed();
  const int64_t b = 2, p = 3, co = 8, hd = 2, ph = 3, pw = 4;
  const std::vector<int64_t> x = {b, p, co, ph, pw};
  ModelText model(/*f64=*/true);
  std::string xs = model.input("x", torch::randn(x, f64));
  std::string w1 = model.param("w1", torch::randn({hd, co}, f64));
  std::string b1 = model.param("b1", torch::randn({hd}, f64));
  std::string w2 = model.param("w2", torch::randn({co, hd}, f64));
  std::string b2 = model.param("b2", torch::randn({co}, f64));
  model.line("%a = pce.attention se " + xs + " weights(" + w1 + ", " + b1 + ", " +
             w2 + ", " + b2 + " : " + type({hd, co}) + ", " + type({hd}) + ", " +
             type({co, hd}) + ", " + type({co}) + ") : " + type(x));
  model.output("out", "%a", x);
  Result result = check(model, "attention_se", [&](const Tensors &v) {
    return Tensors{{"out", ref::attentionSE(v.at("x"), v.at("w1"), v.at("b1"),
                                            v.at("w2"), v.at("b2"))}};
  });
  report("attention se", result);
  expectWithin(result);
}

// Phase 3 of a layer: bn experts, concat mix, squeeze-excitation (Hd = 1).
TEST(GradCheckExperts, ExpertsConcatSE) {
  freshSeed();
  ExpertsShape s{2, 3, 3, 3, 3, 3, 2, 3};
  const int64_t out = 4, hd = 1;
  const std::vector<int64_t> mixed = {s.b, s.p, out, s.ph, s.pw};
  ModelText model(/*f64=*/true);
  std::string p = model.input("patches", torch::randn(s.patches(), f64));
  std::string w =
      model.input("w", torch::softmax(torch::randn({s.b, s.p, s.e}, f64), -1));
  addExperts(model, p, s, /*affine=*/false);
  std::string wc = model.param("wc", torch::randn({out, s.e * s.co}, f64));
  std::string bc = model.param("bc", torch::randn({out}, f64));
  std::string w1 = model.param("w1", torch::randn({hd, out}, f64));
  std::string b1 = model.param("b1", torch::randn({hd}, f64));
  std::string w2 = model.param("w2", torch::randn({out, hd}, f64));
  std::string b2 = model.param("b2", torch::randn({out}, f64));
  model.line("%m = pce.mix concat " + w + ", %y proj(" + wc + ", " + bc + " : " +
             type({out, s.e * s.co}) + ", " + type({out}) + ") : " +
             type({s.b, s.p, s.e}) + ", " + type(s.y()));
  model.line("%a = pce.attention se %m weights(" + w1 + ", " + b1 + ", " + w2 +
             ", " + b2 + " : " + type({hd, out}) + ", " + type({hd}) + ", " +
             type({out, hd}) + ", " + type({out}) + ") : " + type(mixed));
  model.output("out", "%a", mixed);
  Result result = check(model, "experts_concat_se", [&](const Tensors &v) {
    Tensors r;
    torch::Tensor m = ref::mixConcat(referenceExperts(v, false, r), v.at("w"),
                                     v.at("wc"), v.at("bc"));
    r["out"] = ref::attentionSE(m, v.at("w1"), v.at("b1"), v.at("w2"), v.at("b2"));
    return r;
  });
  report("experts + mix concat + attention se", result);
  expectWithin(result);
}
