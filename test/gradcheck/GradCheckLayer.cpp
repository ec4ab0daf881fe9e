//===- GradCheckLayer.cpp - whole layers and a two-layer stack ------------===//
//
// Gradient checks of whole PCE layers (pce.layer, decomposed, then every op's
// adjoint chained by pce-generate-backward) in training semantics, and of two
// stacked layers, against finite differences of pce::ref::layer.
//
//===----------------------------------------------------------------------===//

#include "runtime/reference/Layers.h"
#include "test/gradcheck/GradCheck.h"

#include <gtest/gtest.h>

using namespace pce;
using namespace pce::agree;

namespace {

const auto f64 = torch::kFloat64;

/// `layer.params` with every tensor replaced by its (perturbed) value in
/// `values`, so that finite differences see the perturbation.
ref::LayerParams paramsFrom(const grad::Tensors &values, const std::string &prefix,
                            ref::LayerParams p) {
  auto take = [&](torch::Tensor &t, const std::string &name) {
    auto it = values.find(prefix + "." + name);
    if (it != values.end())
      t = it->second;
  };
  take(p.We, "embed.weight");
  take(p.be, "embed.bias");
  take(p.router.keys, "router.keys");
  take(p.router.W1, "router.mlp.w1");
  take(p.router.b1, "router.mlp.b1");
  take(p.router.W2, "router.mlp.w2");
  take(p.router.b2, "router.mlp.b2");
  take(p.experts.kernels, "experts.kernel");
  take(p.experts.gamma, "experts.bn.gamma");
  take(p.experts.beta, "experts.bn.beta");
  take(p.experts.runningMean, "experts.bn.running_mean");
  take(p.experts.runningVar, "experts.bn.running_var");
  take(p.Wc, "mix.proj.weight");
  take(p.bc, "mix.proj.bias");
  take(p.seW1, "attention.se.w1");
  take(p.seb1, "attention.se.b1");
  take(p.seW2, "attention.se.w2");
  take(p.seb2, "attention.se.b2");
  return p;
}

/// The noise input of the layer's router, if the compiled training forward
/// takes one (a model has at most one per router, numbered in order).
void takeNoise(const grad::Tensors &values, int index, ref::LayerParams &p) {
  std::string base = "noise." + std::to_string(index);
  if (auto it = values.find(base + ".normal"); it != values.end())
    p.router.positionNoise = it->second;
  if (auto it = values.find(base + ".gumbel"); it != values.end())
    p.router.gumbelNoise = it->second;
}

/// The training-forward results of one layer as the compiled model names
/// them: output, routing and the batch statistics it reports.
void addLayerResults(grad::Tensors &out, const std::string &prefix,
                     const ref::LayerResult &r, const ref::LayerParams &p) {
  out[prefix + ".routing"] = r.weights;
  // `batch.*` is defined so that 0.9 * running + 0.1 * batch is the
  // reference's updated running statistic.
  const double m = p.experts.momentum;
  if (p.experts.runningMean.defined()) {
    out["batch." + prefix + ".experts.bn.running_mean"] =
        (r.experts.runningMean - (1 - m) * p.experts.runningMean) / m;
    out["batch." + prefix + ".experts.bn.running_var"] =
        (r.experts.runningVar - (1 - m) * p.experts.runningVar) / m;
  }
}

LayerSpec spec(ref::RouterKind router, int64_t topK) {
  LayerSpec s;
  s.router = router;
  s.topK = topK;
  s.experts = 3;
  s.outChannels = 3;
  s.hidden = 5;
  return s;
}

struct LayerCase {
  std::string name;
  LayerSpec spec;
  std::vector<int64_t> input;
};

std::vector<LayerCase> layerCases() {
  std::vector<LayerCase> cases;
  cases.push_back({"cosine_top1", spec(ref::RouterKind::Cosine, 1), {2, 2, 8, 8}});
  cases.push_back({"mlp_dense", spec(ref::RouterKind::Mlp, 0), {2, 1, 8, 12}});
  LayerSpec head = spec(ref::RouterKind::Mlp, 1);
  head.cosineHead = true;
  head.normalizeInput = true;
  cases.push_back({"mlp_cosine_head_top1", head, {2, 2, 8, 8}});
  // More patches per expert: masked statistics over many routed patches.
  LayerSpec wide = spec(ref::RouterKind::Cosine, 1);
  wide.experts = 4;
  wide.outChannels = 6;
  cases.push_back({"cosine_top1_batch8", wide, {8, 3, 16, 16}});
  LayerSpec position = spec(ref::RouterKind::Position, 1);
  position.sigma = 0.7;
  cases.push_back({"position_noisy_top1", position, {2, 2, 8, 8}});
  LayerSpec gumbel = spec(ref::RouterKind::Gumbel, 0);
  gumbel.learnableTau = true;
  cases.push_back({"gumbel_soft_learnable_tau", gumbel, {2, 1, 8, 8}});
  LayerSpec concat = spec(ref::RouterKind::Cosine, 0);
  concat.mix = ref::MixKind::Concat;
  concat.attention = ref::AttentionKind::SE;
  concat.ph = 4;
  concat.pw = 2;
  cases.push_back({"concat_se", concat, {2, 2, 8, 8}});
  return cases;
}

void PrintTo(const LayerCase &c, std::ostream *os) { *os << c.name; }

/// The layer of `c`, compiled with `options.compileFlags`, against finite
/// differences of the float64 reference.
static void checkLayer(const LayerCase &c, const std::string &tag,
                       const grad::Options &options = {}) {
  freshSeed();
  ModelText model(/*f64=*/true);
  std::string x = model.input("x", torch::randn(c.input, f64));
  BuiltLayer layer = addLayer(model, "layer0", x, c.input, c.spec);
  model.output("y", layer.ssa, layer.shape);
  ref::LayerConfig config = layer.config;
  config.training = true;
  auto reference = [&](const grad::Tensors &v) {
    ref::LayerParams p = paramsFrom(v, "layer0", layer.params);
    takeNoise(v, 0, p);
    // The learnable temperature lives in the router's configuration.
    ref::LayerConfig c = config;
    if (auto it = v.find("layer0.router.log_tau"); it != v.end())
      c.router.logTau = it->second;
    ref::LayerResult r = ref::layer(v.at("x"), c, p);
    grad::Tensors out{{"y", r.out}};
    addLayerResults(out, "layer0", r, p);
    return out;
  };
  grad::Result result = grad::check(model, tag, reference, options);
  grad::report(tag, result);
}

class GradCheckLayer : public ::testing::TestWithParam<LayerCase> {};

TEST_P(GradCheckLayer, AgainstFiniteDifferences) {
  checkLayer(GetParam(), "layer_" + GetParam().name);
}

INSTANTIATE_TEST_SUITE_P(Layers, GradCheckLayer, ::testing::ValuesIn(layerCases()),
                         [](const auto &info) { return info.param.name; });

// The training functions through the GPU pipeline's kernel structure, run as
// loops on the CPU (--target cuda-emulated, block size 96 so that every tail
// guard runs): forward and gradients as for the CPU pipeline.
class GpuPipelineGradCheckLayer : public ::testing::TestWithParam<LayerCase> {};

TEST_P(GpuPipelineGradCheckLayer, AgainstFiniteDifferences) {
  grad::Options options;
  options.compileFlags = "--target cuda-emulated --pipeline-options=block-size=96";
  checkLayer(GetParam(), "gpu_layer_" + GetParam().name, options);
}

INSTANTIATE_TEST_SUITE_P(Layers, GpuPipelineGradCheckLayer, ::testing::ValuesIn(layerCases()),
                         [](const auto &info) { return info.param.name; });

TEST(GradCheckStack, TwoLayers) {
  freshSeed();
  ModelText model(/*f64=*/true);
  std::vector<int64_t> xs = {2, 1, 8, 8};
  std::string x = model.input("x", torch::randn(xs, f64));
  LayerSpec first = spec(ref::RouterKind::Cosine, 1);
  BuiltLayer l0 = addLayer(model, "layer0", x, xs, first);
  LayerSpec second = spec(ref::RouterKind::Mlp, 0);
  second.ph = 2;
  second.pw = 4;
  second.experts = 2;
  BuiltLayer l1 = addLayer(model, "layer1", l0.ssa, l0.shape, second);
  model.output("y", l1.ssa, l1.shape);
  ref::LayerConfig c0 = l0.config, c1 = l1.config;
  c0.training = c1.training = true;
  auto reference = [&](const grad::Tensors &v) {
    ref::LayerParams p0 = paramsFrom(v, "layer0", l0.params);
    ref::LayerParams p1 = paramsFrom(v, "layer1", l1.params);
    ref::LayerResult r0 = ref::layer(v.at("x"), c0, p0);
    ref::LayerResult r1 = ref::layer(r0.out, c1, p1);
    grad::Tensors out{{"y", r1.out}};
    addLayerResults(out, "layer0", r0, p0);
    addLayerResults(out, "layer1", r1, p1);
    return out;
  };
  grad::Result result = grad::check(model, "stack", reference);
  grad::report("two stacked layers", result);
}

} // namespace
