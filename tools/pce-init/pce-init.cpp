//===- pce-init.cpp - initial weights for an artifact ---------------------===//
//
//   pce-init DIR -o W.safetensors [--seed N]
//
// Writes a weights file holding every parameter the artifact's manifest
// names, each filled by the initialiser the manifest records for it (chosen
// by its role: runtime/ParameterRole.h, the rule pce-train follows too).
// Deterministic for a given seed. Needs no MLIR or LibTorch.
//
//===----------------------------------------------------------------------===//

#include "runtime/Manifest.h"
#include "runtime/ParameterRole.h"
#include "runtime/Safetensors.h"
#include "tools/support/CommandLine.h"

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>

using namespace pce::rt;

namespace {
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
  for (const ParameterSpec &p : manifest->parameters) {
    if (!p.init) {
      std::fprintf(stderr,
                   "pce-init: error: %s: parameter '%s' has no role and initialiser in the "
                   "manifest (compile it again, or give its argument a pce.role)\n",
                   dir.c_str(), p.name.c_str());
      return 1;
    }
    auto t = HostTensor::create(p.dtype, p.shape);
    Status filled = t ? initialise(*p.init, *t, rng) : t.status();
    if (!filled) {
      std::fprintf(stderr, "pce-init: error: parameter '%s' %s: %s\n", p.name.c_str(),
                   p.typeString().c_str(), filled.message().c_str());
      return 1;
    }
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
