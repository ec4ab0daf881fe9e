//===- pce-bench.cpp - compiled PCE layers against LibTorch, as ratios ----===//
//
// Compiles PCE layers of one configurable shape with the real pce-compile (the
// one next to this binary), runs them through the runtime and times them
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
//   compile time of pce-compile examples/fashion_pce.mlir
//
//===----------------------------------------------------------------------===//

#include "test/agreement/Harness.h"
#include "test/agreement/Layers.h"
#include "test/reference/Reference.h"
#include "tools/pce-bench/Baselines.h"
#include "tools/pce-bench/FmaPeak.h"

#include "runtime/Artifact.h"
#include "runtime/CompiledCuda.h"
#include "runtime/ThreadPool.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <thread>
#include <time.h>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using namespace pce;

namespace {

//===----------------------------------------------------------------------===//
// Options
//===----------------------------------------------------------------------===//

struct Options {
  int64_t batch = 64, channels = 32, height = 32, width = 32;
  int64_t ph = 8, pw = 8, experts = 4, outChannels = 32, kernel = 3;
  int repeats = 20, warmup = 3, threads = 0, compileRuns = 3;
  uint64_t seed = 0;
  std::string workDir, compiler, compileModel;
  std::string only; ///< comma-separated parts to run (r1,...,r5,compile); empty: all

  bool wants(const std::string &part) const {
    if (only.empty())
      return true;
    std::string list = "," + only + ",";
    return list.find("," + part + ",") != std::string::npos;
  }
};

const char *kUsage = R"(usage: pce-bench [options]

Times compiled PCE layers against LibTorch (docs/BENCHMARKS.md).

layer shape (float32):
  --batch N          items per timed call (default 64)
  --channels C       input channels (default 32)
  --image N          height and width (default 32); or --height H, --width W
  --patch N          patch height and width (default 8); or --patch-h, --patch-w
  --experts E        experts (default 4)
  --out-channels Co  output channels (default 32)
  --kernel k         expert kernel size, odd (default 3)
timing:
  --repeats N        timed calls of each side, medians reported (default 20)
  --warmup N         untimed calls of each side first (default 3)
  --threads N        threads for both sides (default: every hardware thread);
                     --batch must be a multiple of it
  --compile-runs N   pce-compile runs for the compile-time line (default 3)
other:
  --seed N           LibTorch seed of the random parameters (default 0)
  --work-dir DIR     keep the compiled artifacts here (default: a temporary
                     directory, removed at exit)
  --pce-compile PATH the compiler (default: pce-compile next to pce-bench)
  --compile-model F  model for the compile-time line
                     (default: examples/fashion_pce.mlir of the source tree)
  --only LIST        run only these parts, comma-separated: r1,r2,r3,r4,r5,compile
                     (default: all; r3 includes the breakdown line)
  --help             this text
)";

[[noreturn]] void usageError(const std::string &message) {
  std::cerr << "pce-bench: " << message << "\n(see pce-bench --help)\n";
  std::exit(2);
}

[[noreturn]] void fail(const std::string &message) {
  std::cerr << "pce-bench: " << message << "\n";
  std::exit(1);
}

int64_t parseInt(const std::string &flag, const std::string &text, int64_t min) {
  char *end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end || v < min)
    usageError(flag + " expects an integer >= " + std::to_string(min) + ", got '" +
               text + "'");
  return v;
}

