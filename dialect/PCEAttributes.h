//===- PCEAttributes.h - discardable attributes of the pce dialect -*- C++ -*-===//
//
// Every `pce.*` attribute that annotates IR the dialect does not own (function
// arguments, results, functions, modules), named once here. The dialect's
// attribute verifier (PCEAttributes.cpp) rejects any other `pce.*` name and
// a known one in the wrong place or with the wrong type; code reads and
// writes them through these names and accessors, never a string literal.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_DIALECT_PCEATTRIBUTES_H
#define PCE_DIALECT_PCEATTRIBUTES_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/StringRef.h"

namespace mlir::pce {

/// Argument attribute (string): the name of an input tensor of a function
/// (an entry point's input, or an outlined layer's `x`).
inline constexpr llvm::StringLiteral kInputAttrName = "pce.input";
/// Argument attribute (string): the name of a parameter tensor
/// (`layer1.experts.kernel`).
inline constexpr llvm::StringLiteral kParamAttrName = "pce.param";
/// Argument attribute (string) beside `pce.param`: what the parameter is, one
/// of the role names of runtime/ParameterRole.h (`conv_kernel`, ...); the
/// manifest records it with the initialiser it implies.
inline constexpr llvm::StringLiteral kRoleAttrName = "pce.role";
/// Result attribute (string): the name of an output tensor.
inline constexpr llvm::StringLiteral kOutputAttrName = "pce.output";
/// Result attribute (string): the name of a routing-weights output
/// (pce-expose-routing).
inline constexpr llvm::StringLiteral kRoutingAttrName = "pce.routing";
/// Function attribute (unit): pce-generate-backward differentiates the
/// function.
inline constexpr llvm::StringLiteral kDifferentiableAttrName =
    "pce.differentiable";
/// Function attribute (string): the layer a function was outlined from
/// (pce-outline-layers).
inline constexpr llvm::StringLiteral kLayerNameAttrName = "pce.layer_name";
/// Module attribute (string): the training plan (JSON) of a module that
/// holds one nested module per training phase (pce-translate
/// --import-training).
inline constexpr llvm::StringLiteral kTrainingPlanAttrName =
    "pce.training_plan";
/// Module attribute (string): the model's head as JSON
/// (runtime/dense/HeadSpec.h); the compiler copies it into the manifest.
inline constexpr llvm::StringLiteral kHeadAttrName = "pce.head";

/// The string attribute `name` of argument `index` of `func`, or null.
StringAttr getInputName(FunctionOpInterface func, unsigned index);
StringAttr getParamName(FunctionOpInterface func, unsigned index);
StringAttr getParamRole(FunctionOpInterface func, unsigned index);
/// The string attribute `name` of result `index` of `func`, or null.
StringAttr getOutputName(FunctionOpInterface func, unsigned index);
StringAttr getRoutingName(FunctionOpInterface func, unsigned index);

/// `{name = "value"}` for an argument or result attribute dictionary.
NamedAttribute makeNameAttr(MLIRContext *ctx, llvm::StringRef name,
                            const llvm::Twine &value);

/// Whether `func` is marked `pce.differentiable`.
bool isDifferentiable(Operation *func);
/// The `pce.layer_name` of `func`, or null.
StringAttr getLayerName(Operation *func);

} // namespace mlir::pce

#endif // PCE_DIALECT_PCEATTRIBUTES_H
