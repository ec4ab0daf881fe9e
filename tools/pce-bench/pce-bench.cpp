//===- pce-bench.cpp - compiled PCE layers against LibTorch, as ratios ----===//
//
// Compiles PCE layers of one configurable shape with the compile API (what
// pce-compile runs, in this process), runs them through the runtime and times them
// against LibTorch baselines. Every ratio is measured in one loop that
// alternates candidate and baseline after a warm-up, and reported as the
// ratio of medians: the machine is shared and noisy, so only comparisons made
// side by side mean anything. docs/BENCHMARKS.md has the targets and results.
//
//   R1  compiled top-1 PCE layer / one dense LibTorch Conv-BN-ReLU (C -> Co)
//   R2  compiled dense (top_k 0) PCE layer / naive eager float32 LibTorch PCE
//   R3  compiled pce.experts GFLOP/s / the fp32 FMA peak measured here
//   R4  compiled training step (forward_train + forward_backward of a
//       pce.differentiable layer) / eager LibTorch forward + backward()
//   R5  R1's layer compiled for CUDA on GPU 0 (needs a GPU; the PyTorch side
//       is tools/pce-bench/r5_torch.py, run with the compiled time)
//   compile time of examples/fashion_pce.mlir (the compile API, in process)
//
//===----------------------------------------------------------------------===//

#include "runtime/reference/Layers.h"
#include "runtime/reference/ModelText.h"
#include "runtime/reference/Reference.h"
#include "tools/pce-bench/Baselines.h"
#include "tools/pce-bench/FmaPeak.h"
#include "tools/pce-bench/Measure.h"
#include "tools/pce-bench/Models.h"
#include "tools/pce-bench/Options.h"
#include "tools/pce-bench/Report.h"
#include "tools/pce-bench/Training.h"

#include "runtime/Artifact.h"
#include "runtime/CompiledCuda.h"
#include "runtime/ThreadPool.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using namespace pce;
using namespace pce::bench;

/// Runs `argv` (argv[0] found on PATH) with stdout and stderr into `output`;
/// returns its exit status, -1 when it could not run.
static int runPython(const std::vector<std::string> &argv, std::string &output) {
  auto program = llvm::sys::findProgramByName(argv[0]);
  if (!program) {
    output = argv[0] + ": not found\n";
    return -1;
  }
  llvm::SmallString<128> log;
  if (llvm::sys::fs::createTemporaryFile("pce-bench-r5", "log", log)) {
    output = "cannot create a temporary file\n";
    return -1;
  }
  std::vector<llvm::StringRef> args(argv.begin(), argv.end());
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, log.str(), log.str()};
  int rc = llvm::sys::ExecuteAndWait(*program, args, std::nullopt, redirects);
  if (auto text = llvm::MemoryBuffer::getFile(log))
    output = (*text)->getBuffer().str();
  llvm::sys::fs::remove(log);
  return rc;
}

