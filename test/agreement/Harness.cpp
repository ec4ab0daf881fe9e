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

std::string tensorType(c10::IntArrayRef shape, bool f64) {
  std::string s = "tensor<";
  for (int64_t d : shape)
    s += std::to_string(d) + "x";
  return s + (f64 ? "f64>" : "f32>");
}

torch::Tensor roundToFloat(const torch::Tensor &t) {
  return t.to(torch::kFloat32).to(torch::kFloat64);
}

std::string ModelText::add(const std::string &attr, const std::string &name,
                           const torch::Tensor &value) {
  std::string ssa = "%a" + std::to_string(args_.size());
  args_.push_back(ssa + ": " + tensorType(value.sizes(), f64_) + " {" + attr +
                  " = \"" + name + "\"}");
  values_[name] = f64_ ? value.detach().to(torch::kFloat64).clone()
                       : roundToFloat(value.detach());
  return ssa;
}

std::string ModelText::input(const std::string &name, const torch::Tensor &value) {
  return add("pce.input", name, value);
}

std::string ModelText::param(const std::string &name, const torch::Tensor &value) {
  return add("pce.param", name, value);
}

void ModelText::line(const std::string &text) { body_.push_back(text); }

void ModelText::output(const std::string &name, const std::string &ssa,
                       c10::IntArrayRef shape) {
  returned_.push_back(ssa);
  resultTypes_.push_back(tensorType(shape, f64_));
  results_.push_back(tensorType(shape, f64_) + " {pce.output = \"" + name + "\"}");
}

std::string ModelText::text() const {
  std::ostringstream os;
  os << "func.func @forward(";
  for (size_t i = 0; i < args_.size(); ++i)
    os << (i ? ",\n    " : "\n    ") << args_[i];
  os << ") -> (";
  for (size_t i = 0; i < results_.size(); ++i)
    os << (i ? ", " : "") << results_[i];
  os << ")" << (differentiable_ ? " attributes {pce.differentiable}" : "")
     << " {\n";
  for (const std::string &l : body_)
    os << "  " << l << "\n";
  os << "  return ";
  for (size_t i = 0; i < returned_.size(); ++i)
    os << (i ? ", " : "") << returned_[i];
  os << " : ";
  for (size_t i = 0; i < resultTypes_.size(); ++i)
    os << (i ? ", " : "") << resultTypes_[i];
  os << "\n}\n";
  return os.str();
}

const torch::Tensor &ModelText::value(const std::string &name) const {
  return values_.at(name);
}

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

rt::HostTensor toHost(const torch::Tensor &t, bool f64) {
  auto contiguous = t.to(f64 ? torch::kFloat64 : torch::kFloat32).contiguous();
  auto host = rt::HostTensor::create(
      f64 ? rt::DType::F64 : rt::DType::F32,
      std::vector<int64_t>(t.sizes().begin(), t.sizes().end()));
  std::memcpy(host->data.data(), contiguous.data_ptr(), host->nbytes());
  return std::move(*host);
}

torch::Tensor fromHost(const rt::HostTensor &h) {
  bool f64 = h.dtype == rt::DType::F64;
  auto t = torch::empty(std::vector<int64_t>(h.shape.begin(), h.shape.end()),
                        f64 ? torch::kFloat64 : torch::kFloat32);
  std::memcpy(t.data_ptr(), h.data.data(), h.nbytes());
  return t.to(torch::kFloat64);
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

double relativeError(const torch::Tensor &out, const torch::Tensor &ref) {
  if (!out.defined() || !ref.defined() || out.sizes() != ref.sizes())
    return std::numeric_limits<double>::infinity();
  if (torch::isnan(out).any().item<bool>() || torch::isnan(ref).any().item<bool>())
    return std::numeric_limits<double>::infinity();
  double scale = std::max(1.0, ref.abs().max().item<double>());
  return (out - ref).abs().max().item<double>() / scale;
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
