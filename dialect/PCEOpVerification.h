//===- PCEOpVerification.h - operand checks of the pce ops ------*- C++ -*-===//
//
// Internal to dialect/: what the verifiers of several pce ops share (static
// operand shapes, variadic groups, and the router, batch-norm, projection
// and squeeze-excitation operands that a primitive op and pce.layer both
// carry). PCEOps.cpp holds each op's type inference and verifier.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_DIALECT_PCEOPVERIFICATION_H
#define PCE_DIALECT_PCEOPVERIFICATION_H

#include "dialect/PCEOps.h"

#include "llvm/ADT/STLExtras.h"

#include <map>
#include <optional>
#include <string>

namespace mlir::pce::checks {

/// The element type of `v` when it is shaped, else its type.
Type elementTypeOf(Value v);

/// The static shape of `v`, or an empty optional when it has none.
std::optional<SmallVector<int64_t>> staticShape(Value v);

/// Checks what every pce op requires of its operands: static shapes and one
/// floating-point element type, and hands out their shapes by name.
class OperandChecker {
public:
  explicit OperandChecker(Operation *op) : op(op) {}

  /// Records operand `name`; fails (with a diagnostic) when it is not static
  /// or its element type differs from the first operand's.
  LogicalResult add(StringRef name, Value v) {
    auto shape = staticShape(v);
    if (!shape)
      return op->emitOpError()
             << "operand '" << name << "' must have a static shape, found "
             << v.getType();
    Type element = elementTypeOf(v);
    if (!first.empty() && element != firstElement)
      return op->emitOpError() << "operand '" << name << "' has element type "
                               << element << ", expected " << firstElement
                               << " (the element type of '" << first << "')";
    if (first.empty()) {
      first = name.str();
      firstElement = element;
    }
    shapes[name.str()] = *shape;
    return success();
  }

  /// Records a variadic group whose members are named `names`.
  LogicalResult addGroup(StringRef group, ValueRange values,
                         ArrayRef<StringRef> names) {
    for (auto [name, v] : llvm::zip(names, values))
      if (failed(add((group + " " + name).str(), v)))
        return failure();
    return success();
  }

  ArrayRef<int64_t> operator[](StringRef name) const {
    return shapes.find(name.str())->second;
  }

  /// Emits `error` when it is not empty.
  LogicalResult check(const std::string &error) {
    if (error.empty())
      return success();
    return op->emitOpError(error);
  }

private:
  Operation *op;
  std::string first;
  Type firstElement;
  std::map<std::string, SmallVector<int64_t>> shapes;
};

/// The router part of a pce.route or pce.layer, read off either op.
struct RouterConfig {
  RouterKind kind;
  Value keys;
  ValueRange mlp;
  Value logTau;
  std::optional<double> tau;
  int64_t topK;
  bool renormalize;
  std::optional<ArrayRef<int64_t>> table;
  double beta, sigma, gumbelTau;
  bool hard;
  bool normalizeInput;
  bool cosineHead;
  bool linearHidden;

  template <typename OpTy> static RouterConfig of(OpTy op, RouterKind kind) {
    RouterConfig c;
    c.kind = kind;
    c.keys = op.getKeys();
    c.mlp = op.getMlp();
    c.logTau = op.getLogTau();
    if (op.getTau())
      c.tau = op.getTau()->convertToDouble();
    c.topK = op.getTopK();
    c.renormalize = op.getRenormalize();
    if (op.getTable())
      c.table = *op.getTable();
    c.beta = op.getBeta().convertToDouble();
    c.sigma = op.getSigma().convertToDouble();
    c.gumbelTau = op.getGumbelTau().convertToDouble();
    c.hard = op.getHard();
    c.normalizeInput = op.getNormalizeInput();
    c.cosineHead = op.getCosineHead();
    c.linearHidden = op.getLinearHidden();
    return c;
  }
};

inline const StringRef kMlpNames[] = {"W1", "b1", "W2", "b2"};
/// The MLP group's size: a cosine head has no `b2`.
inline size_t mlpGroupSize(bool cosineHead) { return cosineHead ? 3 : 4; }
inline const StringRef kBnNames[] = {"gamma", "beta", "mean", "var"};
inline const StringRef kAffineNames[] = {"scale", "shift"};
inline const StringRef kProjNames[] = {"Wc", "bc"};
inline const StringRef kSeNames[] = {"W1", "b1", "W2", "b2"};

/// Checks that a variadic operand group holds `expected` values.
LogicalResult checkGroupSize(Operation *op, StringRef group,
                                    ValueRange values, size_t expected,
                                    StringRef layout);

/// Verifies a router's operands and attributes against SEMANTICS.md §3.
/// `numExperts` is E, `width` the embedding width D (or -1 when the router
/// reads none), `numPatches` P. Operands must already be in `shapes`.
LogicalResult verifyRouter(Operation *op, const RouterConfig &c,
                                  OperandChecker &shapes, int64_t numExperts,
                                  int64_t width, int64_t numPatches);

/// Checks the batch-norm operands of experts (`bn` or `affine`, each [E, Co]).
LogicalResult verifyExpertNorm(Operation *op, OperandChecker &shapes,
                                      ValueRange bn, ValueRange affine,
                                      double eps, int64_t numExperts,
                                      int64_t outChannels);

/// Checks the concat projection `proj(Wc [Co', E*Co], bc [Co'])`; returns Co'.
FailureOr<int64_t> verifyProjection(Operation *op,
                                           OperandChecker &shapes, MixKind kind,
                                           ValueRange proj, int64_t numExperts,
                                           int64_t channels);

/// Checks squeeze-excitation weights `W1 [Hd, Co], b1 [Hd], W2 [Co, Hd], b2
/// [Co]`.
LogicalResult verifySqueezeExcitation(Operation *op,
                                             OperandChecker &shapes,
                                             StringRef group, ValueRange se,
                                             int64_t channels);

} // namespace mlir::pce::checks

#endif // PCE_DIALECT_PCEOPVERIFICATION_H