Options parseOptions(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i], value;
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    }
    // --flag=value or --flag value.
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      usageError(arg + " needs a value");
    }
    auto num = [&](int64_t min) { return parseInt(arg, value, min); };
    if (arg == "--batch") o.batch = num(1);
    else if (arg == "--channels") o.channels = num(1);
    else if (arg == "--image") o.height = o.width = num(1);
    else if (arg == "--height") o.height = num(1);
    else if (arg == "--width") o.width = num(1);
    else if (arg == "--patch") o.ph = o.pw = num(1);
    else if (arg == "--patch-h") o.ph = num(1);
    else if (arg == "--patch-w") o.pw = num(1);
    else if (arg == "--experts") o.experts = num(1);
    else if (arg == "--out-channels") o.outChannels = num(1);
    else if (arg == "--kernel") o.kernel = num(1);
    else if (arg == "--repeats") o.repeats = int(num(1));
    else if (arg == "--warmup") o.warmup = int(num(0));
    else if (arg == "--threads") o.threads = int(num(1));
    else if (arg == "--compile-runs") o.compileRuns = int(num(0));
    else if (arg == "--seed") o.seed = uint64_t(num(0));
    else if (arg == "--work-dir") o.workDir = value;
    else if (arg == "--pce-compile") o.compiler = value;
    else if (arg == "--compile-model") o.compileModel = value;
    else if (arg == "--only") o.only = value;
    else usageError("unknown option '" + arg + "'");
  }
  for (size_t start = 0; !o.only.empty() && start <= o.only.size();) {
    size_t end = std::min(o.only.find(',', start), o.only.size());
    std::string part = o.only.substr(start, end - start);
    if (part != "r1" && part != "r2" && part != "r3" && part != "r4" && part != "r5" &&
        part != "compile")
      usageError("--only: unknown part '" + part + "' (r1, r2, r3, r4, r5, compile)");
    start = end + 1;
  }
  if (o.threads == 0)
    o.threads = int(std::max(1u, std::thread::hardware_concurrency()));
  if (o.height % o.ph || o.width % o.pw)
    usageError("the image (" + std::to_string(o.height) + "x" + std::to_string(o.width) +
               ") must be a whole number of patches (" + std::to_string(o.ph) + "x" +
               std::to_string(o.pw) + ")");
  if (o.kernel % 2 == 0)
    usageError("--kernel must be odd");
  if (o.batch % o.threads)
    usageError("--batch " + std::to_string(o.batch) + " must be a multiple of --threads " +
               std::to_string(o.threads) + " (each thread runs one compiled chunk)");
  return o;
}

//===----------------------------------------------------------------------===//
// The machine
//===----------------------------------------------------------------------===//

std::string cpuModel() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0)
      return line.substr(line.find(':') + 2);
  return "unknown";
}

//===----------------------------------------------------------------------===//
// Timing
//===----------------------------------------------------------------------===//

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// Median wall time and median process CPU time (every thread) of one side.
struct Timing {
  double wallMs = 0, cpuMs = 0;
};

double processCpuMs() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

/// Runs every function `warmup` times untimed, then `repeats` rounds in which
/// each runs once, timed; the order rotates each round so no side always
/// runs right after the same neighbour.
std::vector<Timing> timeAlternating(const std::vector<std::function<void()>> &fns,
                                    int warmup, int repeats) {
  for (int i = 0; i < warmup; ++i)
    for (const auto &f : fns)
      f();
  std::vector<std::vector<double>> wall(fns.size()), cpu(fns.size());
  for (int i = 0; i < repeats; ++i)
    for (size_t j = 0; j < fns.size(); ++j) {
      size_t f = (i + j) % fns.size();
      double cpuStart = processCpuMs();
      auto start = std::chrono::steady_clock::now();
      fns[f]();
      wall[f].push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count());
      cpu[f].push_back(processCpuMs() - cpuStart);
    }
  std::vector<Timing> medians;
  for (size_t f = 0; f < fns.size(); ++f)
    medians.push_back({median(wall[f]), median(cpu[f])});
  return medians;
}

//===----------------------------------------------------------------------===//
// Compiling and running models
//===----------------------------------------------------------------------===//

struct Context {
  Options opt;
  fs::path workDir, compiler;
};

/// pce-compile `source` into `dir`; returns the wall time in seconds.
double runCompiler(const Context &ctx, const fs::path &source, const fs::path &dir,
                   const std::string &flags = "") {
  std::string output;
  std::string target = flags.find("--target") == std::string::npos ? " --target cpu" : "";
  std::string command = ctx.compiler.string() + " " + source.string() + target + " -o " +
                        dir.string() + " " + flags;
  auto start = std::chrono::steady_clock::now();
  int rc = agree::runCommand(command, output);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (rc != 0)
    fail("pce-compile failed (" + command + "):\n" + output);
  return seconds;
}

