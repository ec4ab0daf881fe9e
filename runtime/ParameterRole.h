//===- ParameterRole.h - what a parameter is, and how it starts -----------===//
//
// The manifest records each parameter's role (a conv kernel, a batch norm's
// gamma, router keys, ...) and its initialiser. initialiserFor is the one
// rule from role and shape to initialiser: the compiler calls it to write the
// manifest, pce-init samples what the manifest says, and pce-train calls it
// for the tensors it creates itself, so the three cannot disagree (the rule
// follows docs/Training.md §4: He-normal kernels and weights with the fan-in
// of their layout, unit-norm router keys, identity mix projections, log tau
// at the layer's tau, batch norm at the identity, biases at zero).
//
// Plain C++: the dialect reads the role names (pce.role) from here too.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_PARAMETERROLE_H
#define PCE_RUNTIME_PARAMETERROLE_H

#include "runtime/HostTensor.h"
#include "runtime/Status.h"

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace pce::rt {

enum class ParamRole {
  ConvKernel,      // [Co, Cin, kh, kw]
  ConvBias,        // [Co]
  LinearWeight,    // [in, out] (input-major: y = x W)
  LinearBias,      // [out]
  BnGamma,         // [C] or per expert [E, Co]
  BnBeta,
  BnRunningMean,
  BnRunningVar,
  EmbedWeight,     // [De, Cin]
  EmbedBias,       // [De]
  RouterKeys,      // [E, D]
  RouterMlpWeight, // [out, in]
  RouterMlpBias,
  RouterLogTau,    // []
  ExpertKernel,    // [E, Co, Cin, k, k]
  ExpertScale,     // [E, Co] (folded batch norm)
  ExpertShift,
  MixProjWeight,   // [Co', E*Co]
  MixProjBias,
  SeWeight,        // [out, in]
  SeBias,
  HeatmapBias,     // [K] of a detection head: starts at the logit of kHeatmapPrior
};
// A detection heatmap starts at this probability everywhere (CenterNet's
// -2.19 bias): the focal loss of a 0.5 start is dominated by the many
// background cells and its first steps diverge.
constexpr double kHeatmapPrior = 0.1;

// The role's name in the manifest and in `pce.role`: "conv_kernel", ...
const char *paramRoleName(ParamRole role);
std::optional<ParamRole> parseParamRole(std::string_view name);
// Every role name, for messages ("one of conv_kernel, conv_bias, ...").
const std::vector<std::string> &paramRoleNames();

struct Initialiser {
  enum class Kind {
    Constant,       // every element `value`
    HeNormal,       // normal(0, sqrt(2 / fanIn))
    UnitRows,       // normal(0, 1), each row (last dimension) scaled to unit norm
    IdentityBlocks, // [r, k*r]: k identity matrices side by side
  };
  Kind kind = Kind::Constant;
  double value = 0;  // Constant
  int64_t fanIn = 1; // HeNormal

  bool operator==(const Initialiser &o) const {
    return kind == o.kind && value == o.value && fanIn == o.fanIn;
  }
};
const char *initialiserKindName(Initialiser::Kind kind);
std::optional<Initialiser::Kind> parseInitialiserKind(std::string_view name);

// What the rule needs beyond role and shape.
struct InitContext {
  double tau = 1.0;    // the router's temperature (RouterLogTau starts at log tau)
  int64_t experts = 0; // the layer's E (MixProjWeight [Co, E*Co] starts as E identities); 0: unknown
};

// The initialiser of a parameter of `role` and `shape`; an error when the
// shape cannot be one of that role (e.g. a rank-3 conv kernel).
Expected<Initialiser> initialiserFor(ParamRole role, const std::vector<int64_t> &shape,
                                     const InitContext &context = {});

// Fills `tensor` (f32 or f64) as `init` says, drawing from `rng`: normal
// samples in element order (std::normal_distribution), deterministic for a
// seed. Fails for another dtype or a shape the initialiser cannot fill.
Status initialise(const Initialiser &init, HostTensor &tensor, std::mt19937_64 &rng);

} // namespace pce::rt

#endif // PCE_RUNTIME_PARAMETERROLE_H
