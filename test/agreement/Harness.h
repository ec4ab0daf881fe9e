//===- Harness.h - compiled models against the float64 reference -*- C++ -*-===//
//
// Builds the MLIR text of a one-function model whose arguments are random
// tensors, compiles it with the real `pce-compile` into a fresh artifact,
// runs it through the runtime in float32 and hands back the results in
// float64 for comparison with the reference (test/reference).
//
//===----------------------------------------------------------------------===//

#ifndef PCE_TEST_AGREEMENT_HARNESS_H
#define PCE_TEST_AGREEMENT_HARNESS_H

#include "runtime/Artifact.h"

#include <torch/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pce::agree {

/// `tensor<2x3xf32>` for a shape (`f64` elements when asked).
std::string tensorType(c10::IntArrayRef shape, bool f64 = false);

/// The MLIR text of a model `@forward` and the values of its arguments.
/// Values are rounded to float32 when recorded, so the reference sees exactly
/// what the compiled code sees.
class ModelText {
public:
  /// A float32 model (values rounded to float32), or a float64 one (values
  /// kept exactly; for gradient checks).
  explicit ModelText(bool f64 = false) : f64_(f64) {}
  bool isF64() const { return f64_; }
  /// Marks @forward `pce.differentiable`: pce-compile then also builds
  /// @forward_train and @forward_backward (pce-generate-backward).
  void setDifferentiable() { differentiable_ = true; }

  /// Records an input / a parameter; returns its SSA name.
  std::string input(const std::string &name, const torch::Tensor &value);
  std::string param(const std::string &name, const torch::Tensor &value);
  /// Appends a line to the body (it may use the SSA names above).
  void line(const std::string &text);
  /// Declares `ssa` (of `shape`) a result named `name`.
  void output(const std::string &name, const std::string &ssa,
              c10::IntArrayRef shape);

  std::string text() const;
  /// The float32-rounded value of an argument, in float64.
  const torch::Tensor &value(const std::string &name) const;
  const std::map<std::string, torch::Tensor> &values() const { return values_; }

private:
  std::string add(const std::string &attr, const std::string &name,
                  const torch::Tensor &value);
  std::vector<std::string> args_, body_, results_, returned_, resultTypes_;
  std::map<std::string, torch::Tensor> values_;
  std::vector<std::string> inputNames_;
  bool f64_ = false;
  bool differentiable_ = false;
};

/// Runs a shell command; returns its exit code and appends its combined
/// stdout and stderr to `output`.
int runCommand(const std::string &command, std::string &output);

/// Compiles `model` with pce-compile (and `flags`; --target cpu unless they
/// name one) into artifactDir(tag). On failure records a test failure with
/// pce-compile's diagnostics and returns false.
bool writeArtifact(const ModelText &model, const std::string &tag,
                   const std::string &flags = "");

/// writeArtifact, then opens the artifact. On failure records a test
/// failure (pce-compile's diagnostics or the runtime's error) and returns
/// nothing.
std::optional<rt::Artifact> compile(const ModelText &model, const std::string &tag,
                                    const std::string &flags = "");

/// The artifact directory compile(model, tag) writes.
std::string artifactDir(const std::string &tag);

/// Runs `forward` on the model's values; returns every result in float64.
/// Records a test failure and returns an empty map on a runtime error.
std::map<std::string, torch::Tensor> run(const rt::Artifact &artifact,
                                         const ModelText &model);

/// SEMANTICS.md §6: max|out - ref| / max(1, max|ref|); infinity when shapes
/// differ or anything is NaN.
double relativeError(const torch::Tensor &out, const torch::Tensor &ref);

/// A float32 (or float64) host copy of `t`, and back to float64.
rt::HostTensor toHost(const torch::Tensor &t, bool f64 = false);
torch::Tensor fromHost(const rt::HostTensor &h);

/// The float32 → float64 round trip the harness applies to every value.
torch::Tensor roundToFloat(const torch::Tensor &t);

/// Draws a fresh seed for this test (printed, so a failure can be replayed
/// with PCE_TEST_SEED=<seed>) and seeds LibTorch with it.
uint64_t freshSeed();

/// Prints `[agreement] what: relative error X` so runs can be summarised.
void report(const std::string &what, double error);

/// The tolerance of SEMANTICS.md §6 for float32 kernels.
constexpr double kTolerance = 1e-4;

} // namespace pce::agree

#endif // PCE_TEST_AGREEMENT_HARNESS_H