/// A compiled model with its parameters bound.
struct Compiled {
  rt::Artifact artifact;
};

Compiled compileModel(const Context &ctx, const agree::ModelText &model,
                      const std::string &tag, const std::string &inputName,
                      const std::string &flags = "") {
  fs::path dir = ctx.workDir / tag;
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::path source = dir / "model.mlir";
  std::ofstream(source) << model.text();
  runCompiler(ctx, source, dir / "artifact", flags);
  auto artifact = rt::Artifact::open((dir / "artifact").string());
  if (!artifact)
    fail(artifact.error());
  for (const auto &[name, value] : model.values())
    if (name != inputName)
      if (rt::Status s = artifact->bindParameter(name, agree::toHost(value)); !s)
        fail(s.message());
  artifact->setThreads(ctx.opt.threads);
  rt::setCompiledLoopThreads(ctx.opt.threads);
  return {std::move(*artifact)};
}

/// Runs `forward` on `inputs` and returns result `name`.
rt::HostTensor runCompiled(const Compiled &c, const rt::TensorMap &inputs,
                           const std::string &name) {
  auto out = c.artifact.run("forward", inputs);
  if (!out)
    fail(out.error());
  return std::move(out->at(name));
}

//===----------------------------------------------------------------------===//
// Reporting
//===----------------------------------------------------------------------===//

/// "met", or "missed by 3.46x" (how far the ratio is from the target).
std::string verdict(double ratio, double target, bool atMost) {
  bool met = atMost ? ratio <= target : ratio >= target;
  if (met)
    return "met";
  char buf[64];
  std::snprintf(buf, sizeof buf, "missed by %.2fx", atMost ? ratio / target : target / ratio);
  return buf;
}

void check(const std::string &what, double error) {
  std::printf("check  %-44s relative error %.2e  (%s)\n", what.c_str(), error,
              error <= agree::kTolerance ? "ok" : "MISMATCH: timings below are suspect");
}

//===----------------------------------------------------------------------===//
// R4: one training step
//===----------------------------------------------------------------------===//

