//===- Harness.cpp - compiled models against the float64 reference --------===//

#include "test/agreement/Harness.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace fs = std::filesystem;

namespace pce::agree {

int runCommand(const std::string &command, std::string &output) {
  std::array<char, 4096> buffer;
  FILE *pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe)
    return -1;
  while (size_t n = fread(buffer.data(), 1, buffer.size(), pipe))
    output.append(buffer.data(), n);
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string artifactDir(const std::string &tag) {
  return (fs::path(PCE_AGREEMENT_WORK_DIR) / tag / "artifact").string();
}

bool writeArtifact(const ModelText &model, const std::string &tag, const std::string &flags) {
  fs::path dir = fs::path(PCE_AGREEMENT_WORK_DIR) / tag;
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::path source = dir / "model.mlir";
  std::ofstream(source) << model.text();
  std::string output;
  // The CPU unless `flags` names a target.
  std::string target = flags.find("--target") == std::string::npos ? " --target cpu" : "";
  std::string command = std::string(PCE_COMPILE_BIN) + " " + source.string() + target +
                        " -o " + artifactDir(tag) + " " + flags;
  if (runCommand(command, output) != 0) {
    ADD_FAILURE() << "pce-compile failed on " << source << ":\n"
                  << output << "\n--- model ---\n"
                  << model.text();
    return false;
  }
  return true;
}

std::optional<rt::Artifact> compile(const ModelText &model, const std::string &tag,
                                    const std::string &flags) {
  if (!writeArtifact(model, tag, flags))
    return std::nullopt;
  auto artifact = rt::Artifact::open(artifactDir(tag));
  if (!artifact.ok()) {
    ADD_FAILURE() << artifact.error();
    return std::nullopt;
  }
  return std::move(*artifact);
}

std::map<std::string, torch::Tensor> run(const rt::Artifact &artifact,
                                         const ModelText &model) {
  rt::TensorMap inputs;
  for (const auto &[name, value] : model.values())
    inputs[name] = toHost(value, model.isF64());
  auto outputs = artifact.run("forward", inputs);
  if (!outputs.ok()) {
    ADD_FAILURE() << outputs.error();
    return {};
  }
  std::map<std::string, torch::Tensor> result;
  for (const auto &[name, host] : *outputs)
    result[name] = fromHost(host);
  return result;
}

uint64_t freshSeed() {
  uint64_t seed;
  if (const char *fixed = std::getenv("PCE_TEST_SEED"))
    seed = std::strtoull(fixed, nullptr, 10);
  else
    seed = std::random_device{}();
  std::printf("[agreement] seed %llu (replay with PCE_TEST_SEED)\n",
              static_cast<unsigned long long>(seed));
  torch::manual_seed(seed);
  return seed;
}

void report(const std::string &what, double error) {
  std::printf("[agreement] %s: relative error %.3e\n", what.c_str(), error);
  std::fflush(stdout);
}

} // namespace pce::agree
