//===- PCEAttributes.cpp - verifier of the pce discardable attributes -----===//
//
// One table says, for each `pce.*` attribute, where it may stand and what
// value it holds; the dialect's three attribute hooks check an attribute
// against it, so that a misspelt name or a misplaced attribute is reported
// where it is written instead of being ignored by the passes and tools that
// look for the right one.
//
//===----------------------------------------------------------------------===//

#include "dialect/PCEAttributes.h"
#include "dialect/PCEDialect.h"
#include "runtime/ParameterRole.h"
#include "runtime/dense/HeadSpec.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace mlir::pce;

namespace {
/// Where an attribute may stand.
enum class Place {
  Argument,
  /// A result, or the argument that buffer-results-to-out-params makes of
  /// it (the result's attributes move with it).
  Result,
  Function,
  Module
};
/// What it holds.
enum class Holds { Name, String, Unit, Role, Head };

struct AttrSpec {
  llvm::StringLiteral name;
  Place place;
  Holds value;
};
} // namespace

static const AttrSpec kSpecs[] = {
    {kInputAttrName, Place::Argument, Holds::Name},
    {kParamAttrName, Place::Argument, Holds::Name},
    {kRoleAttrName, Place::Argument, Holds::Role},
    {kOutputAttrName, Place::Result, Holds::Name},
    {kRoutingAttrName, Place::Result, Holds::Name},
    {kDifferentiableAttrName, Place::Function, Holds::Unit},
    {kLayerNameAttrName, Place::Function, Holds::Name},
    {kTrainingPlanAttrName, Place::Module, Holds::String},
    {kHeadAttrName, Place::Module, Holds::Head},
};

static const AttrSpec *lookup(StringRef name) {
  for (const AttrSpec &spec : kSpecs)
    if (spec.name == name)
      return &spec;
  return nullptr;
}

static StringRef describe(Place place) {
  switch (place) {
  case Place::Argument:
    return "a function argument attribute";
  case Place::Result:
    return "a function result attribute (or of the out-parameter a result "
           "becomes in bufferization)";
  case Place::Function:
    return "an attribute of a function";
  case Place::Module:
    return "an attribute of a builtin.module";
  }
  llvm_unreachable("unknown place");
}

static std::string describe(Holds value) {
  switch (value) {
  case Holds::Name:
    return "a non-empty string (a name)";
  case Holds::String:
    return "a string";
  case Holds::Unit:
    return "a unit attribute (no value)";
  case Holds::Head:
    return "a head as JSON (runtime/dense/HeadSpec.h)";
  case Holds::Role:
    return "a parameter role (" +
           llvm::join(::pce::rt::paramRoleNames(), ", ") + ")";
  }
  llvm_unreachable("unknown value");
}

/// "unknown attribute 'pce.inptu' (did you mean 'pce.input'?)".
static LogicalResult unknown(Operation *op, StringRef where,
                             NamedAttribute attr) {
  StringRef name = attr.getName().strref();
  StringRef best;
  unsigned bestDistance = 3; // suggest only close spellings
  for (const AttrSpec &spec : kSpecs) {
    unsigned d = name.edit_distance(spec.name, /*AllowReplacements=*/true,
                                    bestDistance);
    if (d < bestDistance) {
      bestDistance = d;
      best = spec.name;
    }
  }
  InFlightDiagnostic diag = op->emitOpError()
                            << "unknown attribute '" << name << "'" << where;
  if (!best.empty())
    diag << " (did you mean '" << best << "'?)";
  else
    diag << "; the pce dialect defines "
         << llvm::join(llvm::map_range(kSpecs,
                                       [](const AttrSpec &s) -> StringRef {
                                         return s.name;
                                       }),
                       ", ");
  return diag;
}

static LogicalResult checkValue(Operation *op, const AttrSpec &spec,
                                Attribute value, StringRef where) {
  bool ok = false;
  switch (spec.value) {
  case Holds::Name:
    if (auto s = dyn_cast<StringAttr>(value))
      ok = !s.getValue().empty();
    break;
  case Holds::String:
    ok = isa<StringAttr>(value);
    break;
  case Holds::Unit:
    ok = isa<UnitAttr>(value);
    break;
  case Holds::Role:
    if (auto s = dyn_cast<StringAttr>(value))
      ok = ::pce::rt::parseParamRole(s.getValue().str()).has_value();
    break;
  case Holds::Head:
    if (auto s = dyn_cast<StringAttr>(value)) {
      auto head = ::pce::rt::parseHeadSpec(s.getValue().str(), "JSON");
      if (!head)
        return op->emitOpError() << "attribute '" << spec.name << "'" << where
                                 << ": " << head.error();
      ok = true;
    }
    break;
  }
  if (ok)
    return success();
  return op->emitOpError() << "attribute '" << spec.name << "'" << where
                           << " must be " << describe(spec.value) << ", found "
                           << value;
}

