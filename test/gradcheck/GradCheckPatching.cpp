//===- GradCheckPatching.cpp - patchify, unpatchify, embed ----------------===//
//
// Gradient checks of the adjoints of pce.patchify, pce.unpatchify and
// pce.embed (passes/Autodiff/AdjointPatching.cpp, passes/Autodiff/AdjointEmbed.cpp) against
// central finite differences of the float64 reference (pce::ref).
//
//===----------------------------------------------------------------------===//

#include "test/gradcheck/GradCheck.h"
#include "runtime/reference/Reference.h"

#include <gtest/gtest.h>

using namespace pce;
using namespace pce::agree;

namespace {

const auto f64 = torch::kFloat64;

std::string str(int64_t v) { return std::to_string(v); }

std::string list(const std::vector<int64_t> &values) {
  std::string text;
  for (int64_t v : values)
    text += (text.empty() ? "" : ", ") + str(v);
  return text;
}

/// Enough samples to check every element of the small tensors used here:
/// the borders of the halo are where the sums are easy to get wrong.
grad::Options everyElement() {
  grad::Options options;
  options.samples = 4096;
  return options;
}

//===----------------------------------------------------------------------===//
// patchify
//===----------------------------------------------------------------------===//

struct PatchifyCase {
  std::string name;
  int64_t b, c, h, w, ph, pw, k;
  ref::Halo halo;
};

std::vector<PatchifyCase> patchifyCases() {
  using H = ref::Halo;
  return {
      {"context_k1", 2, 2, 6, 6, 3, 3, 1, H::Context},
      {"context_k3", 2, 2, 8, 8, 4, 4, 3, H::Context},
      {"context_k5", 1, 3, 8, 12, 4, 3, 5, H::Context},
      {"context_k5_radius_exceeds_patch", 1, 2, 6, 6, 1, 2, 5, H::Context},
      {"context_k3_single_patch", 3, 1, 5, 7, 5, 7, 3, H::Context},
      {"isolated_k1", 1, 2, 4, 6, 2, 3, 1, H::Isolated},
      {"isolated_k3", 2, 2, 8, 8, 4, 2, 3, H::Isolated},
      {"isolated_k5", 1, 3, 6, 9, 3, 3, 5, H::Isolated},
  };
}

class GradCheckPatchify : public ::testing::TestWithParam<PatchifyCase> {};

TEST_P(GradCheckPatchify, AgainstFiniteDifferences) {
  const PatchifyCase &c = GetParam();
  freshSeed();
  ModelText model(/*f64=*/true);
  std::vector<int64_t> xs = {c.b, c.c, c.h, c.w};
  std::string x = model.input("x", torch::randn(xs, f64));
  int64_t r = c.k / 2;
  int64_t p = (c.h / c.ph) * (c.w / c.pw);
  model.line("%p = pce.patchify " + x + " patch [" + str(c.ph) + ", " +
             str(c.pw) + "] radius " + str(r) +
             (c.halo == ref::Halo::Isolated ? " halo isolated" : "") + " : " +
             tensorType(xs, true));
  model.output("patches", "%p", {c.b, p, c.c + 4, c.ph + 2 * r, c.pw + 2 * r});
  ref::PatchifyConfig config{c.ph, c.pw, r, c.halo};
  auto reference = [&](const grad::Tensors &v) {
    return grad::Tensors{{"patches", ref::patchify(v.at("x"), config)}};
  };
  grad::Result result =
      grad::check(model, "patchify_" + c.name, reference, everyElement());
  grad::report("patchify " + c.name, result);
}

INSTANTIATE_TEST_SUITE_P(Patching, GradCheckPatchify,
                         ::testing::ValuesIn(patchifyCases()),
                         [](const auto &info) { return info.param.name; });

//===----------------------------------------------------------------------===//
// unpatchify
//===----------------------------------------------------------------------===//

struct UnpatchifyCase {
  std::string name;
  int64_t b, co, nph, npw, ph, pw;
};

class GradCheckUnpatchify : public ::testing::TestWithParam<UnpatchifyCase> {};

TEST_P(GradCheckUnpatchify, AgainstFiniteDifferences) {
  const UnpatchifyCase &c = GetParam();
  freshSeed();
  ModelText model(/*f64=*/true);
  std::vector<int64_t> ys = {c.b, c.nph * c.npw, c.co, c.ph, c.pw};
  std::string y = model.input("y", torch::randn(ys, f64));
  int64_t h = c.nph * c.ph, w = c.npw * c.pw;
  model.line("%o = pce.unpatchify " + y + " grid [" + str(c.nph) + ", " +
             str(c.npw) + "] : " + tensorType(ys, true));
  model.output("out", "%o", {c.b, c.co, h, w});
  auto reference = [&](const grad::Tensors &v) {
    return grad::Tensors{{"out", ref::unpatchify(v.at("y"), h, w)}};
  };
  grad::Result result =
      grad::check(model, "unpatchify_" + c.name, reference, everyElement());
  grad::report("unpatchify " + c.name, result);
}

INSTANTIATE_TEST_SUITE_P(
    Patching, GradCheckUnpatchify,
    ::testing::Values(UnpatchifyCase{"grid_2x3", 2, 3, 2, 3, 4, 3},
                      UnpatchifyCase{"grid_1x1", 1, 2, 1, 1, 5, 2},
                      UnpatchifyCase{"grid_3x1_tall", 2, 1, 3, 1, 2, 6}),
    [](const auto &info) { return info.param.name; });

//===----------------------------------------------------------------------===//
// embed
//===----------------------------------------------------------------------===//

struct EmbedCase {
  std::string name;
  int64_t b, p, cin, ph, pw, r, de;
  std::vector<int64_t> levels; ///< empty: the default (1, 2, 4)
};

std::vector<EmbedCase> embedCases() {
  return {
      {"default_levels_7x7", 2, 4, 5, 7, 7, 1, 5, {}}, // uneven bins
      {"default_levels_8x8", 1, 3, 6, 8, 8, 0, 4, {}},
      {"custom_levels_4x6", 2, 2, 7, 4, 6, 2, 9, {1, 3}},       // De != C+4
      {"overlapping_bins_2x3", 1, 2, 5, 2, 3, 0, 4, {1, 2, 4}}, // 4 bins, 2
                                                                // rows
      {"single_level_5x3", 2, 3, 4, 5, 3, 1, 3, {2}},
  };
}

class GradCheckEmbed : public ::testing::TestWithParam<EmbedCase> {};

TEST_P(GradCheckEmbed, AgainstFiniteDifferences) {
  const EmbedCase &c = GetParam();
  freshSeed();
  ModelText model(/*f64=*/true);
  std::vector<int64_t> ps = {c.b, c.p, c.cin, c.ph + 2 * c.r, c.pw + 2 * c.r};
  std::string p = model.input("patches", torch::randn(ps, f64));
  std::string we = model.param("we", torch::randn({c.de, c.cin}, f64));
  std::string be = model.param("be", torch::randn({c.de}, f64));
  ref::EmbedConfig config;
  if (!c.levels.empty())
    config.levels = c.levels;
  int64_t bins = 0;
  for (int64_t l : config.levels)
    bins += l * l;
  model.line("%e = pce.embed " + p + ", " + we + ", " + be + " radius " +
             str(c.r) +
             (c.levels.empty() ? "" : " levels [" + list(c.levels) + "]") +
             " : " + tensorType(ps, true) + ", " +
             tensorType({c.de, c.cin}, true) + ", " + tensorType({c.de}, true));
  model.output("emb", "%e", {c.b, c.p, c.de * bins});
  auto reference = [&](const grad::Tensors &v) {
    return grad::Tensors{{"emb", ref::embed(v.at("patches"), c.r, v.at("we"),
                                            v.at("be"), config)}};
  };
  grad::Result result =
      grad::check(model, "embed_" + c.name, reference, everyElement());
  grad::report("embed " + c.name, result);
}

INSTANTIATE_TEST_SUITE_P(Patching, GradCheckEmbed,
                         ::testing::ValuesIn(embedCases()),
                         [](const auto &info) { return info.param.name; });

/// With ties in a pooling bin the gradient goes to the first maximum in
/// row-major order, as PyTorch's adaptive_max_pool2d. Finite differences
/// cannot see that choice and ref::embed's amax splits ties evenly, so this
/// compares with autograd through adaptive_max_pool2d itself, on small
/// integers, where the embedding is exact and ties are everywhere.
TEST(GradCheckPatching, EmbedTiesGoToTheFirstMaximum) {
  freshSeed();
  const int64_t b = 2, p = 3, cin = 3, ph = 5, pw = 4, r = 1, de = 2;
  const std::vector<int64_t> levels = {1, 2, 4};
  ModelText model(/*f64=*/true);
  std::vector<int64_t> ps = {b, p, cin, ph + 2 * r, pw + 2 * r};
  auto smallIntegers = [](std::vector<int64_t> shape) {
    return torch::randint(-1, 2, shape, torch::TensorOptions().dtype(f64));
  };
  std::string patches = model.input("patches", smallIntegers(ps));
  std::string we = model.param("we", smallIntegers({de, cin}));
  std::string be = model.param("be", smallIntegers({de}));
  model.line("%e = pce.embed " + patches + ", " + we + ", " + be +
             " radius 1 : " + tensorType(ps, true) + ", " +
             tensorType({de, cin}, true) + ", " + tensorType({de}, true));
  model.output("emb", "%e", {b, p, de * 21});
  auto reference = [&](const grad::Tensors &v) {
    torch::Tensor core = ref::patchCore(v.at("patches"), r);
    torch::Tensor z = torch::einsum("dc,bpcij->bpdij", {v.at("we"), core}) +
                      v.at("be").view({1, 1, de, 1, 1});
    z = z.reshape({b * p, de, ph, pw});
    std::vector<torch::Tensor> pooled;
    for (int64_t l : levels)
      pooled.push_back(std::get<0>(torch::adaptive_max_pool2d(z, {l, l}))
                           .reshape({b, p, -1}));
    return grad::Tensors{{"emb", torch::cat(pooled, 2)}};
  };
  grad::Options options;
  options.autograd = true;
  grad::Result result = grad::check(model, "embed_ties", reference, options);
  grad::report("embed ties", result);
}

//===----------------------------------------------------------------------===//
// patchify -> embed, the patches also a result: their gradients add up
//===----------------------------------------------------------------------===//

TEST(GradCheckPatching, PatchifyEmbedSharedPatches) {
  freshSeed();
  for (ref::Halo halo : {ref::Halo::Context, ref::Halo::Isolated}) {
    bool isolated = halo == ref::Halo::Isolated;
    ModelText model(/*f64=*/true);
    std::vector<int64_t> xs = {2, 2, 8, 6};
    const int64_t ph = 4, pw = 3, r = 1, p = 4, cin = 6, de = 5;
    std::string x = model.input("x", torch::randn(xs, f64));
    std::string we = model.param("we", torch::randn({de, cin}, f64));
    std::string be = model.param("be", torch::randn({de}, f64));
    std::vector<int64_t> ps = {2, p, cin, ph + 2 * r, pw + 2 * r};
    model.line("%p = pce.patchify " + x + " patch [4, 3] radius 1" +
               (isolated ? " halo isolated" : "") + " : " +
               tensorType(xs, true));
    model.line("%e = pce.embed %p, " + we + ", " + be +
               " radius 1 : " + tensorType(ps, true) + ", " +
               tensorType({de, cin}, true) + ", " + tensorType({de}, true));
    model.output("patches", "%p", ps);
    model.output("emb", "%e", {2, p, de * 21});
    ref::PatchifyConfig config{ph, pw, r, halo};
    auto reference = [&](const grad::Tensors &v) {
      torch::Tensor patches = ref::patchify(v.at("x"), config);
      return grad::Tensors{
          {"patches", patches},
          {"emb", ref::embed(patches, r, v.at("we"), v.at("be"))}};
    };
    std::string what =
        std::string("patchify_embed_") + (isolated ? "isolated" : "context");
    grad::Result result = grad::check(model, what, reference, everyElement());
    grad::report(what, result);
  }
}

//===----------------------------------------------------------------------===//
// float32: the same adjoints compiled for f32 agree with the f64 ones
//===----------------------------------------------------------------------===//

/// Runs `entry` of `artifact` on `values` in the artifact's precision.
grad::Tensors runIn(const rt::Artifact &artifact, const std::string &entry,
                    const grad::Tensors &values, bool f64) {
  rt::TensorMap inputs;
  for (const auto &[name, value] : values)
    inputs[name] = toHost(value, f64);
  auto outputs = artifact.run(entry, inputs);
  if (!outputs.ok()) {
    ADD_FAILURE() << entry << ": " << outputs.error();
    return {};
  }
  grad::Tensors result;
  for (const auto &[name, host] : *outputs)
    result[name] = fromHost(host);
  return result;
}

TEST(GradCheckPatching, Float32AgreesWithFloat64) {
  freshSeed();
  // Values rounded to f32 so that both precisions start from the same data.
  grad::Tensors values = {
      {"x", roundToFloat(torch::randn({2, 3, 8, 6}, f64))},
      {"we", roundToFloat(torch::randn({4, 7}, f64))},
      {"be", roundToFloat(torch::randn({4}, f64))},
      {"y", roundToFloat(torch::randn({2, 4, 3, 4, 3}, f64))}};
  grad::Tensors results[2];
  for (bool f64Model : {false, true}) {
    ModelText model(f64Model);
    model.setDifferentiable();
    std::string x = model.input("x", values["x"]);
    std::string we = model.param("we", values["we"]);
    std::string be = model.param("be", values["be"]);
    std::string y = model.input("y", values["y"]);
    std::vector<int64_t> ps = {2, 4, 7, 6, 5};
    model.line("%p = pce.patchify " + x + " patch [4, 3] radius 1 : " +
               tensorType({2, 3, 8, 6}, f64Model));
    model.line("%e = pce.embed %p, " + we + ", " + be +
               " radius 1 levels [1, 2] : " + tensorType(ps, f64Model) + ", " +
               tensorType({4, 7}, f64Model) + ", " + tensorType({4}, f64Model));
    model.line("%o = pce.unpatchify " + y +
               " grid [2, 2] : " + tensorType({2, 4, 3, 4, 3}, f64Model));
    model.output("emb", "%e", {2, 4, 20});
    model.output("out", "%o", {2, 3, 8, 6});
    std::optional<rt::Artifact> artifact = compile(
        model, std::string("float_agreement_") + (f64Model ? "f64" : "f32"));
    ASSERT_TRUE(artifact);
    grad::Tensors trained = runIn(*artifact, "forward_train", values, f64Model);
    ASSERT_FALSE(trained.empty());
    grad::Tensors inputs = values;
    torch::manual_seed(7); // the same cotangents for both
    inputs["grad.emb"] = roundToFloat(torch::randn({2, 4, 20}, f64));
    inputs["grad.out"] = roundToFloat(torch::randn({2, 3, 8, 6}, f64));
    for (const auto &[name, value] : trained)
      if (name.rfind("saved.", 0) == 0)
        inputs[name] = value;
    results[f64Model] = runIn(*artifact, "forward_backward", inputs, f64Model);
  }
  for (const char *name : {"grad.x", "grad.we", "grad.be", "grad.y"}) {
    ASSERT_TRUE(results[0].count(name) && results[1].count(name)) << name;
    double error = relativeError(results[0][name], results[1][name]);
    report(std::string("f32 backward ") + name, error);
    EXPECT_LE(error, kTolerance) << name;
  }
}

} // namespace
