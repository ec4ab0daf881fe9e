//===- AdapterTest.cpp - the compiled layer under autograd vs the reference ===//
//
// Compiles one-layer models with pce-compile --training, runs the layer
// through PceLayer (the artifact's <L>_train / <L>_backward inside a torch
// autograd function) and compares outputs, routing, running statistics and
// the gradients of x and of every parameter with torch autograd through the
// float64 reference (runtime/reference, pce::ref::layer with training = true).
// Router noise is replayed from the layer's generator state. Skipped while
// pce-compile cannot build training artifacts.
//
//===----------------------------------------------------------------------===//

#include "TrainTestSupport.h"

#include "runtime/reference/Reference.h"
#include "runtime/torch/PceLayer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

using namespace pce;
namespace fs = std::filesystem;

namespace {

struct Case {
  std::string name;
  std::string layer;  // the pce: mapping of the description
  std::string keys;   // the phase's keys setting
  ref::RouterKind router;
  int64_t topK = 0;
  double tau = 1.0, sigma = 0.0, gumbelTau = 1.0;
  bool hard = false, concat = false, se = false;
  int64_t batch = 2, channels = 2, side = 8, patch = 4;
};

// GoogleTest prints a parameter with this (instead of its bytes).
void PrintTo(const Case &c, std::ostream *os) { *os << c.name; }

// The artifact of phase 1, or a reason to skip. $PCE_TRAIN_TEST_COMPILE
// overrides the build tree's pce-compile.
std::shared_ptr<const rt::Artifact> compileLayer(const Case &c, std::string &why) {
  const char *env = std::getenv("PCE_TRAIN_TEST_COMPILE");
  std::string compiler = env && *env ? env : PCE_COMPILE_BIN;
  if (compiler.empty() || !fs::exists(compiler)) {
    why = "no pce-compile (" + compiler + ")";
    return nullptr;
  }
  std::string dir = traintest::freshDir("adapter-" + c.name);
  const std::string side = std::to_string(c.side);
  traintest::writeFile(dir + "/m.yaml", "model: adapt\ninput: {channels: " + std::to_string(c.channels) +
                                            ", height: " + side + ", width: " + side + "}\nlayers:\n  - pce: " +
                                            c.layer + "\nhead: {kind: classification, classes: 3}\n"
                                            "training:\n  batch: " + std::to_string(c.batch) +
                                            "\n  phases:\n    - {epochs: 1" +
                                            (c.keys.empty() ? "" : ", keys: " + c.keys) + "}\n");
  traintest::ProcessResult compiled =
      traintest::runCommand({compiler, dir + "/m.yaml", "--training", "-o", dir + "/compiled"});
  traintest::writeFile(dir + "/compile.log", compiled.output);
  if (compiled.status != 0) {
    why = "pce-compile --training failed: see " + dir + "/compile.log";
    return nullptr;
  }
  auto art = rt::Artifact::open(dir + "/compiled/phase1");
  if (!art) {
    why = art.error();
    return nullptr;
  }
  return std::make_shared<const rt::Artifact>(std::move(*art));
}

double relErr(const torch::Tensor &a, const torch::Tensor &ref) {
  torch::Tensor r = ref.to(torch::kFloat64), x = a.to(torch::kFloat64);
  return ((x - r).abs().max() / std::max(1.0, r.abs().max().item<double>())).item<double>();
}

class AdapterVsReference : public ::testing::TestWithParam<Case> {};

TEST_P(AdapterVsReference, OutputsStatisticsAndGradients) {
  const Case &c = GetParam();
  std::string why;
  auto artifact = compileLayer(c, why);
  if (!artifact)
    GTEST_SKIP() << why;
  at::Generator gen = at::detail::createCPUGenerator(3);
  torchrt::PceLayerOptions o;
  o.name = "block";
  o.keys = torchrt::parseKeysMode(c.keys.empty() ? "none" : c.keys);
  auto layer = std::make_shared<torchrt::PceLayer>(artifact, o, gen);
  layer->train();
  const auto &t = layer->tensors();
  {
    torch::NoGradGuard g;
    for (const auto &[name, v] : t) {
      torch::Tensor x = v;
      if (name.find("running_var") != std::string::npos || name.find("gamma") != std::string::npos)
        x.copy_(0.5 + torch::rand(v.sizes(), gen));
      else
        x.copy_(0.5 * torch::randn(v.sizes(), gen));
    }
  }
  std::map<std::string, torch::Tensor> before;
  for (const auto &[name, v] : t)
    before[name] = v.detach().clone().to(torch::kFloat64);

  torch::Tensor x = torch::randn({c.batch, c.channels, c.side, c.side}, gen).requires_grad_(true);
  // Replay the noise the layer is about to draw (manifest order, same generator).
  at::Generator replay = at::detail::createCPUGenerator(0);
  replay.set_state(gen.get_state());
  torch::Tensor positionNoise, gumbelNoise;
  for (const rt::BufferSpec &a : artifact->manifest().findEntry("block_train")->arguments) {
    if (a.name.rfind("noise.", 0) != 0)
      continue;
    if (a.name.size() > 7 && a.name.substr(a.name.size() - 7) == ".gumbel") {
      torch::Tensor u = torch::rand(a.shape, replay, torch::kFloat64).clamp(1e-300, 1.0 - 1e-16);
      gumbelNoise = (-(-u.log()).log()).to(torch::kFloat32).to(torch::kFloat64);
    } else {
      positionNoise = torch::randn(a.shape, replay, torch::kFloat32).to(torch::kFloat64);
    }
  }
  torchrt::PceForward f = layer->forward(x);
  torch::Tensor gy = torch::randn(f.y.sizes(), gen), gr = torch::randn(f.routing.sizes(), gen);
  ((f.y * gy).sum() + (f.routing * gr).sum()).backward();

  // The reference on the same (float32-rounded) values, in float64.
  ref::LayerConfig cfg;
  cfg.patch.ph = cfg.patch.pw = c.patch;
  cfg.patch.r = 1;
  cfg.router.kind = c.router;
  cfg.router.numExperts = layer->experts();
  cfg.router.tau = c.tau;
  cfg.router.topK = c.topK;
  cfg.router.sigma = c.sigma;
  cfg.router.gumbelTau = c.gumbelTau;
  cfg.router.hard = c.hard;
  // An MLP reads unit embeddings unless its description says otherwise.
  cfg.router.normalizeInput =
      c.router == ref::RouterKind::Mlp && c.layer.find("normalize_input: false") == std::string::npos;
  cfg.router.cosineHead = c.layer.find("cosine_head: true") != std::string::npos;
  cfg.mix = c.concat ? ref::MixKind::Concat : ref::MixKind::Sum;
  cfg.attention = c.se ? ref::AttentionKind::SE : ref::AttentionKind::None;
  cfg.training = true;
  std::map<std::string, torch::Tensor> leaves;
  auto leaf = [&](const std::string &role) {
    std::string name = "block." + role;
    if (!before.count(name))
      return torch::Tensor();
    return leaves[name] = before.at(name).clone().requires_grad_(layer->isParameter(name));
  };
  ref::LayerParams p;
  p.We = leaf("embed.weight");
  p.be = leaf("embed.bias");
  p.router.keys = leaf("router.keys");
  p.router.W1 = leaf("router.mlp.w1");
  p.router.b1 = leaf("router.mlp.b1");
  p.router.W2 = leaf("router.mlp.w2");
  p.router.b2 = leaf("router.mlp.b2");
  p.router.positionNoise = positionNoise;
  p.router.gumbelNoise = gumbelNoise;
  p.experts.kernels = leaf("experts.kernel");
  p.experts.gamma = leaf("experts.bn.gamma");
  p.experts.beta = leaf("experts.bn.beta");
  p.experts.runningMean = before.at("block.experts.bn.running_mean");
  p.experts.runningVar = before.at("block.experts.bn.running_var");
  p.Wc = leaf("mix.proj.weight");
  p.bc = leaf("mix.proj.bias");
  p.seW1 = leaf("attention.se.w1");
  p.seb1 = leaf("attention.se.b1");
  p.seW2 = leaf("attention.se.w2");
  p.seb2 = leaf("attention.se.b2");
  torch::Tensor x64 = x.detach().to(torch::kFloat64).requires_grad_(true);
  ref::LayerResult r = ref::layer(x64, cfg, p);
  ((r.out * gy.to(torch::kFloat64)).sum() + (r.weights * gr.to(torch::kFloat64)).sum()).backward();

  EXPECT_LE(relErr(f.y, r.out), 1e-4);
  EXPECT_LE(relErr(f.routing, r.weights), 1e-4);
  EXPECT_LE(relErr(t.at("block.experts.bn.running_mean"), r.experts.runningMean), 1e-4);
  EXPECT_LE(relErr(t.at("block.experts.bn.running_var"), r.experts.runningVar), 1e-4);
  EXPECT_LE(relErr(x.grad(), x64.grad()), 1e-3) << "grad.x";
  for (const auto &[name, ref] : leaves) {
    if (!ref.requires_grad())
      continue;
    ASSERT_TRUE(t.at(name).grad().defined()) << name << " received no gradient";
    ASSERT_TRUE(ref.grad().defined()) << name << ": no reference gradient";
    EXPECT_LE(relErr(t.at(name).grad(), ref.grad()), 1e-3) << name;
  }
  EXPECT_FALSE(t.at("block.experts.bn.running_mean").grad().defined());

  // Eval mode runs the inference entry point, here on two compiled batches.
  layer->eval();
  torch::Tensor xe = torch::randn({2 * c.batch, c.channels, c.side, c.side}, gen);
  torchrt::PceForward e = layer->forward(xe);
  cfg.training = false;
  p.experts.runningMean = t.at("block.experts.bn.running_mean").detach().to(torch::kFloat64);
  p.experts.runningVar = t.at("block.experts.bn.running_var").detach().to(torch::kFloat64);
  ref::LayerResult re = ref::layer(xe.to(torch::kFloat64), cfg, p);
  EXPECT_LE(relErr(e.y, re.out), 1e-4);
  EXPECT_LE(relErr(e.routing, re.weights), 1e-4);
  if (p.We.defined()) {
    ASSERT_TRUE(e.embedding.defined());
    EXPECT_LE(relErr(e.embedding, re.emb), 1e-4);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Routers, AdapterVsReference,
    ::testing::Values(
        Case{"cosine_learnable", "{name: block, patch: 4, experts: 2, out_channels: 3, "
                                 "router: {kind: cosine, tau: 0.5, top_k: 1}}",
             "learnable", ref::RouterKind::Cosine, 1, 0.5},
        Case{"cosine_ema", "{name: block, patch: 4, experts: 3, out_channels: 3, "
                           "router: {kind: cosine, tau: 0.2}}",
             "ema", ref::RouterKind::Cosine, 0, 0.2},
        Case{"mlp_top1", "{name: block, patch: 4, experts: 3, out_channels: 3, "
                         "router: {kind: mlp, hidden: 8, normalize_input: false, top_k: 1}}",
             "", ref::RouterKind::Mlp, 1},
        Case{"mlp_cosine_head", "{name: block, patch: 4, experts: 3, out_channels: 3, "
                                "router: {kind: mlp, hidden: 8, cosine_head: true, tau: 0.3, top_k: 1}}",
             "", ref::RouterKind::Mlp, 1, 0.3},
        Case{"mlp_concat_se", "{name: block, patch: 4, experts: 2, out_channels: 4, mix: concat, attention: se, "
                              "router: {kind: mlp, hidden: 8}}",
             "", ref::RouterKind::Mlp, 0, 1.0, 0.0, 1.0, false, true, true},
        Case{"position_noise", "{name: block, patch: 4, experts: 2, out_channels: 3, "
                               "router: {kind: position, sigma: 0.7, top_k: 1}}",
             "", ref::RouterKind::Position, 1, 1.0, 0.7},
        Case{"gumbel_hard", "{name: block, patch: 4, experts: 2, out_channels: 3, "
                            "router: {kind: gumbel, tau: 0.5, gumbel_tau: 0.8, hard: true}}",
             "learnable", ref::RouterKind::Gumbel, 0, 0.5, 0.0, 0.8, true},
        // The first layer of examples/fashion_pce.yaml in phase 2, at its size.
        Case{"fashion_mlp", "{name: block, patch: 7, experts: 4, out_channels: 8, "
                            "router: {kind: mlp, hidden: 32, top_k: 1}}",
             "", ref::RouterKind::Mlp, 1, 1.0, 0.0, 1.0, false, false, false, 64, 1, 28, 7}),
    [](const ::testing::TestParamInfo<Case> &info) { return info.param.name; });

TEST(Adapter, KeysAreBuffersUnderEma) {
  Case c{"keys_ema", "{name: block, patch: 4, experts: 2, out_channels: 3, router: {kind: cosine, top_k: 1}}", "ema",
         ref::RouterKind::Cosine};
  std::string why;
  auto artifact = compileLayer(c, why);
  if (!artifact)
    GTEST_SKIP() << why;
  torchrt::PceLayerOptions o;
  o.name = "block";
  o.keys = torchrt::KeysMode::Ema;
  torchrt::PceLayer layer(artifact, o, at::detail::createCPUGenerator(1));
  EXPECT_FALSE(layer.isParameter("block.router.keys"));
  bool buffer = false;
  for (const auto &b : layer.named_buffers())
    buffer |= b.key() == "router.keys";
  EXPECT_TRUE(buffer);
  EXPECT_EQ(layer.keysName(), "block.router.keys");
  EXPECT_EQ(layer.experts(), 2);
}

} // namespace