/// Reports `attr`, found `where`: unknown, or known but not allowed there.
static LogicalResult misplaced(Operation *op, NamedAttribute attr,
                               StringRef where) {
  const AttrSpec *spec = lookup(attr.getName().strref());
  if (!spec)
    return unknown(op, where, attr);
  return op->emitOpError() << "attribute '" << spec->name << "' is "
                           << describe(spec->place) << ", found" << where;
}

/// Checks `attr`, found at `place` (described by `where`), against the table.
static LogicalResult verify(Operation *op, NamedAttribute attr, Place place,
                            StringRef where) {
  const AttrSpec *spec = lookup(attr.getName().strref());
  bool outParam = place == Place::Argument && spec &&
                  spec->place == Place::Result;
  if (!spec || (spec->place != place && !outParam))
    return misplaced(op, attr, where);
  return checkValue(op, *spec, attr.getValue(), where);
}

LogicalResult PCEDialect::verifyOperationAttribute(Operation *op,
                                                   NamedAttribute attr) {
  std::string where = (" on '" + op->getName().getStringRef() + "'").str();
  if (isa<ModuleOp>(op))
    return verify(op, attr, Place::Module, where);
  if (isa<FunctionOpInterface>(op))
    return verify(op, attr, Place::Function, where);
  return misplaced(op, attr, where);
}

LogicalResult PCEDialect::verifyRegionArgAttribute(Operation *op,
                                                   unsigned regionIndex,
                                                   unsigned argIndex,
                                                   NamedAttribute attr) {
  std::string where = " on argument #" + std::to_string(argIndex);
  auto func = dyn_cast<FunctionOpInterface>(op);
  if (!func || regionIndex != 0)
    return misplaced(op, attr, where);
  if (failed(verify(op, attr, Place::Argument, where)))
    return failure();
  // A role says what a parameter is.
  if (attr.getName() == kRoleAttrName && !getParamName(func, argIndex))
    return op->emitOpError()
           << "argument #" << argIndex << " has '" << kRoleAttrName
           << "' but no '" << kParamAttrName << "': only a parameter has a role";
  // An argument is an input or a parameter, not both.
  if (attr.getName() == kParamAttrName && getInputName(func, argIndex))
    return op->emitOpError()
           << "argument #" << argIndex << " has both '" << kInputAttrName
           << "' and '" << kParamAttrName << "': an argument is an input or a "
           << "parameter";
  return success();
}

LogicalResult PCEDialect::verifyRegionResultAttribute(
    Operation *op, unsigned regionIndex, unsigned resultIndex,
    NamedAttribute attr) {
  std::string where = " on result #" + std::to_string(resultIndex);
  if (!isa<FunctionOpInterface>(op) || regionIndex != 0)
    return misplaced(op, attr, where);
  if (failed(verify(op, attr, Place::Result, where)))
    return failure();
  auto func = cast<FunctionOpInterface>(op);
  if (attr.getName() == kRoutingAttrName && getOutputName(func, resultIndex))
    return op->emitOpError()
           << "result #" << resultIndex << " has both '" << kOutputAttrName
           << "' and '" << kRoutingAttrName << "': a result is an output or "
           << "routing weights";
  return success();
}

//===----------------------------------------------------------------------===//
// Accessors
//===----------------------------------------------------------------------===//

StringAttr mlir::pce::getInputName(FunctionOpInterface func, unsigned index) {
  return func.getArgAttrOfType<StringAttr>(index, kInputAttrName);
}

StringAttr mlir::pce::getParamName(FunctionOpInterface func, unsigned index) {
  return func.getArgAttrOfType<StringAttr>(index, kParamAttrName);
}

StringAttr mlir::pce::getParamRole(FunctionOpInterface func, unsigned index) {
  return func.getArgAttrOfType<StringAttr>(index, kRoleAttrName);
}

StringAttr mlir::pce::getOutputName(FunctionOpInterface func, unsigned index) {
  return func.getResultAttrOfType<StringAttr>(index, kOutputAttrName);
}

StringAttr mlir::pce::getRoutingName(FunctionOpInterface func,
                                     unsigned index) {
  return func.getResultAttrOfType<StringAttr>(index, kRoutingAttrName);
}

NamedAttribute mlir::pce::makeNameAttr(MLIRContext *ctx, StringRef name,
                                       const llvm::Twine &value) {
  return NamedAttribute(StringAttr::get(ctx, name), StringAttr::get(ctx, value));
}

bool mlir::pce::isDifferentiable(Operation *func) {
  return func->hasAttr(kDifferentiableAttrName);
}

StringAttr mlir::pce::getLayerName(Operation *func) {
  return func->getAttrOfType<StringAttr>(kLayerNameAttrName);
}
