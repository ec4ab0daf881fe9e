//===- ModelImporter.h - the importer's state, shared by its files -------===//
//
// Private to frontend/: the walk over a parsed description (Importer.cpp:
// ordinary layers and the module; ImportPCE.cpp: `pce` layers;
// ImportHead.cpp: the heads). It tracks the current tensor's shape so that
// every shape rule is reported at the key that breaks it, before any op
// exists.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_FRONTEND_MODELIMPORTER_H
#define PCE_FRONTEND_MODELIMPORTER_H

#include "frontend/Diagnostics.h"
#include "frontend/Importer.h"
#include "frontend/ModelDescription.h"

#include "dialect/PCEShapes.h"
#include "runtime/ParameterRole.h"
#include "runtime/dense/HeadSpec.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringMap.h"

#include <string>
#include <utility>
#include <vector>

namespace pce::frontend::detail {

using llvm::SMLoc;
using mlir::ArrayRef;
using mlir::Block;
using mlir::FailureOr;
using mlir::InFlightDiagnostic;
using mlir::Location;
using mlir::LogicalResult;
using mlir::MLIRContext;
using mlir::ModuleOp;
using mlir::OpBuilder;
using mlir::OwningOpRef;
using mlir::SmallVector;
using mlir::Type;
using mlir::Value;
namespace rt = ::pce::rt;
namespace shapes = mlir::pce::shapes;

/// A batch norm's parameters (a layer's, or per expert) and the experts'
/// folded form, in operand order.
inline const std::pair<llvm::StringRef, rt::ParamRole> kBatchNormParams[] = {
    {"gamma", rt::ParamRole::BnGamma},
    {"beta", rt::ParamRole::BnBeta},
    {"running_mean", rt::ParamRole::BnRunningMean},
    {"running_var", rt::ParamRole::BnRunningVar}};
inline const std::pair<llvm::StringRef, rt::ParamRole> kAffineParams[] = {
    {"scale", rt::ParamRole::ExpertScale}, {"shift", rt::ParamRole::ExpertShift}};

/// A value of the forward function and its static shape.
struct Tensor {
  Value value;
  SmallVector<int64_t> shape;
};

/// One import: construct, run() once.
class ModelImporter {
public:
  ModelImporter(const ModelDescription &model, Diagnostics &diag)
      : model(model), diag(diag), ctx(diag.getContext()), builder(ctx),
        f32(mlir::Float32Type::get(ctx)) {}

  OwningOpRef<ModuleOp> run();
  /// Per-image shapes of every layer, then the head's input (after run()).
  std::vector<LayerShapes> shapes;

private:
  Location loc(SMLoc at) const { return diag.location(at); }
  InFlightDiagnostic error(SMLoc at) const { return diag.error(at); }

  /// Rejects tensors too large to index with int64 arithmetic downstream.
  LogicalResult checkElements(ArrayRef<int64_t> shape, SMLoc at,
                              const llvm::Twine &what);
  /// Reports the first overflow `sizes` recorded, for layer `name`.
  LogicalResult checkSizes(const shapes::CheckedSizes &sizes, SMLoc at,
                           llvm::StringRef name);
  /// A new argument `{pce.param = "<owner>.<name>", pce.role = role}` of
  /// `shape`.
  FailureOr<Value> param(llvm::StringRef owner, llvm::StringRef name,
                         rt::ParamRole role, ArrayRef<int64_t> shape, SMLoc at);
  /// Fails unless the current tensor is 4-D [B, C, H, W].
  LogicalResult expectImage(const LayerDesc &layer);
  /// "layer 'b' receives [16, 8, 28, 28] from 'a' (pce)", for messages.
  std::string currentIs(llvm::StringRef layerName) const;

  LogicalResult importLayer(const LayerDesc &layer);
  LogicalResult importPCE(const LayerDesc &layer);
  LogicalResult importConv(const LayerDesc &layer);
  LogicalResult importBatchNorm(const LayerDesc &layer);
  LogicalResult importPool(const LayerDesc &layer);
  LogicalResult importLinear(const LayerDesc &layer);
  LogicalResult importResidual(const LayerDesc &layer);
  LogicalResult importConcat(const LayerDesc &layer);
  LogicalResult importUpsample(const LayerDesc &layer);
  /// The output of the earlier layer `from` names, or an error at `from`.
  const Tensor *earlierOutput(const LayerDesc &layer,
                              const Located<std::string> &from);
  LogicalResult importHead(const HeadDesc &head);
  /// A 1x1 convolution `head.<name>` to `channels` (bias role `biasRole`).
  FailureOr<Value> headConv(const HeadDesc &head, llvm::StringRef name,
                            int64_t channels, rt::ParamRole biasRole);

  const ModelDescription &model;
  Diagnostics &diag;
  MLIRContext *ctx;
  OpBuilder builder;
  Type f32;
  Block *body = nullptr;
  SmallVector<std::string> argNames; // argument i's pce.param / pce.input
  SmallVector<rt::ParamRole> argRoles; // parameter i's (argument i + 1's) pce.role
  Tensor current;
  std::string currentFrom = "the input";
  llvm::StringMap<Tensor> outputs; // by layer name, for `residual` and `concat`
  rt::HeadSpec headSpec;
};

} // namespace pce::frontend::detail

#endif // PCE_FRONTEND_MODELIMPORTER_H