int main(int argc, char **argv) {
  Options opt = parseOptions(argc, argv);
  Context ctx{opt, {}};
  bool temporaryWorkDir = opt.workDir.empty();
  ctx.workDir = temporaryWorkDir ? fs::temp_directory_path() /
                                       ("pce-bench-" + std::to_string(getpid()))
                                 : fs::path(opt.workDir);
  fs::create_directories(ctx.workDir);

  const int64_t B = opt.batch, C = opt.channels, H = opt.height, W = opt.width;
  const int64_t E = opt.experts, Co = opt.outChannels, k = opt.kernel, r = k / 2;
  const int64_t P = (H / opt.ph) * (W / opt.pw), Cin = C + 4;
  const int64_t hp = opt.ph + 2 * r, wp = opt.pw + 2 * r;
  const int T = opt.threads;
  const int64_t chunk = B / T; // the compiled batch: one chunk per runtime thread

  torch::manual_seed(opt.seed);
  at::set_num_threads(T);
  c10::InferenceMode inference; // eager baselines without autograd bookkeeping

  std::printf("pce-bench: %u hardware threads, %s\n", std::thread::hardware_concurrency(),
              cpuModel().c_str());
  std::printf("layer: B=%lld C=%lld %lldx%lld image, %lldx%lld patches (P=%lld), E=%lld, "
              "Co=%lld, k=%lld, float32\n",
              (long long)B, (long long)C, (long long)H, (long long)W, (long long)opt.ph,
              (long long)opt.pw, (long long)P, (long long)E, (long long)Co, (long long)k);
  std::printf("threads: compiled = artifacts compiled for batch %lld, %lld items run as %lld "
              "chunks on %d runtime threads; LibTorch = at::set_num_threads(%d) (intra-op)\n",
              (long long)chunk, (long long)B, (long long)(B / chunk), T, T);
  std::printf("timing: medians of %d alternating calls per side after %d warm-up calls\n\n",
              opt.repeats, opt.warmup);

  //===--------------------------------------------------------------------===//
  // Models: one layer (top-1 and dense) and the experts alone, each compiled
  // for one chunk, all fed B items.
  //===--------------------------------------------------------------------===//
  auto xFull = torch::randn({B, C, H, W});
  rt::TensorMap layerInputs{{"x", agree::toHost(xFull)}};
  auto xChunk = xFull.slice(0, 0, chunk).to(torch::kFloat64);

  agree::LayerSpec spec = layerSpec(opt);

  struct Layer {
    agree::ModelText model;
    agree::BuiltLayer built;
    std::unique_ptr<Compiled> compiled;
    bench::EagerPceLayer eager;
  };
  auto makeLayer = [&](int64_t topK, const std::string &tag) {
    auto layer = std::make_unique<Layer>();
    spec.topK = topK;
    std::string x = layer->model.input("x", xChunk);
    layer->built = agree::addLayer(layer->model, "layer0", x, {chunk, C, H, W}, spec);
    layer->model.output("out", layer->built.ssa, layer->built.shape);
    layer->compiled = std::make_unique<Compiled>(compileModel(ctx, layer->model, tag, "x"));
    const ref::LayerParams &p = layer->built.params;
    auto f32 = [](const torch::Tensor &t) { return t.to(torch::kFloat32); };
    bench::EagerPceLayer &e = layer->eager;
    e.ph = opt.ph;
    e.pw = opt.pw;
    e.k = k;
    e.levels = layer->built.config.embed.levels;
    e.tau = layer->built.config.router.tau;
    e.topK = topK;
    e.We = f32(p.We);
    e.be = f32(p.be);
    e.keys = f32(p.router.keys);
    e.kernels = f32(p.experts.kernels);
    e.gamma = f32(p.experts.gamma);
    e.beta = f32(p.experts.beta);
    e.runningMean = f32(p.experts.runningMean);
    e.runningVar = f32(p.experts.runningVar);
    e.setCoordinates(H, W);
    return layer;
  };
  // R1-R3 (and the breakdown) share these models: built only when one runs.
  // R5 uses R1's layer.
  if (opt.wants("r1") || opt.wants("r2") || opt.wants("r3") || opt.wants("r5")) {
    auto top1 = makeLayer(1, "layer_top1");
    auto dense = makeLayer(0, "layer_dense");
    // Both layers again without the fusion passes, for R1's and R2's context.
    compile::CompileOptions kNoFusions;
    kNoFusions.pipelineOptions = "fold-batch-norm=false fuse-patches=false fuse-experts-mix=false";
    std::unique_ptr<Compiled> top1Unfused, denseUnfused;
    if (opt.wants("r1"))
      top1Unfused = std::make_unique<Compiled>(
          compileModel(ctx, top1->model, "layer_top1_unfused", "x", kNoFusions));
    if (opt.wants("r2"))
      denseUnfused = std::make_unique<Compiled>(
          compileModel(ctx, dense->model, "layer_dense_unfused", "x", kNoFusions));

    // pce.experts alone on patches, the convolution R3 measures.
    agree::ModelText expertsModel;
    std::vector<int64_t> patchShape = {chunk, P, Cin, hp, wp};
    auto patchesFull = torch::randn({B, P, Cin, hp, wp});
    rt::TensorMap expertsInputs{{"patches", agree::toHost(patchesFull)}};
    ref::ExpertParams ep;
    {
      auto f64 = torch::kFloat64;
      std::string p = expertsModel.input("patches", patchesFull.slice(0, 0, chunk).to(f64));
      std::string kern = expertsModel.param(
          "kernels", torch::randn({E, Co, Cin, k, k}, f64) / std::sqrt(double(Cin * k * k)));
      std::string g = expertsModel.param("gamma", 1 + 0.3 * torch::randn({E, Co}, f64));
      std::string b = expertsModel.param("beta", 0.2 * torch::randn({E, Co}, f64));
      std::string m = expertsModel.param("mean", 0.2 * torch::randn({E, Co}, f64));
      std::string v = expertsModel.param("var", 0.5 + torch::rand({E, Co}, f64));
      std::string ec = agree::tensorType({E, Co});
      expertsModel.line("%y = pce.experts " + p + ", " + kern + " bn(" + g + ", " + b + ", " +
                        m + ", " + v + " : " + ec + ", " + ec + ", " + ec + ", " + ec + ") : " +
                        agree::tensorType(patchShape) + ", " +
                        agree::tensorType({E, Co, Cin, k, k}));
      expertsModel.output("y", "%y", {chunk, P, E, Co, opt.ph, opt.pw});
      ep.kernels = expertsModel.value("kernels");
      ep.gamma = expertsModel.value("gamma");
      ep.beta = expertsModel.value("beta");
      ep.runningMean = expertsModel.value("mean");
      ep.runningVar = expertsModel.value("var");
    }
    Compiled expertsCompiled = compileModel(ctx, expertsModel, "experts", "patches");

    // Baselines.
    auto convBnRelu = bench::ConvBnRelu::random(C, Co, k);
    // R3's context: LibTorch's conv2d doing exactly pce.experts' convolution
    // (every patch an image, every (expert, channel) a filter), same FLOPs.
    auto patchImages = patchesFull.reshape({B * P, Cin, hp, wp});
    auto expertFilters = ep.kernels.to(torch::kFloat32).reshape({E * Co, Cin, k, k});

    //===--------------------------------------------------------------------===//
    // Checks: the timed code computes the right thing (first chunk against the
    // float64 reference; SEMANTICS.md §6 tolerance).
    //===--------------------------------------------------------------------===//
    auto firstChunk = [&](const rt::HostTensor &h) {
      return agree::fromHost(h).slice(0, 0, chunk);
    };
    for (Layer *layer : {top1.get(), dense.get()}) {
      std::string name = layer == top1.get() ? "top-1" : "dense";
      auto want = ref::layer(xChunk, layer->built.config, layer->built.params).out;
      check("compiled " + name + " layer vs float64 reference",
            agree::relativeError(firstChunk(runCompiled(*layer->compiled, layerInputs, "out")),
                                 want));
      check("eager " + name + " layer vs float64 reference",
            agree::relativeError(layer->eager.forward(xChunk.to(torch::kFloat32))
                                     .to(torch::kFloat64),
                                 want));
    }
    if (top1Unfused)
      check("compiled top-1 layer without fusions vs float64 reference",
            agree::relativeError(firstChunk(runCompiled(*top1Unfused, layerInputs, "out")),
                                 ref::layer(xChunk, top1->built.config, top1->built.params).out));
    if (denseUnfused)
      check("compiled dense layer without fusions vs float64 reference",
            agree::relativeError(firstChunk(runCompiled(*denseUnfused, layerInputs, "out")),
                                 ref::layer(xChunk, dense->built.config, dense->built.params).out));
    check("compiled experts vs float64 reference",
          agree::relativeError(
              firstChunk(runCompiled(expertsCompiled, expertsInputs, "y")),
              ref::experts(expertsModel.value("patches"), ep, false).y));
    std::printf("\n");

    //===--------------------------------------------------------------------===//
    // R5: R1's layer compiled for CUDA, on GPU 0, and the PyTorch side
    // (r5_torch.py: eager, torch.compile, cuDNN conv at equal FLOPs) with the
    // same shape, given the compiled time.
    //===--------------------------------------------------------------------===//
    if (opt.wants("r5")) {
      if (!rt::cuda::cudaAvailable()) {
        std::printf("R5  not available on this machine: %s\n\n",
                    rt::cuda::cudaUnavailableReason().c_str());
      } else {
        compile::CompileOptions cuda;
        cuda.target = compile::Target::Cuda;
        Compiled gpu = compileModel(ctx, top1->model, "layer_top1_cuda", "x", cuda);
        auto want = ref::layer(xChunk, top1->built.config, top1->built.params).out;
        check("compiled top-1 layer on the GPU vs float64 reference",
              agree::relativeError(firstChunk(runCompiled(gpu, layerInputs, "out")), want));
        auto r5 = timeAlternating({[&] { runCompiled(gpu, layerInputs, "out"); }}, opt.warmup,
                                  opt.repeats);
        std::string device = (*rt::cuda::compiledCodeContext())->description();
        std::printf("R5  compiled top-1 layer on %s: %.3f ms per batch of %lld (arguments and "
                    "results copied through managed memory on every call)\n",
                    device.c_str(), r5[0].wallMs, (long long)B);
        auto arg = [](auto v) { return std::to_string(v); };
        std::vector<std::string> command = {
            "python3", std::string(PCE_SOURCE_DIR) + "/tools/pce-bench/r5_torch.py",
            "--device", "cuda", "--batch", arg((long long)B), "--channels", arg((long long)C),
            "--image", arg((long long)H), "--patch", arg((long long)opt.ph),
            "--experts", arg((long long)E), "--out-channels", arg((long long)Co),
            "--kernel", arg((long long)k), "--top-k", "1",
            "--compiled-ms", llvm::formatv("{0:F4}", r5[0].wallMs).str()};
        std::string output;
        int rc = runPython(command, output);
        std::printf("    %s\n%s%s\n", llvm::join(command, " ").c_str(), output.c_str(),
                    rc == 0 ? "" : "    (r5_torch.py failed: R5's ratios are missing)");
      }
    }

    //===--------------------------------------------------------------------===//
    // R1, R2: whole layers.
    //===--------------------------------------------------------------------===//
    auto compiledLayer = [&](const Layer &l) {
      return [&] { runCompiled(*l.compiled, layerInputs, "out"); };
    };
    if (opt.wants("r1")) {
      auto r1 = timeAlternating({compiledLayer(*top1), [&] { convBnRelu.forward(xFull); },
                                 [&] { runCompiled(*top1Unfused, layerInputs, "out"); }},
                                opt.warmup, opt.repeats);
      double ratio1 = r1[0].wallMs / r1[1].wallMs;
      std::printf("R1  compiled %.2f ms / torch %.2f ms = %.2f  (target <= 1.3: %s)\n",
                  r1[0].wallMs, r1[1].wallMs, ratio1, verdict(ratio1, 1.3, true).c_str());
      std::printf("    without pce-fold-batch-norm and patch fusion (sparse dispatch reading "
                  "patches): %.2f ms; fused / unfused = %.2f\n",
                  r1[2].wallMs, r1[0].wallMs / r1[2].wallMs);
      std::printf("    compiled: top-1 cosine-routed PCE layer; torch: conv2d + batch_norm "
                  "(inference) + relu, %lld -> %lld channels, k=%lld, padding %lld\n",
                  (long long)C, (long long)Co, (long long)k, (long long)r);
    }

    if (opt.wants("r2")) {
      auto r2 = timeAlternating({compiledLayer(*dense), [&] { dense->eager.forward(xFull); },
                                 [&] { runCompiled(*denseUnfused, layerInputs, "out"); }},
                                opt.warmup, opt.repeats);
      double ratio2 = r2[0].wallMs / r2[1].wallMs;
      std::printf("R2  compiled %.2f ms / eager %.2f ms = %.2f  (target <= 0.25: %s)\n",
                  r2[0].wallMs, r2[1].wallMs, ratio2, verdict(ratio2, 0.25, true).c_str());
      std::printf("    without pce-fold-batch-norm, pce-fuse-patches, pce-fuse-experts-mix: "
                  "%.2f ms; fused / unfused = %.2f\n",
                  r2[2].wallMs, r2[0].wallMs / r2[2].wallMs);
      std::printf("    compiled: dense (top_k 0) layer, E=%lld; eager: SEMANTICS.md in float32 "
                  "LibTorch ops (pad+unfold patchify, 1x1 conv + adaptive_max_pool2d embed, "
                  "cosine softmax, %lld separate conv2d+batch_norm+relu experts over all patches, "
                  "weighted sum, permute unpatchify)\n",
                  (long long)E, (long long)E);
    }

    if (opt.wants("r3")) {
      //===--------------------------------------------------------------------===//
      // R3: the expert convolution alone against the measured FMA peak.
      //===--------------------------------------------------------------------===//
      const double flops = 2.0 * double(B) * P * E * Co * Cin * k * k * opt.ph * opt.pw;
      auto compiledExperts = [&] { runCompiled(expertsCompiled, expertsInputs, "y"); };
      // The FMA calls last about as long as a compiled call (at least 30 ms), so
      // both see other tenants' load alike.
      double target = 0.030;
      {
        auto start = std::chrono::steady_clock::now();
        compiledExperts();
        target = std::max(target, std::min(1.0, std::chrono::duration<double>(
                                                     std::chrono::steady_clock::now() - start)
                                                     .count()));
    }
    std::string fmaKernel = bench::fmaKernelName(); // picks the kernel: not timed below
    long fmaIterations = 1 << 20;
    {
      auto start = std::chrono::steady_clock::now();
      bench::measureFmaGflops(T, fmaIterations);
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      fmaIterations = std::max(1L << 16, long(fmaIterations * target / std::max(s, 1e-6)));
    }
    std::vector<double> peaks;
    double peakFlops = 0; // FLOPs of one FMA call, for the CPU-time rate
    auto r3 = timeAlternating(
        {compiledExperts, [&] { torch::conv2d(patchImages, expertFilters); },
         [&] {
           auto start = std::chrono::steady_clock::now();
           double gflops = bench::measureFmaGflops(T, fmaIterations);
           double s =
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
           peaks.push_back(gflops);
           peakFlops = gflops * 1e9 * s;
         }},
        opt.warmup, opt.repeats);
    auto gflopsOf = [](double f, double ms) { return f / (ms * 1e-3) * 1e-9; };
    double peak = gflopsOf(peakFlops, r3[2].wallMs);
    double compiledGflops = gflopsOf(flops, r3[0].wallMs);
    double torchGflops = gflopsOf(flops, r3[1].wallMs);
    std::printf("R3  compiled experts %.2f GFLOP/s / FMA peak %.2f GFLOP/s = %.2f  "
                "(target >= 0.6: %s)\n",
                compiledGflops, peak, compiledGflops / peak,
                verdict(compiledGflops / peak, 0.6, false).c_str());
    std::printf("    FLOPs 2*B*P*E*Co*(C+4)*k*k*ph*pw = %.3f GFLOP; compiled pce.experts "
                "(bn, relu) %.2f ms; peak: %s on %d threads, %.0f ms calls (best call %.2f "
                "GFLOP/s)\n",
                flops * 1e-9, r3[0].wallMs, fmaKernel.c_str(), T, r3[2].wallMs,
                *std::max_element(peaks.begin(), peaks.end()));
    // Rates per second of CPU time our threads actually got (the runtime's
    // threads and the FMA threads block when idle, they do not spin): what a
    // core does while it runs, so this ratio does not depend on how much of the
    // machine other tenants took during the run.
    double compiledCpu = gflopsOf(flops, r3[0].cpuMs), peakCpu = gflopsOf(peakFlops, r3[2].cpuMs);
    std::printf("    per CPU-second (other tenants' load cancels): compiled %.2f / peak %.2f "
                "GFLOP per CPU-s = %.2f\n",
                compiledCpu, peakCpu, compiledCpu / peakCpu);
    std::printf("    context: LibTorch conv2d of the same convolution (%lld patch images, "
                "%lld filters) %.2f ms = %.2f GFLOP/s (%.2f of peak)\n",
                (long long)(B * P), (long long)(E * Co), r3[1].wallMs, torchGflops,
                torchGflops / peak);

    //===--------------------------------------------------------------------===//
    // Where the compiled layer's time goes: same loop, so comparable.
    //===--------------------------------------------------------------------===//
    auto parts = timeAlternating(
        {compiledLayer(*top1), compiledLayer(*dense),
         [&] { runCompiled(expertsCompiled, expertsInputs, "y"); }},
        opt.warmup, opt.repeats);
    std::printf("    breakdown (one loop): compiled top-1 layer %.2f ms, dense layer %.2f ms, "
                "pce.experts alone %.2f ms (%.0f%% of the top-1 layer)\n",
                parts[0].wallMs, parts[1].wallMs, parts[2].wallMs,
                100 * parts[2].wallMs / parts[0].wallMs);
    } // r3
  } // r1-r3

  //===--------------------------------------------------------------------===//
  // R4, R5, compile time.
  //===--------------------------------------------------------------------===//
  if (opt.wants("r4")) {
    // The same router as R2 (dense), then the top-1 cosine variant.
    benchTraining(ctx, xFull, /*topK=*/0, "train_dense");
    benchTraining(ctx, xFull, /*topK=*/1, "train_top1");
  }

  fs::path compileModelPath = opt.compileModel.empty()
                                  ? fs::path(PCE_SOURCE_DIR) / "examples/fashion_pce.mlir"
                                  : fs::path(opt.compileModel);
  if (!opt.wants("compile")) {
    // not asked for
  } else if (opt.compileRuns == 0) {
    std::printf("compile  skipped (--compile-runs 0)\n");
  } else if (!fs::exists(compileModelPath)) {
    std::printf("compile  skipped: no %s (pass --compile-model)\n",
                compileModelPath.string().c_str());
  } else {
    // One untimed run first, so the libraries are in the page cache.
    runCompiler(compileModelPath, ctx.workDir / "compile-time");
    std::vector<double> seconds;
    for (int i = 0; i < opt.compileRuns; ++i)
      seconds.push_back(runCompiler(compileModelPath,
                                    ctx.workDir / ("compile-time" + std::to_string(i))));
    double s = median(seconds);
    std::printf("compile  %s --target cpu, in process: %.2f s  (median of %d; target < 1.5 s: "
                "%s)\n",
                compileModelPath.filename().string().c_str(), s, opt.compileRuns,
                s < 1.5 ? "met" : verdict(s, 1.5, true).c_str());
  }

  if (temporaryWorkDir)
    fs::remove_all(ctx.workDir);
  else
    std::printf("\nartifacts and model sources kept in %s\n", ctx.workDir.string().c_str());
  return 0;
}

