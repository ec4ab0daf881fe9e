//===- GradCheck.h - compiled backward against finite differences -*- C++ -*-===//
//
// A gradient check of a compiled, differentiated model:
//
//   1. the model (a pce::agree::ModelText in float64, marked differentiable)
//      is compiled with the real pce-compile, which runs
//      pce-generate-backward and so builds @forward_train and
//      @forward_backward beside @forward;
//   2. @forward_train runs on the model's values plus freshly drawn noise
//      inputs (`noise.<k>.normal` ~ N(0,1), `noise.<k>.gumbel` ~ Gumbel(0,1));
//      its results are compared with the reference's (training semantics);
//   3. @forward_backward runs with the saved values and a random cotangent
//      for every result; the gradient of every argument is compared with
//      central finite differences of L = sum_r <cotangent_r, reference_r>
//      (the float64 reference, runtime/reference) at sampled elements, or with
//      the reference's autograd where finite differences cannot see the
//      gradient (a straight-through estimator).
//
// SEMANTICS.md §6: gradients within 1e-3 relative.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_TEST_GRADCHECK_GRADCHECK_H
#define PCE_TEST_GRADCHECK_GRADCHECK_H

#include "test/agreement/Harness.h"

#include <functional>
#include <map>
#include <set>
#include <string>

namespace pce::grad {

using Tensors = std::map<std::string, torch::Tensor>;

/// The float64 reference in training semantics: every result of @forward
/// (by its pce.output / pce.routing name), and optionally the `batch.*`
/// statistics, from the model's values plus the noise inputs (`noise.*`,
/// named as in the manifest). Built from torch ops so that autograd can
/// differentiate it when asked.
using ReferenceFn = std::function<Tensors(const Tensors &values)>;

struct Options {
  /// Elements sampled per argument for finite differences.
  int samples = 16;
  /// Central-difference step (relative to max(1, |value|)).
  double step = 1e-6;
  /// Compare with the reference's autograd instead of finite differences.
  bool autograd = false;
  /// Arguments that are not differentiated (their gradient is neither
  /// expected nor checked); by default every name containing "running_".
  std::set<std::string> constants;
  /// Extra pce-compile flags (e.g. another --target).
  std::string compileFlags;
};

struct Result {
  /// Largest relative error of any gradient (SEMANTICS.md §6 form:
  /// max|g - ref| / max(1e-2, max|ref|) per argument).
  double gradientError = 0;
  /// Largest relative error of the training forward's results.
  double forwardError = 0;
};

/// Runs the check; records GoogleTest failures (with the argument's name and
/// the worst element) and returns the errors. `tag` names the work directory.
Result check(pce::agree::ModelText model, const std::string &tag,
             const ReferenceFn &reference, const Options &options = {});

/// Pieces of check(), for checks of other shapes (e.g. float32 code against
/// autograd): the entry point `name` of `artifact` (null if absent); a random
/// value for every argument of `entry` named `<prefix>...` — Gumbel(0, 1) for
/// `*.gumbel`, N(0, 1) otherwise — rounded to float32 when `f32`; and `entry`
/// run on float64 or float32 host copies of `values` (empty, with a recorded
/// failure, on a runtime error).
const rt::EntryPoint *findEntry(const rt::Artifact &artifact, const std::string &name);
Tensors drawArguments(const rt::EntryPoint &entry, const std::string &prefix,
                      bool f32 = false);
Tensors runEntry(const rt::Artifact &artifact, const std::string &entry,
                 const Tensors &values, bool f64 = true);

/// Prints `[gradcheck] what: gradient error X, forward error Y`.
void report(const std::string &what, const Result &result);

constexpr double kGradientTolerance = 1e-3;
/// The training forward in float64 against the float64 reference.
constexpr double kForwardTolerance = 1e-9;

} // namespace pce::grad

#endif // PCE_TEST_GRADCHECK_GRADCHECK_H
