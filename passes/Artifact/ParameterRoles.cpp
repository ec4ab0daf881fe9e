//===- ParameterRoles.cpp - each parameter's role, for the manifest -------===//

#include "passes/Artifact/ParameterRoles.h"

#include "dialect/PCEAttributes.h"
#include "dialect/PCEOps.h"

#include "mlir/Interfaces/FunctionInterfaces.h"

#include <optional>

using namespace mlir;
using namespace mlir::pce;
namespace rt = ::pce::rt;
using Role = rt::ParamRole;

namespace {

/// The position of `use` inside ODS operand group `group` of `op`, if it is
/// in that group.
template <typename OpT>
std::optional<unsigned> inGroup(OpT op, OpOperand &use, unsigned group) {
  auto [start, length] = op.getODSOperandIndexAndLength(group);
  unsigned n = use.getOperandNumber();
  if (n >= start && n < start + length)
    return n - start;
  return std::nullopt;
}

/// Roles of a group of alternating weights and biases: W, b, W, b, ...
Role weightOrBias(unsigned i, Role weight, Role bias) { return i % 2 ? bias : weight; }

const Role kBatchNorm[] = {Role::BnGamma, Role::BnBeta, Role::BnRunningMean, Role::BnRunningVar};
const Role kAffine[] = {Role::ExpertScale, Role::ExpertShift};

int64_t leadingDim(Value v) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  return type && type.getRank() > 0 ? type.getDimSize(0) : 0;
}

/// What the pce op reading `use` makes of that operand, and the context of
/// its initialiser; nullopt for any other use.
std::optional<Role> roleOfUse(OpOperand &use, rt::InitContext &context) {
  Operation *owner = use.getOwner();
  if (auto layer = dyn_cast<LayerOp>(owner)) {
    context.tau = layer.getTau() ? layer.getTau()->convertToDouble() : 1.0;
    context.experts = leadingDim(layer.getKernels());
    // Groups: input, embed, keys, mlp, log_tau, kernels, bn, affine, proj, se.
    if (auto i = inGroup(layer, use, 1))
      return weightOrBias(*i, Role::EmbedWeight, Role::EmbedBias);
    if (inGroup(layer, use, 2))
      return Role::RouterKeys;
    if (auto i = inGroup(layer, use, 3))
      return weightOrBias(*i, Role::RouterMlpWeight, Role::RouterMlpBias);
    if (inGroup(layer, use, 4))
      return Role::RouterLogTau;
    if (inGroup(layer, use, 5))
      return Role::ExpertKernel;
    if (auto i = inGroup(layer, use, 6); i && *i < 4)
      return kBatchNorm[*i];
    if (auto i = inGroup(layer, use, 7); i && *i < 2)
      return kAffine[*i];
    if (auto i = inGroup(layer, use, 8))
      return weightOrBias(*i, Role::MixProjWeight, Role::MixProjBias);
    if (auto i = inGroup(layer, use, 9))
      return weightOrBias(*i, Role::SeWeight, Role::SeBias);
    return std::nullopt;
  }
  if (auto embed = dyn_cast<EmbedOp>(owner)) {
    if (use.get() == embed.getWeight())
      return Role::EmbedWeight;
    if (use.get() == embed.getBias())
      return Role::EmbedBias;
    return std::nullopt;
  }
  if (auto route = dyn_cast<RouteOp>(owner)) {
    context.tau = route.getTauValue();
    // Groups: input, keys, mlp, log_tau.
    if (inGroup(route, use, 1))
      return Role::RouterKeys;
    if (auto i = inGroup(route, use, 2))
      return weightOrBias(*i, Role::RouterMlpWeight, Role::RouterMlpBias);
    if (inGroup(route, use, 3))
      return Role::RouterLogTau;
    return std::nullopt;
  }
  if (auto experts = dyn_cast<ExpertsOp>(owner)) {
    // Groups: patches, kernels, bn, affine.
    if (inGroup(experts, use, 1))
      return Role::ExpertKernel;
    if (auto i = inGroup(experts, use, 2); i && *i < 4)
      return kBatchNorm[*i];
    if (auto i = inGroup(experts, use, 3); i && *i < 2)
      return kAffine[*i];
    return std::nullopt;
  }
  if (auto mix = dyn_cast<MixOp>(owner)) {
    auto weights = dyn_cast<RankedTensorType>(mix.getWeights().getType());
    context.experts = weights && weights.getRank() > 0 ? weights.getShape().back() : 0;
    if (auto i = inGroup(mix, use, 2))
      return weightOrBias(*i, Role::MixProjWeight, Role::MixProjBias);
    return std::nullopt;
  }
  if (auto attention = dyn_cast<AttentionOp>(owner)) {
    if (auto i = inGroup(attention, use, 1))
      return weightOrBias(*i, Role::SeWeight, Role::SeBias);
    return std::nullopt;
  }
  return std::nullopt;
}

} // namespace

namespace pce::compile {

FailureOr<llvm::StringMap<ParameterRole>> collectParameterRoles(ModuleOp module) {
  llvm::StringMap<ParameterRole> roles;
  bool ok = true;
  module.walk([&](FunctionOpInterface func) {
    if (func.isExternal())
      return;
    for (unsigned i = 0, e = func.getNumArguments(); i < e && ok; ++i) {
      StringAttr name = getParamName(func, i);
      if (!name)
        continue;
      rt::InitContext context;
      std::optional<Role> role;
      for (OpOperand &use : func.getArgument(i).getUses())
        if (std::optional<Role> r = roleOfUse(use, context); r && !role)
          role = r;
      if (StringAttr given = getParamRole(func, i))
        role = rt::parseParamRole(given.getValue().str()); // verified by the dialect
      if (!role)
        continue;
      auto [it, fresh] = roles.try_emplace(name.getValue(), ParameterRole{*role, context});
      if (!fresh && it->second.role != *role) {
        func.emitError() << "parameter '" << name.getValue() << "' is a "
                         << rt::paramRoleName(*role) << " here and a "
                         << rt::paramRoleName(it->second.role) << " elsewhere";
        ok = false;
      }
    }
  });
  if (!ok)
    return failure();
  return roles;
}

LogicalResult assignRoles(std::vector<rt::ParameterSpec> &parameters,
                          const llvm::StringMap<ParameterRole> &roles, ModuleOp module) {
  for (rt::ParameterSpec &p : parameters) {
    auto it = roles.find(p.name);
    if (it == roles.end())
      continue;
    auto init = rt::initialiserFor(it->second.role, p.shape, it->second.context);
    if (!init)
      return module.emitError() << "parameter '" << p.name << "' "
                                << rt::TensorSpec(p).typeString() << ": " << init.error();
    p.role = it->second.role;
    p.init = *init;
  }
  return success();
}

} // namespace pce::compile
