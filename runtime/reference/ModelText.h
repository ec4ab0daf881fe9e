//===- ModelText.h - random models as MLIR text, checked in float64 -*- C++ -*-===//
//
// What the agreement tests and pce-bench build models with: the MLIR text of
// a one-function model whose arguments are recorded tensors (rounded to
// float32, so the float64 reference sees what compiled code sees), the
// conversions between LibTorch and runtime tensors, and the error measure and
// tolerance of SEMANTICS.md §6. No GoogleTest: test/agreement/Harness.h adds
// compiling and running with test failures.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_RUNTIME_REFERENCE_MODELTEXT_H
#define PCE_RUNTIME_REFERENCE_MODELTEXT_H

#include "runtime/HostTensor.h"

#include <torch/types.h>

#include <map>
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

/// SEMANTICS.md §6: max|out - ref| / max(1, max|ref|); infinity when shapes
/// differ or anything is NaN.
double relativeError(const torch::Tensor &out, const torch::Tensor &ref);

/// A float32 (or float64) host copy of `t`, and back to float64.
rt::HostTensor toHost(const torch::Tensor &t, bool f64 = false);
torch::Tensor fromHost(const rt::HostTensor &h);

/// The float32 → float64 round trip the harness applies to every value.
torch::Tensor roundToFloat(const torch::Tensor &t);

/// The tolerance of SEMANTICS.md §6 for float32 kernels.
constexpr double kTolerance = 1e-4;

} // namespace pce::agree

#endif // PCE_RUNTIME_REFERENCE_MODELTEXT_H
