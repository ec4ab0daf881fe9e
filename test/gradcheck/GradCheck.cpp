//===- GradCheck.cpp - compiled backward against finite differences -------===//

#include "test/gradcheck/GradCheck.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

namespace pce::grad {

namespace agree = pce::agree;

namespace {

bool startsWith(const std::string &s, const std::string &prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

/// L = sum_r <cotangent_r, results_r> over the results that have one.
torch::Tensor objective(const Tensors &results, const Tensors &cotangents) {
  torch::Tensor total = torch::zeros({}, torch::kFloat64);
  for (const auto &[name, cot] : cotangents) {
    auto it = results.find(name);
    if (it == results.end()) {
      ADD_FAILURE() << "the reference does not compute result '" << name << "'";
      continue;
    }
    total = total + (it->second * cot).sum();
  }
  return total;
}

double gradientError(const torch::Tensor &got, const torch::Tensor &want) {
  if (torch::isnan(got).any().item<bool>())
    return std::numeric_limits<double>::infinity();
  double scale = std::max(1e-2, want.abs().max().item<double>());
  return (got - want).abs().max().item<double>() / scale;
}

} // namespace

const rt::EntryPoint *findEntry(const rt::Artifact &artifact,
                                const std::string &name) {
  for (const rt::EntryPoint &e : artifact.manifest().entryPoints)
    if (e.name == name)
      return &e;
  return nullptr;
}

Tensors drawArguments(const rt::EntryPoint &entry, const std::string &prefix,
                      bool f32) {
  Tensors drawn;
  for (const rt::BufferSpec &arg : entry.arguments) {
    if (!startsWith(arg.name, prefix))
      continue;
    std::vector<int64_t> shape(arg.shape.begin(), arg.shape.end());
    bool gumbel = arg.name.size() > 7 &&
                  arg.name.compare(arg.name.size() - 7, 7, ".gumbel") == 0;
    torch::Tensor t =
        gumbel ? -torch::log(-torch::log(
                     torch::rand(shape, torch::kFloat64).clamp(1e-12, 1.0 - 1e-12)))
               : torch::randn(shape, torch::kFloat64);
    drawn[arg.name] = f32 ? agree::roundToFloat(t) : t;
  }
  return drawn;
}

Tensors runEntry(const rt::Artifact &artifact, const std::string &entry,
                 const Tensors &values, bool f64) {
  rt::TensorMap inputs;
  for (const auto &[name, value] : values)
    inputs[name] = agree::toHost(value, f64);
  auto outputs = artifact.run(entry, inputs);
  if (!outputs.ok()) {
    ADD_FAILURE() << entry << ": " << outputs.error();
    return {};
  }
  Tensors result;
  for (const auto &[name, host] : *outputs)
    result[name] = agree::fromHost(host);
  return result;
}

Result check(agree::ModelText model, const std::string &tag,
             const ReferenceFn &reference, const Options &options) {
  Result result;
  EXPECT_TRUE(model.isF64()) << "gradient checks run in float64";
  model.setDifferentiable();
  std::optional<rt::Artifact> artifact = agree::compile(model, tag, options.compileFlags);
  if (!artifact)
    return result;
  const rt::EntryPoint *train = findEntry(*artifact, "forward_train");
  const rt::EntryPoint *backward = findEntry(*artifact, "forward_backward");
  if (!train || !backward) {
    ADD_FAILURE() << "the artifact lacks forward_train or forward_backward";
    return result;
  }

  // Training forward, against the reference on the same noise.
  Tensors values = model.values();
  for (auto &[name, value] : drawArguments(*train, "noise."))
    values[name] = value;
  Tensors trained = runEntry(*artifact, "forward_train", values);
  if (trained.empty())
    return result;
  Tensors want = reference(values);
  for (const auto &[name, ref] : want) {
    auto it = trained.find(name);
    if (it == trained.end()) {
      ADD_FAILURE() << "forward_train has no result '" << name << "'";
      continue;
    }
    double error = agree::relativeError(it->second, ref);
    result.forwardError = std::max(result.forwardError, error);
    EXPECT_LE(error, kForwardTolerance) << "forward_train result " << name;
  }

  // Backward with a random cotangent per result.
  Tensors cotangents;
  Tensors bwdInputs = model.values();
  for (auto &[name, cot] : drawArguments(*backward, "grad.")) {
    cotangents[name.substr(5)] = cot;
    bwdInputs[name] = cot;
  }
  for (const rt::BufferSpec &arg : backward->arguments)
    if (startsWith(arg.name, "saved."))
      bwdInputs[arg.name] = trained.at(arg.name);
  Tensors grads = runEntry(*artifact, "forward_backward", bwdInputs);
  if (grads.empty() && !backward->results.empty())
    return result;

  for (const auto &[name, value] : model.values()) {
    if (options.constants.count(name) ||
        (options.constants.empty() && name.find("running_") != std::string::npos))
      continue;
    auto it = grads.find("grad." + name);
    torch::Tensor got = it != grads.end() ? it->second : torch::zeros_like(value);
    torch::Tensor wantGrad;
    torch::Tensor gotAt;
    if (options.autograd) {
      Tensors leaf = values;
      leaf[name] = value.clone().requires_grad_(true);
      objective(reference(leaf), cotangents).backward();
      wantGrad = leaf[name].grad();
      if (!wantGrad.defined())
        wantGrad = torch::zeros_like(value);
      gotAt = got;
    } else {
      int64_t n = value.numel();
      int64_t samples = std::min<int64_t>(n, options.samples);
      torch::Tensor index = torch::randperm(n, torch::kLong).slice(0, 0, samples);
      wantGrad = torch::empty({samples}, torch::kFloat64);
      for (int64_t s = 0; s < samples; ++s) {
        int64_t i = index[s].item<int64_t>();
        double x = value.reshape(-1)[i].item<double>();
        double h = options.step * std::max(1.0, std::abs(x));
        Tensors moved = values;
        auto at = [&](double v) {
          torch::Tensor t = value.clone();
          t.reshape(-1)[i] = v;
          moved[name] = t;
          return objective(reference(moved), cotangents).item<double>();
        };
        double up = at(x + h), here = at(x), down = at(x - h);
        double central = (up - down) / (2 * h);
        // A kink (a ReLU input or a routing decision within h of its
        // switch) makes the central difference a mix of two slopes. The
        // compiled gradient is then right when it is the slope of the side
        // free of the kink: one of the one-sided differences.
        double forward = (up - here) / h, backwardSlope = (here - down) / h;
        double compiled = got.reshape(-1)[i].item<double>();
        double scale = std::max(1.0, std::abs(central));
        auto near = [&](double a, double b) { return std::abs(a - b) <= kGradientTolerance * scale; };
        bool kink = !near(forward, backwardSlope);
        wantGrad[s] = kink && (near(compiled, forward) || near(compiled, backwardSlope)) ? compiled
                                                                                        : central;
      }
      gotAt = got.reshape(-1).index_select(0, index);
    }
    double error = gradientError(gotAt, wantGrad);
    result.gradientError = std::max(result.gradientError, error);
    EXPECT_LE(error, kGradientTolerance)
        << "gradient of '" << name << "'"
        << (it == grads.end() ? " (forward_backward returns none)" : "")
        << ": compiled " << gotAt.reshape(-1).slice(0, 0, 6)
        << "\nreference " << wantGrad.reshape(-1).slice(0, 0, 6);
  }
  return result;
}

void report(const std::string &what, const Result &result) {
  std::printf("[gradcheck] %s: gradient error %.3e, forward error %.3e\n",
              what.c_str(), result.gradientError, result.forwardError);
  std::fflush(stdout);
}

} // namespace pce::grad
