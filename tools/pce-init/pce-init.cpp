//===- pce-init.cpp - initial weights for an artifact ---------------------===//
//
//   pce-init DIR -o W.safetensors [--seed N]
//
// Writes a weights file holding every parameter the artifact's manifest
// names, initialised by the role its name gives it (the naming scheme of
// docs/ModelDescription.md):
//   *.kernel, *.weight, *.w1, *.w2   normal(0, sqrt(2 / fan_in))  (He)
//   *.keys                           normal(0, 1), rows scaled to unit norm
//   *.gamma, *.running_var, *.scale  1
//   everything else (biases, beta, running_mean, shift, log_tau)  0
// Deterministic for a given seed. Needs no MLIR or LibTorch.
//
//===----------------------------------------------------------------------===//

#include "runtime/Manifest.h"
#include "runtime/Safetensors.h"
#include "tools/support/CommandLine.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>

using namespace pce::rt;

namespace {
bool endsWith(const std::string &s, const char *suffix) {
  std::string t(suffix);
  return s.size() >= t.size() &&
         s.compare(s.size() - t.size(), t.size(), t) == 0;
}

/// Fills `t` (f32 or f64) by the role its name gives it.
void initialise(const std::string &name, HostTensor &t, std::mt19937_64 &rng) {
  int64_t n = t.numel();
  int64_t fanIn = t.shape.size() > 1 ? n / t.shape[0] : 1;
  auto set = [&](int64_t i, double v) {
    if (t.f32())
      t.f32()[i] = static_cast<float>(v);
    else
      t.f64()[i] = v;
  };
  std::normal_distribution<double> normal(0.0, 1.0);
  if (endsWith(name, ".kernel") || endsWith(name, ".weight") ||
      endsWith(name, ".w1") || endsWith(name, ".w2")) {
    double std = std::sqrt(2.0 / static_cast<double>(fanIn));
    for (int64_t i = 0; i < n; ++i)
      set(i, std * normal(rng));
  } else if (endsWith(name, ".keys") && t.shape.size() == 2) {
    int64_t rows = t.shape[0], cols = t.shape[1];
    std::vector<double> row(cols);
    for (int64_t r = 0; r < rows; ++r) {
      double norm = 0;
      for (double &v : row) {
        v = normal(rng);
        norm += v * v;
      }
      norm = std::sqrt(norm);
      for (int64_t c = 0; c < cols; ++c)
        set(r * cols + c, row[c] / norm);
    }
  } else {
    double value = endsWith(name, ".gamma") || endsWith(name, ".running_var") ||
                           endsWith(name, ".scale")
                       ? 1.0
                       : 0.0;
    for (int64_t i = 0; i < n; ++i)
      set(i, value);
  }
}

const char *kUsage =
    "usage: pce-init ARTIFACT_DIR -o WEIGHTS.safetensors [--seed N]\n"
    "\n"
    "Writes initial weights for every parameter of the artifact.\n"
    "\n"
    "  -o WEIGHTS.safetensors  the weights file to write\n"
    "  --seed N                seed of the random initialisation (default 0)\n"
    "  --help                  show this help\n"
    "  --version               show the PCE version and git commit\n"
    "\n"
    "Exit status: 0 success, 1 error, 2 usage error.\n";
} // namespace

int main(int argc, char **argv) {
  std::string dir, out;
  uint64_t seed = 0;
  pce::tool::CommandLine cl("pce-init", kUsage);
  cl.app().add_option("ARTIFACT_DIR", dir);
  cl.app().add_option("-o", out);
  cl.addInteger("--seed", "a non-negative integer", 0, INT64_MAX,
                [&](int64_t n) { seed = static_cast<uint64_t>(n); });
  if (std::optional<int> exit = cl.handle(argc, argv, [&] {
        if (dir.empty())
          throw pce::tool::UsageError("missing the artifact directory");
        if (out.empty())
          throw pce::tool::UsageError("missing -o WEIGHTS.safetensors");
      }))
    return *exit;

  auto manifest = readManifest(dir + "/" + kManifestFileName);
  if (!manifest) {
    std::fprintf(stderr, "pce-init: error: %s\n", manifest.error().c_str());
    return 1;
  }
  std::mt19937_64 rng(seed);
  std::map<std::string, HostTensor> tensors;
  for (const TensorSpec &p : manifest->parameters) {
    auto t = HostTensor::create(p.dtype, p.shape);
    if (!t || (p.dtype != DType::F32 && p.dtype != DType::F64)) {
      std::fprintf(stderr,
                   "pce-init: error: parameter '%s' %s cannot be initialised\n",
                   p.name.c_str(), p.typeString().c_str());
      return 1;
    }
    initialise(p.name, *t, rng);
    tensors[p.name] = std::move(*t);
  }
  if (Status s = writeSafetensors(out, tensors,
                                  {{"pce.init.seed", std::to_string(seed)}});
      !s) {
    std::fprintf(stderr, "pce-init: error: %s\n", s.message().c_str());
    return 1;
  }
  std::printf("pce-init: %zu parameters of %s -> %s (seed %llu)\n",
              tensors.size(), dir.c_str(), out.c_str(),
              static_cast<unsigned long long>(seed));
  return 0;
}