bool startsWith(const std::string &s, const std::string &prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

const rt::EntryPoint *findEntry(const rt::Artifact &artifact, const std::string &name) {
  for (const rt::EntryPoint &e : artifact.manifest().entryPoints)
    if (e.name == name)
      return &e;
  return nullptr;
}

/// The benchmark layer of the options (cosine router, dense unless changed).
agree::LayerSpec layerSpec(const Options &opt) {
  agree::LayerSpec spec;
  spec.ph = opt.ph;
  spec.pw = opt.pw;
  spec.k = opt.kernel;
  spec.experts = opt.experts;
  spec.outChannels = opt.outChannels;
  spec.router = ref::RouterKind::Cosine;
  return spec;
}

double msSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

/// Median of `v` without its first `skip` entries (the warm-up calls).
double medianAfter(const std::vector<double> &v, size_t skip) {
  if (v.size() <= skip)
    return std::nan("");
  return median(std::vector<double>(v.begin() + skip, v.end()));
}

/// R4 for one router (`topK` 0: dense, as R2; 1: top-1). The compiled side is
/// the layer as a `pce.differentiable` model compiled for the whole batch (the
/// batch statistics of training BN couple the items, so the batch is one call,
/// whose parallel loops run on the runtime's threads): one `forward_train`
/// call, then one
/// `forward_backward` call with its `saved.*` values, a random cotangent of
/// `out` and zero cotangents for the other results. The baseline is R2's eager
/// layer in training mode (batch-statistic BN), `forward` + `backward()` of
/// `sum(out * cotangent)` with x and every parameter requiring grad, on the
/// LibTorch threads of the other lines and, as a third side, on one thread.
void benchTraining(const Context &ctx, const torch::Tensor &xInference, int64_t topK,
                   const std::string &tag) {
  const Options &opt = ctx.opt;
  c10::InferenceMode autograd(false); // the eager side needs autograd
  const int64_t B = opt.batch, C = opt.channels, H = opt.height, W = opt.width;
  const int64_t E = opt.experts, Co = opt.outChannels, k = opt.kernel;
  const int64_t P = (H / opt.ph) * (W / opt.pw), Cin = C + 4;
  const int T = opt.threads;
  const std::string router = topK == 0 ? "dense" : "top-" + std::to_string(topK);
  torch::Tensor x = xInference.clone(); // a normal tensor: autograd may save it

  agree::ModelText model;
  model.setDifferentiable();
  agree::LayerSpec spec = layerSpec(opt);
  spec.topK = topK;
  std::string xs = model.input("x", x.to(torch::kFloat64));
  agree::BuiltLayer built = agree::addLayer(model, "layer0", xs, {B, C, H, W}, spec);
  model.output("out", built.ssa, built.shape);
  auto compileStart = std::chrono::steady_clock::now();
  Compiled compiled = compileModel(ctx, model, tag, "x");
  double compileS = msSince(compileStart) * 1e-3;
  const rt::Artifact &artifact = compiled.artifact;
  const rt::EntryPoint *train = findEntry(artifact, "forward_train");
  const rt::EntryPoint *backward = findEntry(artifact, "forward_backward");
  if (!train || !backward) {
    std::printf("R4  %s: not available (the artifact lacks forward_train or "
                "forward_backward)\n",
                router.c_str());
    return;
  }

  // Inputs of the two entry points; the parameters are bound.
  torch::Tensor cotangent = torch::randn({B, Co, H, W});
  rt::TensorMap trainInputs, backwardInputs;
  for (const rt::BufferSpec &a : train->arguments) {
    if (a.kind != rt::ArgKind::Input)
      continue;
    std::vector<int64_t> shape(a.shape.begin(), a.shape.end());
    if (a.name == "x")
      trainInputs[a.name] = agree::toHost(x);
    else if (startsWith(a.name, "noise."))
      trainInputs[a.name] = agree::toHost(
          a.name.size() > 7 && a.name.compare(a.name.size() - 7, 7, ".gumbel") == 0
              ? -torch::log(-torch::log(torch::rand(shape).clamp(1e-12, 1.0 - 1e-6)))
              : torch::randn(shape));
    else
      fail("forward_train: unexpected input '" + a.name + "'");
  }
  std::vector<std::string> savedNames;
  for (const rt::BufferSpec &a : backward->arguments) {
    if (a.kind != rt::ArgKind::Input)
      continue;
    std::vector<int64_t> shape(a.shape.begin(), a.shape.end());
    if (startsWith(a.name, "saved."))
      savedNames.push_back(a.name);
    else if (a.name == "grad.out")
      backwardInputs[a.name] = agree::toHost(cotangent);
    else if (startsWith(a.name, "grad."))
      backwardInputs[a.name] = agree::toHost(torch::zeros(shape));
    else if (auto it = trainInputs.find(a.name); it != trainInputs.end())
      backwardInputs[a.name] = agree::toHost(agree::fromHost(it->second));
    else
      fail("forward_backward: unexpected input '" + a.name + "'");
  }
  if (!backwardInputs.count("grad.out"))
    fail("forward_backward takes no grad.out");

  // One step; the saved activations move into the backward's inputs.
  std::vector<double> trainMs, backwardMs;
  rt::TensorMap gradients;
  auto compiledStep = [&] {
    auto start = std::chrono::steady_clock::now();
    auto trained = artifact.run("forward_train", trainInputs);
    if (!trained)
      fail(trained.error());
    trainMs.push_back(msSince(start));
    for (const std::string &name : savedNames)
      backwardInputs[name] = std::move(trained->at(name));
    start = std::chrono::steady_clock::now();
    auto grads = artifact.run("forward_backward", backwardInputs);
    if (!grads)
      fail(grads.error());
    backwardMs.push_back(msSince(start));
    gradients = std::move(*grads);
    return std::move(trained->at("out"));
  };

  // The eager layer from the same parameters, everything requiring grad.
  const ref::LayerParams &p = built.params;
  auto leaf = [](const torch::Tensor &t) {
    return t.to(torch::kFloat32).clone().requires_grad_(true);
  };
  bench::EagerPceLayer eager;
  eager.ph = opt.ph;
  eager.pw = opt.pw;
  eager.k = k;
  eager.levels = built.config.embed.levels;
  eager.tau = built.config.router.tau;
  eager.topK = topK;
  eager.We = leaf(p.We);
  eager.be = leaf(p.be);
  eager.keys = leaf(p.router.keys);
  eager.kernels = leaf(p.experts.kernels);
  eager.gamma = leaf(p.experts.gamma);
  eager.beta = leaf(p.experts.beta);
  eager.runningMean = p.experts.runningMean.to(torch::kFloat32);
  eager.runningVar = p.experts.runningVar.to(torch::kFloat32);
  eager.setCoordinates(H, W);
  torch::Tensor xLeaf = x.clone().requires_grad_(true);
  // The compiled gradients and their eager counterparts.
  std::vector<std::pair<std::string, torch::Tensor *>> leaves = {
      {"grad.x", &xLeaf},
      {"grad.layer0.embed.weight", &eager.We},
      {"grad.layer0.embed.bias", &eager.be},
      {"grad.layer0.router.keys", &eager.keys},
      {"grad.layer0.experts.kernel", &eager.kernels},
      {"grad.layer0.experts.bn.gamma", &eager.gamma},
      {"grad.layer0.experts.bn.beta", &eager.beta}};
  std::vector<double> forwardMs, autogradMs;
  auto eagerStep = [&] {
    for (auto &[name, t] : leaves)
      t->mutable_grad() = torch::Tensor();
    auto start = std::chrono::steady_clock::now();
    torch::Tensor out = eager.forward(xLeaf, /*training=*/true);
    forwardMs.push_back(msSince(start));
    start = std::chrono::steady_clock::now();
    (out * cotangent).sum().backward();
    autogradMs.push_back(msSince(start));
    return out;
  };

  // Checks: training forwards against the float64 reference, compiled
  // gradients against LibTorch autograd of the eager layer (both float32).
  ref::LayerConfig config = built.config;
  config.training = true;
  torch::Tensor want;
  {
    torch::NoGradGuard noGrad;
    want = ref::layer(x.to(torch::kFloat64), config, p).out;
  }
  torch::Tensor compiledOut = agree::fromHost(compiledStep());
  torch::Tensor eagerOut = eagerStep().detach();
  check("compiled " + router + " forward_train vs float64 ref",
        agree::relativeError(compiledOut, want));
  check("eager " + router + " training forward vs float64 ref",
        agree::relativeError(eagerOut.to(torch::kFloat64), want));
  // Relative L2 error per gradient: a pre-activation within rounding of zero
  // may take the other side of a ReLU (or a max-pool tie the other element)
  // in the two float32 computations, which moves a few hundred entries of
  // grad.x locally; the max-norm error is printed for those.
  double worst = 0, worstMax = 0;
  int64_t off = 0, total = 0;
  std::string worstName, missing;
  for (auto &[name, t] : leaves) {
    auto it = gradients.find(name);
    if (it == gradients.end()) {
      missing += " " + name;
      continue;
    }
    torch::Tensor got = agree::fromHost(it->second).to(torch::kFloat64);
    torch::Tensor ref = t->grad().to(torch::kFloat64);
    double e = ((got - ref).norm() / ref.norm().clamp_min(1e-30)).item<double>();
    double scale = std::max(1.0, ref.abs().max().item<double>());
    off += ((got - ref).abs() > 1e-3 * scale).sum().item<int64_t>();
    total += ref.numel();
    worstMax = std::max(worstMax, agree::relativeError(got, ref));
    if (e >= worst) {
      worst = e;
      worstName = name;
    }
  }
  // A ReLU flip moves the gradient of one output element: the 3x3xC input
  // entries around it, one kernel row and one BN channel (measured: R4's
  // top-1 case has one such element, an output of 1.9e-8 in the
  // compiled forward and 0 in both LibTorch and the float64 reference).
  // Fewer than 1e-3 of the entries off is read as such flips, not an error.
  constexpr double kGradTolerance = 1e-4; // relative L2, float32 against float32
  bool localised = off * 1000 < total;
  std::printf("check  compiled %s gradients vs eager autograd   relative L2 error %.2e "
              "(worst of %zu: %s; tolerance %.0e: %s); max-norm %.2e, %lld of %lld entries "
              "off by > 1e-3%s%s\n",
              router.c_str(), worst, leaves.size(), worstName.c_str(), kGradTolerance,
              worst <= kGradTolerance ? "ok"
              : localised ? "localised: ReLU decisions within rounding of 0"
                          : "MISMATCH: timings below are suspect",
              worstMax, (long long)off, (long long)total,
              missing.empty() ? "" : "; not returned:", missing.c_str());
  trainMs.clear();
  backwardMs.clear();
  forwardMs.clear();
  autogradMs.clear();

  // Timing. The sub-timings are recorded on every call; the eager ones come
  // from both eager loops, so they are kept apart by the loop that ran them.
  std::vector<double> fwd2, bwd2, fwd1, bwd1;
  auto eagerTimed = [&](bool oneThread) {
    return [&, oneThread] {
      eagerStep(); // on the threads the loop set
      (oneThread ? fwd1 : fwd2).push_back(forwardMs.back());
      (oneThread ? bwd1 : bwd2).push_back(autogradMs.back());
    };
  };
  // Two loops: changing LibTorch's thread count between calls of one loop made
  // the multi-threaded eager calls 3-5x slower (measured), so the one-thread
  // side gets a loop of its own, against the compiled step again.
  auto r4 = timeAlternating({[&] { compiledStep(); }, eagerTimed(false)}, opt.warmup,
                            opt.repeats);
  double tr = medianAfter(trainMs, size_t(opt.warmup));
  double bw = medianAfter(backwardMs, size_t(opt.warmup));
  at::set_num_threads(1);
  rt::setCompiledLoopThreads(1);
  auto r4one = timeAlternating({[&] { compiledStep(); }, eagerTimed(true)}, opt.warmup,
                               opt.repeats);
  at::set_num_threads(T);
  rt::setCompiledLoopThreads(T);
  r4.push_back(r4one[1]);
  size_t skip = size_t(opt.warmup);
  double ratio = r4[0].wallMs / r4[1].wallMs;
  std::printf("R4  %s: compiled %.2f ms / eager %.2f ms = %.2f  (target <= 0.5: %s)\n",
              router.c_str(), r4[0].wallMs, r4[1].wallMs, ratio,
              verdict(ratio, 0.5, true).c_str());
  std::printf("    compiled: forward_train %.2f ms + forward_backward %.2f ms (medians; the "
              "backward is %.0f%% of the step), batch %lld as one call, its parallel loops "
              "on %d threads (pce-compile of the training model: %.1f s)\n",
              tr, bw, 100 * bw / (tr + bw), (long long)B, T, compileS);
  std::printf("    eager (%d threads): forward %.2f ms + backward() %.2f ms; R2's eager layer "
              "with batch-statistic BN%s, sum(out * cotangent).backward(), x and %zu "
              "parameters requiring grad\n",
              T, medianAfter(fwd2, skip), medianAfter(bwd2, skip),
              topK ? " over each expert's routed patches" : "", leaves.size() - 1);
  double cpuRatio = r4[0].cpuMs / r4[1].cpuMs;
  std::printf("    per CPU-second: compiled %.2f CPU-ms / eager %.2f CPU-ms = %.2f  "
              "(target <= 0.5: %s)\n",
              r4[0].cpuMs, r4[1].cpuMs, cpuRatio, verdict(cpuRatio, 0.5, true).c_str());
  double ratio1 = r4one[0].wallMs / r4[2].wallMs;
  std::printf("    one core each (a second loop): compiled %.2f ms / eager on 1 thread %.2f ms "
              "(forward %.2f + backward() %.2f) = %.2f  (target <= 0.5: %s)\n",
              r4one[0].wallMs, r4[2].wallMs, medianAfter(fwd1, skip), medianAfter(bwd1, skip),
              ratio1, verdict(ratio1, 0.5, true).c_str());
  // 3 convolutions of the experts' size per step: forward, input gradient,
  // kernel gradient, every expert on every patch as the eager layer computes
  // them; under top-k the compiled step convolves only the routed pairs
  // (k/E of these FLOPs), so its figure is then dense-equivalent.
  const double flops = 3 * 2.0 * double(B) * P * E * Co * Cin * k * k * opt.ph * opt.pw;
  auto gflops = [&](double ms) { return flops / (ms * 1e-3) * 1e-9; };
  std::printf("    GFLOP/s (3 x 2*B*P*E*Co*(C+4)*k*k*ph*pw = %.2f GFLOP per step%s): compiled "
              "%.2f (%.2f per CPU-s), eager %.2f on %d threads (%.2f per CPU-s), eager %.2f on "
              "1 thread\n",
              flops * 1e-9, topK ? "; dense-equivalent for the compiled top-k step" : "",
              gflops(r4[0].wallMs), gflops(r4[0].cpuMs), gflops(r4[1].wallMs),
              T, gflops(r4[1].cpuMs), gflops(r4[2].wallMs));
}

} // namespace

