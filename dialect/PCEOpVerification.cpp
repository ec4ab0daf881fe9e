//===- PCEOpVerification.cpp - operand checks of the pce ops -------------===//
//
// Checks shared by the verifiers in PCEOps.cpp: each names the operand or
// attribute and the value expected versus found (docs/SEMANTICS.md).
//
//===----------------------------------------------------------------------===//

#include "dialect/PCEOpVerification.h"
#include "dialect/PCEShapes.h"

#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace mlir;
using namespace mlir::pce;
using llvm::formatv;

namespace mlir::pce::checks {

Type elementTypeOf(Value v) {
  if (!v)
    return {};
  Type t = v.getType();
  if (auto shaped = dyn_cast<ShapedType>(t))
    return shaped.getElementType();
  return t;
}

/// The static shape of `v`, or an empty optional when it has none.
std::optional<SmallVector<int64_t>> staticShape(Value v) {
  auto type = v ? dyn_cast<RankedTensorType>(v.getType()) : RankedTensorType();
  if (!type || !type.hasStaticShape())
    return std::nullopt;
  return SmallVector<int64_t>(type.getShape());
}

/// Checks that a variadic operand group holds `expected` values.
LogicalResult checkGroupSize(Operation *op, StringRef group,
                                    ValueRange values, size_t expected,
                                    StringRef layout) {
  if (values.size() == expected)
    return success();
  return op->emitOpError() << "operand group '" << group << "' must hold "
                           << expected << " values " << layout << ", found "
                           << values.size();
}

//===----------------------------------------------------------------------===//
// Router configuration (shared by pce.route and pce.layer)
//===----------------------------------------------------------------------===//


/// Verifies a router's operands and attributes against SEMANTICS.md §3.
/// `numExperts` is E, `width` the embedding width D (or -1 when the router
/// reads none), `numPatches` P. Operands must already be in `shapes`.
LogicalResult verifyRouter(Operation *op, const RouterConfig &c,
                                  OperandChecker &shapes, int64_t numExperts,
                                  int64_t width, int64_t numPatches) {
  StringRef kind = stringifyRouterKind(c.kind);
  auto notFor = [&](StringRef what) {
    return op->emitOpError()
           << what << " does not apply to a '" << kind << "' router";
  };
  bool usesKeys = c.kind == RouterKind::cosine || c.kind == RouterKind::gumbel;
  bool mlp = c.kind == RouterKind::mlp;
  bool usesTau = usesKeys || (mlp && c.cosineHead);

  if (usesKeys && !c.keys)
    return op->emitOpError()
           << "a '" << kind << "' router needs operand 'keys' [E, D]";
  if (!usesKeys && c.keys)
    return notFor("operand 'keys'");
  if (mlp && c.mlp.size() != mlpGroupSize(c.cosineHead))
    return checkGroupSize(op, "mlp", c.mlp, mlpGroupSize(c.cosineHead),
                          c.cosineHead
                              ? "(W1 [Hd, D], b1 [Hd], W2 [E, Hd]; a cosine "
                                "head has no b2)"
                              : "(W1 [Hd, D], b1 [Hd], W2 [E, Hd], b2 [E])");
  if (!mlp && !c.mlp.empty())
    return notFor("operand group 'mlp'");
  if (!mlp && c.normalizeInput)
    return notFor("attribute 'normalize_input'");
  if (!mlp && c.cosineHead)
    return notFor("attribute 'cosine_head'");
  if (!mlp && c.linearHidden)
    return notFor("attribute 'linear_hidden'");
  if (!usesTau && (c.tau || c.logTau))
    return mlp ? op->emitOpError()
                     << (c.tau ? "attribute 'tau'" : "operand 'log_tau'")
                     << " applies to an 'mlp' router only with 'cosine_head'"
               : notFor(c.tau ? "attribute 'tau'" : "operand 'log_tau'");
  if (c.tau && !(*c.tau > 0.0))
    return op->emitOpError() << "attribute 'tau' must be > 0, found " << *c.tau;
  if (c.kind != RouterKind::position) {
    if (c.table)
      return notFor("attribute 'table'");
    if (c.beta != 1.0)
      return notFor("attribute 'beta'");
    if (c.sigma != 0.0)
      return notFor("attribute 'sigma'");
  }
  if (c.kind != RouterKind::gumbel) {
    if (c.gumbelTau != 1.0)
      return notFor("attribute 'gumbel_tau'");
    if (c.hard)
      return notFor("attribute 'hard'");
  }
  if (!(c.gumbelTau > 0.0))
    return op->emitOpError()
           << "attribute 'gumbel_tau' must be > 0, found " << c.gumbelTau;
  if (c.sigma < 0.0 || std::isnan(c.sigma))
    return op->emitOpError()
           << "attribute 'sigma' must be >= 0, found " << c.sigma;
  if (c.topK < 0 || c.topK > numExperts)
    return op->emitOpError() << "attribute 'top_k' must be in [0, "
                             << numExperts << "] (0 = dense, E = " << numExperts
                             << " experts), found " << c.topK;
  if (c.renormalize && c.topK == 0)
    ; // Harmless: dense weights already sum to 1 (canonicalisation drops it).
  if (c.table) {
    if (static_cast<int64_t>(c.table->size()) != numPatches)
      return op->emitOpError()
             << "attribute 'table' has " << c.table->size()
             << " entries, expected one per patch (P = " << numPatches << ")";
    for (auto [p, e] : llvm::enumerate(*c.table))
      if (e < 0 || e >= numExperts)
        return op->emitOpError()
               << "attribute 'table' sends patch " << p << " to expert " << e
               << ", expected an expert in [0, " << numExperts << ")";
  }
  if (usesKeys) {
    if (failed(shapes.check(shapes::expectShape(
            "operand 'keys'", shapes["keys"], {numExperts, width},
            formatv("[E, D] with E = {0} experts, D = {1} the embedding width",
                    numExperts, width)
                .str()))))
      return failure();
  }
  if (mlp) {
    ArrayRef<int64_t> w1 = shapes["mlp W1"];
    if (w1.size() != 2 || w1[1] != width)
      return shapes.check(shapes::expectShape(
          "operand 'mlp W1'", w1, {w1.empty() ? 0 : w1[0], width},
          formatv("[Hd, D] with D = {0} the embedding width", width).str()));
    int64_t hidden = w1[0];
    for (auto [name, expected] :
         {std::pair<StringRef, SmallVector<int64_t>>{"mlp b1", {hidden}},
          {"mlp W2", {numExperts, hidden}},
          {"mlp b2", {numExperts}}})
      if ((name != "mlp b2" || !c.cosineHead) &&
          failed(shapes.check(shapes::expectShape(
              ("operand '" + name + "'").str(), shapes[name], expected,
              formatv("Hd = {0} hidden units from W1, E = {1} experts", hidden,
                      numExperts)
                  .str()))))
        return failure();
  }
  return success();
}

/// Checks the batch-norm operands of experts (`bn` or `affine`, each [E, Co]).
LogicalResult verifyExpertNorm(Operation *op, OperandChecker &shapes,
                                      ValueRange bn, ValueRange affine,
                                      double eps, int64_t numExperts,
                                      int64_t outChannels) {
  if (bn.empty() == affine.empty())
    return op->emitOpError()
           << "needs exactly one of 'bn(gamma, beta, mean, var)' and "
              "'affine(scale, shift)', found "
           << (bn.empty() ? "neither" : "both");
  if (!bn.empty() &&
      (failed(checkGroupSize(op, "bn", bn, 4, "(gamma, beta, mean, var)")) ||
       failed(shapes.addGroup("bn", bn, kBnNames))))
    return failure();
  if (!affine.empty() &&
      (failed(checkGroupSize(op, "affine", affine, 2, "(scale, shift)")) ||
       failed(shapes.addGroup("affine", affine, kAffineNames))))
    return failure();
  ArrayRef<StringRef> names =
      bn.empty() ? ArrayRef(kAffineNames) : ArrayRef(kBnNames);
  StringRef group = bn.empty() ? "affine" : "bn";
  for (StringRef name : names) {
    std::string full = (group + " " + name).str();
    if (failed(shapes.check(shapes::expectShape(
            "operand '" + full + "'", shapes[full], {numExperts, outChannels},
            formatv("[E, Co] with E = {0}, Co = {1} from the kernels",
                    numExperts, outChannels)
                .str()))))
      return failure();
  }
  if (!(eps > 0.0))
    return op->emitOpError() << "attribute 'eps' must be > 0, found " << eps;
  return success();
}

/// Checks the concat projection `proj(Wc [Co', E*Co], bc [Co'])`; returns Co'.
FailureOr<int64_t> verifyProjection(Operation *op,
                                           OperandChecker &shapes, MixKind kind,
                                           ValueRange proj, int64_t numExperts,
                                           int64_t channels) {
  if (kind == MixKind::sum) {
    if (!proj.empty())
      return op->emitOpError()
             << "operand group 'proj' does not apply to 'mix sum'";
    return channels;
  }
  if (failed(checkGroupSize(op, "proj", proj, 2, "(Wc [Co, E*Co], bc [Co])")) ||
      failed(shapes.addGroup("proj", proj, kProjNames)))
    return failure();
  ArrayRef<int64_t> wc = shapes["proj Wc"];
  shapes::CheckedSizes sizes;
  int64_t concatenated = sizes.mul("concatenated channels E*Co", numExperts,
                                   channels);
  if (failed(shapes.check(sizes.error())))
    return failure();
  if (wc.size() != 2 || wc[1] != concatenated)
    return op->emitOpError()
           << "operand 'proj Wc' has shape " << shapes::str(wc)
           << ", expected [Co, " << concatenated << "] (E*Co = " << numExperts
           << "*" << channels << ")";
  if (failed(shapes.check(shapes::expectShape("operand 'proj bc'",
                                              shapes["proj bc"], {wc[0]},
                                              "[Co] with Co from 'Wc'"))))
    return failure();
  return wc[0];
}

/// Checks squeeze-excitation weights `W1 [Hd, Co], b1 [Hd], W2 [Co, Hd], b2
/// [Co]`.
LogicalResult verifySqueezeExcitation(Operation *op,
                                             OperandChecker &shapes,
                                             StringRef group, ValueRange se,
                                             int64_t channels) {
  if (failed(checkGroupSize(op, group, se, 4,
                            "(W1 [Hd, Co], b1 [Hd], W2 [Co, Hd], b2 [Co])")) ||
      failed(shapes.addGroup(group, se, kSeNames)))
    return failure();
  std::string g = group.str();
  ArrayRef<int64_t> w1 = shapes[g + " W1"];
  if (w1.size() != 2 || w1[1] != channels)
    return op->emitOpError()
           << "operand '" << g << " W1' has shape " << shapes::str(w1)
           << ", expected [Hd, " << channels << "] (Co = " << channels
           << " channels)";
  int64_t hidden = w1[0];
  for (auto [name, expected] :
       {std::pair<std::string, SmallVector<int64_t>>{g + " b1", {hidden}},
        {g + " W2", {channels, hidden}},
        {g + " b2", {channels}}})
    if (failed(shapes.check(shapes::expectShape(
            "operand '" + name + "'", shapes[name], expected,
            formatv("Hd = {0} from W1, Co = {1}", hidden, channels).str()))))
      return failure();
  return success();
}

} // namespace mlir::pce::checks
