//===- AgreementExecutionTest.cpp - how compiled code runs, same numbers --===//
//
// Batches split into parallel chunks, parallel and serial loops, fusions on
// and off, transposed reduction inputs: each way of running a compiled layer
// gives the reference's numbers (or the other way's bits).
//
//===----------------------------------------------------------------------===//

#include "test/agreement/Harness.h"
#include "runtime/reference/Layers.h"
#include "runtime/reference/Reference.h"
#include "runtime/ThreadPool.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

using namespace pce;
using namespace pce::agree;

namespace {
auto f64 = torch::kFloat64;
} // namespace

//===----------------------------------------------------------------------===//
// Batches larger than the compiled one run as parallel chunks
//===----------------------------------------------------------------------===//

TEST(Agreement, BatchOfThreeChunksRunsInParallelAndMatches) {
  freshSeed();
  ModelText model;
  std::vector<int64_t> xs = {2, 1, 8, 8};
  std::string x = model.input("x", torch::randn(xs, torch::kFloat64));
  LayerSpec s = LayerSpec::withRouter(ref::RouterKind::Cosine, 1, false);
  BuiltLayer layer = addLayer(model, "layer0", x, xs, s);
  model.output("y", layer.ssa, layer.shape);
  auto artifact = compile(model, "chunks");
  ASSERT_TRUE(artifact);
  artifact->setThreads(2);

  // Six images: three chunks of the compiled batch of two.
  auto six = roundToFloat(torch::randn({6, 1, 8, 8}, torch::kFloat64));
  rt::TensorMap inputs;
  for (const auto &[name, value] : model.values())
    inputs[name] = toHost(name == "x" ? six : value);
  auto outputs = artifact->run("forward", inputs);
  ASSERT_TRUE(outputs.ok()) << outputs.error();
  const rt::HostTensor &y = outputs->at("y");
  ASSERT_EQ(y.shape, (std::vector<int64_t>{6, 4, 8, 8}));
  auto got = fromHost(y);
  auto ref = ref::layer(six, layer.config, layer.params);
  double error = relativeError(got, ref.out);
  report("layer over 3 parallel chunks of the compiled batch", error);
  EXPECT_LE(error, kTolerance);

  // A batch that is not a multiple of the compiled one is refused by name.
  inputs["x"] = *rt::HostTensor::create(rt::DType::F32, {5, 1, 8, 8});
  auto bad = artifact->run("forward", inputs);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("input 'x' expects f32[2,1,8,8], found f32[5,1,8,8] (a batch of "
                             "k*2 items, the same k for every input, runs too)"),
            std::string::npos)
      << bad.error();
}

// pce-outline-parallel-loops: the loops it hands to the runtime's workers
// compute each output element on one thread, in the same order as the
// serial loops, so the results are the same bits; both agree with the
// reference. The library built with parallel-loops=false has no hook.
TEST(Agreement, ParallelLoopsGiveTheSameBitsAsSerialLoops) {
  freshSeed();
  for (int64_t topK : {0, 1}) {
    ModelText model;
    std::vector<int64_t> xs = {3, 5, 12, 16};
    std::string x = model.input("x", torch::randn(xs, f64));
    LayerSpec s = LayerSpec::withRouter(ref::RouterKind::Cosine, topK, false);
    s.outChannels = 10; // two full blocks of 4 channels and a tail of 2
    BuiltLayer layer = addLayer(model, "layer0", x, xs, s);
    model.output("y", layer.ssa, layer.shape);
    std::string tag = "parallel_top" + std::to_string(topK);
    auto parallel = compile(model, tag);
    auto serial = compile(model, tag + "_serial", "--pipeline-options=parallel-loops=false");
    ASSERT_TRUE(parallel && serial);
    auto hasHook = [](const std::string &tag, const rt::Artifact &a) {
      std::string lib = artifactDir(tag) + "/" + a.manifest().library;
      void *handle = ::dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
      bool found = handle && ::dlsym(handle, "pce_parallel_for_hook");
      if (handle)
        ::dlclose(handle);
      return found;
    };
    EXPECT_TRUE(hasHook(tag, *parallel));
    EXPECT_FALSE(hasHook(tag + "_serial", *serial));

    rt::setCompiledLoopThreads(3);
    auto got = run(*parallel, model);
    rt::setCompiledLoopThreads(1);
    auto one = run(*parallel, model);
    auto want = run(*serial, model);
    rt::setCompiledLoopThreads(rt::defaultThreadCount());
    ASSERT_TRUE(got.count("y") && one.count("y") && want.count("y"));
    EXPECT_TRUE(torch::equal(got.at("y"), want.at("y"))) << "top_k " << topK;
    EXPECT_TRUE(torch::equal(one.at("y"), want.at("y"))) << "top_k " << topK;
    auto ref = ref::layer(model.value("x"), layer.config, layer.params);
    double error = relativeError(got.at("y"), ref.out);
    report("layer with parallel loops on 3 threads, top_k " + std::to_string(topK), error);
    EXPECT_LE(error, kTolerance);
  }
}

