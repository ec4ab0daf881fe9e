//===- Reshape.h - pruning and splitting a PCE layer's experts -----------===//
//
// The rules of pce-reshape (docs/Analysis.md, "Pruning and splitting
// experts"), without files or MLIR so that tests can check them on tensors
// built by hand:
//   decideExperts  which experts a layer keeps, prunes and splits, from its
//                  usage (and per-expert entropy when the report has one);
//   expertAxis     where a parameter of the layer holds its experts, by the
//                  manifest's role (and, for the MLP router, which of w1/w2);
//   reshapeLayer   every per-expert tensor of the layer cut and copied to the
//                  new expert order; split copies get a perturbed kernel and,
//                  with an MLP router, both halves of a pair b2 - log 2.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_TOOLS_PCE_RESHAPE_RESHAPE_H
#define PCE_TOOLS_PCE_RESHAPE_RESHAPE_H

#include "runtime/HostTensor.h"
#include "runtime/ParameterRole.h"
#include "runtime/Status.h"

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace pce::reshape {

/// A split: the old expert, and the two new experts it becomes (`stays` is
/// the original at its new place, `copy` the appended duplicate).
struct Split {
  int64_t expert = 0;
  int64_t stays = 0, copy = 0;
};

/// The new experts of one layer in terms of the old ones.
struct ExpertMap {
  int64_t before = 0;
  /// [after]: the old expert each new expert starts from. The kept (and
  /// split) experts in their old order, then one copy per split, in order.
  std::vector<int64_t> origin;
  std::vector<int64_t> pruned; ///< old indices, ascending
  std::vector<Split> splits;
  int64_t after() const { return int64_t(origin.size()); }
  bool identity() const { return pruned.empty() && splits.empty(); }
};

/// Thresholds of the command line; an absent one is not applied.
struct Thresholds {
  std::optional<double> pruneUsageBelow;   ///< U: prune when usage < U
  std::optional<double> splitUsageAbove;   ///< S: split when usage > S
  std::optional<double> splitEntropyAbove; ///< H: split when entropy > H
};

enum class Action { Keep, Prune, Split };
const char *actionName(Action action);

/// What happens to one old expert, and why (for the table and reshape.json).
struct ExpertDecision {
  int64_t expert = 0;
  double usage = 0;
  std::optional<double> entropy;
  Action action = Action::Keep;
  std::string why; ///< e.g. "usage 0.4% < 1.0%"; "" when kept by default
};

struct LayerDecision {
  std::vector<ExpertDecision> experts; ///< one per old expert
  ExpertMap map;
  /// Set when the prune rule would have removed every expert and the most
  /// used one was kept instead.
  std::string note;
};

/// The decisions for experts of usage `usage` (and per-expert entropy, when
/// given: same length). An expert is pruned when its usage is below U, else
/// split when its usage is above S or its entropy above H. At least one
/// expert always stays (the most used; ties: the lower index).
LayerDecision decideExperts(const std::vector<double> &usage,
                            const std::vector<double> *entropy,
                            const Thresholds &thresholds);

/// Where a parameter holds its experts: along `dim`, `block` consecutive
/// entries per expert (1, or Co for a concat projection's columns).
struct ExpertAxis {
  int dim = 0;
  int64_t block = 1;
};

/// The expert axis of parameter `name` (of role `role`, shape `shape`) of a
/// PCE layer with `experts` experts of `outChannels` channels each; nullopt
/// for a parameter without one (embedding, w1/b1, log tau, proj bias, SE).
/// An error for a role a PCE layer cannot have, no role, or a shape that does
/// not fit the role.
rt::Expected<std::optional<ExpertAxis>> expertAxis(const std::string &name,
                                                   std::optional<rt::ParamRole> role,
                                                   const std::vector<int64_t> &shape,
                                                   int64_t experts, int64_t outChannels);

/// `t` with its entries along `axis` regrouped: new block i is old block
/// origin[i] (any dtype; bytes are copied exactly).
rt::Expected<rt::HostTensor> gatherExperts(const rt::HostTensor &t, const ExpertAxis &axis,
                                           const std::vector<int64_t> &origin);

/// One parameter of the layer as the manifest lists it.
struct LayerParam {
  std::string name;
  std::optional<rt::ParamRole> role;
};

struct SurgeryOptions {
  double perturb = 1e-2; ///< EPS: relative noise on a split copy's kernel
};

/// Applies `map` to the layer's parameters `params` in `tensors` (replaced in
/// place; tensors of other layers are not touched). Split copies: the
/// kernel gets k + EPS * rms(k) * n, n ~ N(0, 1) drawn from `rng` in
/// element order (f32/f64 kernels only); with an MLP router (a
/// router_mlp_bias with an expert axis) both experts of each pair get
/// b2 - log 2, so the pair's softmax mass equals the old expert's and every
/// other expert's weight is unchanged. Checks everything before changing
/// anything: on error `tensors` is as it was.
rt::Status reshapeLayer(std::map<std::string, rt::HostTensor> &tensors,
                        const std::vector<LayerParam> &params, const ExpertMap &map,
                        const SurgeryOptions &options, std::mt19937_64 &rng);

} // namespace pce::reshape

#endif // PCE_TOOLS_PCE_RESHAPE_RESHAPE_H