int main(int argc, char **argv) {
  Options opt = parseOptions(argc, argv);
  Context ctx{opt, {}, {}};
  fs::path binDir = fs::read_symlink("/proc/self/exe").parent_path();
  ctx.compiler = opt.compiler.empty() ? binDir / "pce-compile" : fs::path(opt.compiler);
  if (!fs::exists(ctx.compiler))
    fail("no compiler at " + ctx.compiler.string() + " (build pce-compile or pass --pce-compile)");
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
    const char *kNoFusions =
        "'--pipeline-options=fold-batch-norm=false fuse-patches=false fuse-experts-mix=false'";
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
        Compiled gpu = compileModel(ctx, top1->model, "layer_top1_cuda", "x", "--target cuda");
        auto want = ref::layer(xChunk, top1->built.config, top1->built.params).out;
        check("compiled top-1 layer on the GPU vs float64 reference",
              agree::relativeError(firstChunk(runCompiled(gpu, layerInputs, "out")), want));
        auto r5 = timeAlternating({[&] { runCompiled(gpu, layerInputs, "out"); }}, opt.warmup,
                                  opt.repeats);
        std::string device = (*rt::cuda::compiledCodeContext())->description();
        std::printf("R5  compiled top-1 layer on %s: %.3f ms per batch of %lld (arguments and "
                    "results copied through managed memory on every call)\n",
                    device.c_str(), r5[0].wallMs, (long long)B);
        char command[512];
        std::snprintf(command, sizeof command,
                      "python3 %s/tools/pce-bench/r5_torch.py --device cuda --batch %lld "
                      "--channels %lld --image %lld --patch %lld --experts %lld "
                      "--out-channels %lld --kernel %lld --top-k 1 --compiled-ms %.4f",
                      PCE_SOURCE_DIR, (long long)B, (long long)C, (long long)H,
                      (long long)opt.ph, (long long)E, (long long)Co, (long long)k,
                      r5[0].wallMs);
        std::string output;
        int rc = agree::runCommand(command, output);
        std::printf("    %s\n%s%s\n", command, output.c_str(),
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
    runCompiler(ctx, compileModelPath, ctx.workDir / "compile-time");
    std::vector<double> seconds;
    for (int i = 0; i < opt.compileRuns; ++i)
      seconds.push_back(runCompiler(ctx, compileModelPath,
                                    ctx.workDir / ("compile-time" + std::to_string(i))));
    double s = median(seconds);
    std::printf("compile  pce-compile %s --target cpu: %.2f s  (median of %d; target < 2 s: "
                "%s)\n",
                compileModelPath.filename().string().c_str(), s, opt.compileRuns,
                s < 2.0 ? "met" : verdict(s, 2.0, true).c_str());
  }

  if (temporaryWorkDir)
    fs::remove_all(ctx.workDir);
  else
    std::printf("\nartifacts and model sources kept in %s\n", ctx.workDir.string().c_str());
  return 0;
}