// pce-fold-batch-norm, pce-fuse-patches and pce-fuse-experts-mix change the
// order of the sums (batch norm scale inside the convolution, the image and
// coordinate channels summed apart), not what is computed: the layer built
// with all of them, with each one switched off and with none agrees with the
// float64 reference, and the builds agree with each other to float rounding.
// Cases: the dense path every fusion applies to, top-1 (sparse dispatch: only
// batch-norm folding applies), an isolated halo (patch fusion does not apply,
// the mix still fuses), affine batch norm with a 5x5 kernel, and a concat mix.
TEST(Agreement, FusionsOnAndOffComputeTheSameLayer) {
  freshSeed();
  struct Case {
    const char *name;
    ref::RouterKind router;
    int64_t topK, k;
    ref::Halo halo;
    bool affine;
    ref::MixKind mix;
  };
  const Case cases[] = {
      {"dense_cosine", ref::RouterKind::Cosine, 0, 3, ref::Halo::Context, false,
       ref::MixKind::Sum},
      {"top1_cosine", ref::RouterKind::Cosine, 1, 3, ref::Halo::Context, false,
       ref::MixKind::Sum},
      {"dense_isolated", ref::RouterKind::Position, 0, 3, ref::Halo::Isolated, false,
       ref::MixKind::Sum},
      {"dense_affine_k5", ref::RouterKind::Uniform, 0, 5, ref::Halo::Context, true,
       ref::MixKind::Sum},
      {"dense_concat", ref::RouterKind::Mlp, 0, 3, ref::Halo::Context, false,
       ref::MixKind::Concat},
  };
  const char *variants[] = {
      "",
      "--pipeline-options=fold-batch-norm=false",
      "--pipeline-options=fuse-patches=false",
      "--pipeline-options=fuse-experts-mix=false",
      "'--pipeline-options=fold-batch-norm=false fuse-patches=false fuse-experts-mix=false'",
  };
  for (const Case &c : cases) {
    ModelText model;
    std::vector<int64_t> xs = {2, 3, 12, 8};
    std::string x = model.input("x", torch::randn(xs, f64));
    LayerSpec s;
    s.router = c.router;
    s.topK = c.topK;
    s.k = c.k;
    s.halo = c.halo;
    s.affineNorm = c.affine;
    s.mix = c.mix;
    s.outChannels = 6;
    BuiltLayer layer = addLayer(model, "layer0", x, xs, s);
    model.output("y", layer.ssa, layer.shape);
    auto ref = ref::layer(model.value("x"), layer.config, layer.params);

    torch::Tensor first;
    for (size_t v = 0; v < std::size(variants); ++v) {
      std::string tag = std::string("fusions_") + c.name + "_" + std::to_string(v);
      auto artifact = compile(model, tag, variants[v]);
      ASSERT_TRUE(artifact) << c.name << " " << variants[v];
      auto got = run(*artifact, model);
      ASSERT_TRUE(got.count("y")) << c.name << " " << variants[v];
      std::string what = std::string(c.name) + " " + (*variants[v] ? variants[v] : "(all fusions)");
      double error = relativeError(got.at("y"), ref.out);
      report(what, error);
      EXPECT_LE(error, kTolerance) << what;
      if (v == 0)
        first = got.at("y");
      else
        EXPECT_LE(relativeError(got.at("y"), first.to(f64)), 1e-5) << what;
    }
  }
}

// pce-vectorize-generics' transpose-inputs vectorizes the embedding's weight
// gradient along result rows through a transposed copy of its input, and
// carries rows of odd widths in pieces: each result element is still summed
// in the loops' order, so the training functions compute the same bits with
// and without it (dense and top-1 layers; every result of forward_train and
// forward_backward).
TEST(Agreement, TransposedReductionInputsGiveTheSameTrainingBits) {
  freshSeed();
  for (int64_t topK : {0, 1}) {
    ModelText model;
    std::vector<int64_t> xs = {2, 5, 16, 16};
    std::string x = model.input("x", torch::randn(xs, f64));
    LayerSpec s = LayerSpec::withRouter(ref::RouterKind::Cosine, topK, false);
    s.outChannels = 6;
    BuiltLayer layer = addLayer(model, "layer0", x, xs, s);
    model.output("y", layer.ssa, layer.shape);
    model.setDifferentiable();
    std::string tag = "transpose_top" + std::to_string(topK);
    auto with = compile(model, tag);
    auto without = compile(model, tag + "_off", "--pipeline-options=transpose-inputs=false");
    ASSERT_TRUE(with && without);

    auto call = [](const rt::Artifact &a, const std::string &entry, const rt::TensorMap &in) {
      auto out = a.run(entry, in);
      EXPECT_TRUE(out.ok()) << entry << ": " << (out.ok() ? "" : out.error());
      return out.ok() ? std::move(*out) : rt::TensorMap{};
    };
    auto same = [&](const rt::TensorMap &a, const rt::TensorMap &b, const std::string &entry) {
      ASSERT_EQ(a.size(), b.size()) << entry;
      for (const auto &[name, t] : a) {
        ASSERT_TRUE(b.count(name)) << entry << " " << name;
        EXPECT_TRUE(t.data.size() == b.at(name).data.size() &&
                    std::memcmp(t.data.data(), b.at(name).data.data(), t.nbytes()) == 0)
            << entry << " result " << name << " differs, top_k " << topK;
      }
    };
    rt::TensorMap inputs;
    for (const auto &[name, value] : model.values())
      inputs[name] = toHost(value);
    rt::TensorMap trained = call(*with, "forward_train", inputs);
    same(trained, call(*without, "forward_train", inputs), "forward_train");

    // The backward with random cotangents and the forward's saved values.
    const rt::EntryPoint *backward = with->manifest().findEntry("forward_backward");
    ASSERT_TRUE(backward);
    rt::TensorMap bwd;
    for (const rt::BufferSpec &a : backward->arguments) {
      if (a.name.rfind("grad.", 0) == 0)
        bwd[a.name] = toHost(torch::randn(a.shape, f64));
      else if (trained.count(a.name))
        bwd[a.name] = trained.at(a.name);
      else if (inputs.count(a.name))
        bwd[a.name] = inputs.at(a.name);
    }
    rt::TensorMap grads = call(*with, "forward_backward", bwd);
    EXPECT_FALSE(grads.empty());
    same(grads, call(*without, "forward_backward", bwd), "forward_backward");
  }
}
