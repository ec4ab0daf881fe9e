//===- Importer.cpp - model descriptions to the pce dialect ---------------===//
//
// Walks the parsed description layer by layer, tracking the current tensor's
// shape so that every shape rule is reported at the key that breaks it,
// before any op exists (ModelImporter.h; `pce` layers in ImportPCE.cpp, the
// head in ImportHead.cpp). The verifier runs at the end as a safety net: a
// failure there is an importer bug, reported as an internal error.
//
//===----------------------------------------------------------------------===//

#include "frontend/Importer.h"
#include "frontend/ModelImporter.h"
#include "frontend/OrdinaryLayers.h"

#include "dialect/PCEDialect.h"
#include "dialect/PCEOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"

using namespace mlir;
using namespace ::pce::frontend;
using namespace ::pce::frontend::detail;
namespace pir = mlir::pce;

namespace pce::frontend::detail {

LogicalResult ModelImporter::checkElements(ArrayRef<int64_t> shape, SMLoc at,
                                           const llvm::Twine &what) {
  shapes::CheckedSizes sizes;
  int64_t count = sizes.elements("", shape);
  if (!sizes.ok() || count > Limits::kMaxElements)
    return error(at) << what << " would have shape " << shapes::str(shape)
                     << ", more than " << Limits::kMaxElements
                     << " elements, the limit";
  return success();
}

LogicalResult ModelImporter::checkSizes(const shapes::CheckedSizes &sizes,
                                        SMLoc at, llvm::StringRef name) {
  if (sizes.ok())
    return success();
  return error(at) << "layer '" << name << "': " << sizes.error();
}

FailureOr<Value> ModelImporter::param(llvm::StringRef owner, llvm::StringRef name,
                                      rt::ParamRole role,
                                      ArrayRef<int64_t> shape, SMLoc at) {
  std::string full = (owner + "." + name).str();
  if (failed(checkElements(shape, at, "parameter '" + full + "'")))
    return failure();
  argNames.push_back(full);
  argRoles.push_back(role);
  return body->addArgument(RankedTensorType::get(shape, f32), loc(at));
}

std::string ModelImporter::currentIs(llvm::StringRef layerName) const {
  return ("layer '" + layerName + "' receives " + shapes::str(current.shape) +
          " from " + currentFrom)
      .str();
}

LogicalResult ModelImporter::expectImage(const LayerDesc &layer) {
  if (current.shape.size() == 4)
    return success();
  return error(layer.loc) << "a '" << layerKindKey(layer.kind)
                          << "' layer needs a 4-D [B, C, H, W] input; "
                          << currentIs(layer.name.value);
}

LogicalResult ModelImporter::importConv(const LayerDesc &layer) {
  const ConvDesc &d = layer.conv;
  if (failed(expectImage(layer)))
    return failure();
  IntPair stride = d.stride.given ? d.stride.value : IntPair{1, 1};
  IntPair padding = d.padding.given ? d.padding.value : IntPair{0, 0};
  IntPair kernel = d.kernel.value;
  llvm::StringRef name = layer.name.value;
  shapes::CheckedSizes sizes;
  SmallVector<int64_t> padded = {
      current.shape[0], current.shape[1],
      sizes.add("padded height", current.shape[2],
                sizes.mul("padding", 2, padding[0])),
      sizes.add("padded width", current.shape[3],
                sizes.mul("padding", 2, padding[1]))};
  if (failed(checkSizes(sizes, layer.loc, name)))
    return failure();
  SmallVector<int64_t> out = {current.shape[0], d.outChannels.value, 0, 0};
  for (int i = 0; i < 2; ++i) {
    out[2 + i] = layers::windowedSize(current.shape[2 + i], kernel[i], stride[i],
                                      padding[i]);
    if (out[2 + i] < 1)
      return error(d.kernel.loc)
             << "kernel " << kernel[0] << "x" << kernel[1] << " does not fit the "
             << current.shape[2] << "x" << current.shape[3]
             << " input with padding " << padding[0] << "x" << padding[1] << " ("
             << currentIs(layer.name.value) << ")";
  }
  if (failed(checkElements(padded, layer.loc, "the padded input of '" + name + "'")) ||
      failed(checkElements(out, layer.loc, "the output of '" + name + "'")))
    return failure();
  FailureOr<Value> weight =
      param(name, "weight", rt::ParamRole::ConvKernel,
            {d.outChannels.value, current.shape[1], kernel[0], kernel[1]},
            layer.loc);
  if (failed(weight))
    return failure();
  Value bias;
  if (!d.bias.given || d.bias.value) {
    FailureOr<Value> b = param(name, "bias", rt::ParamRole::ConvBias,
                                 {d.outChannels.value}, layer.loc);
    if (failed(b))
      return failure();
    bias = *b;
  }
  current = {layers::conv2d(builder, loc(layer.loc), current.value, *weight, bias,
                            stride, padding),
             out};
  return success();
}

LogicalResult ModelImporter::importBatchNorm(const LayerDesc &layer) {
  if (current.shape.size() != 4 && current.shape.size() != 2)
    return error(layer.loc) << "'batch_norm' needs a [B, C, H, W] or [B, F] input; "
                            << currentIs(layer.name.value);
  SmallVector<Value, 4> params;
  for (auto [p, role] : kBatchNormParams) {
    FailureOr<Value> v = param(layer.name.value, p, role, {current.shape[1]}, layer.loc);
    if (failed(v))
      return failure();
    params.push_back(*v);
  }
  double eps = layer.batchNorm.eps.given ? layer.batchNorm.eps.value : 1e-5;
  current.value = layers::batchNorm(builder, loc(layer.loc), current.value,
                                    params[0], params[1], params[2], params[3], eps);
  return success();
}

LogicalResult ModelImporter::importPool(const LayerDesc &layer) {
  const PoolDesc &d = layer.pool;
  if (failed(expectImage(layer)))
    return failure();
  IntPair kernel = d.kernel.value;
  IntPair stride = d.stride.given ? d.stride.value : kernel;
  SmallVector<int64_t> out = {current.shape[0], current.shape[1], 0, 0};
  for (int i = 0; i < 2; ++i) {
    out[2 + i] = layers::windowedSize(current.shape[2 + i], kernel[i], stride[i], 0);
    if (out[2 + i] < 1)
      return error(d.kernel.loc)
             << "pooling window " << kernel[0] << "x" << kernel[1]
             << " does not fit the " << current.shape[2] << "x"
             << current.shape[3] << " input (" << currentIs(layer.name.value)
             << ")";
  }
  current = {layers::pool2d(builder, loc(layer.loc), current.value,
                            layer.kind == LayerKind::MaxPool, kernel, stride),
             out};
  return success();
}

LogicalResult ModelImporter::importLinear(const LayerDesc &layer) {
  const LinearDesc &d = layer.linear;
  if (current.shape.size() != 2)
    return error(layer.loc)
           << "'linear' needs a 2-D [B, F] input; " << currentIs(layer.name.value)
           << " (add 'flatten' or 'global_avg_pool' before it)";
  int64_t in = current.shape[1], out = d.outFeatures.value;
  // [in, out], the layout of the example's head.fc.weight.
  FailureOr<Value> weight = param(layer.name.value, "weight",
                                     rt::ParamRole::LinearWeight, {in, out}, layer.loc);
  if (failed(weight))
    return failure();
  Value bias;
  if (!d.bias.given || d.bias.value) {
    FailureOr<Value> b = param(layer.name.value, "bias",
                                 rt::ParamRole::LinearBias, {out}, layer.loc);
    if (failed(b))
      return failure();
    bias = *b;
  }
  current = {layers::linear(builder, loc(layer.loc), current.value, *weight, bias),
             {current.shape[0], out}};
  return success();
}

const Tensor *ModelImporter::earlierOutput(const LayerDesc &layer,
                                           const Located<std::string> &from) {
  auto it = outputs.find(from.value);
  if (it != outputs.end())
    return &it->second;
  InFlightDiagnostic err = error(from.loc);
  err << "'from' names no earlier layer: '" << from.value << "'";
  llvm::StringRef best;
  unsigned bestDistance = 3;
  for (const LayerDesc &earlier : model.layers) {
    if (&earlier == &layer)
      break;
    unsigned dist = llvm::StringRef(from.value).edit_distance(
        earlier.name.value, true, bestDistance);
    if (dist < bestDistance) {
      best = earlier.name.value;
      bestDistance = dist;
    }
  }
  if (!best.empty())
    err << "; did you mean '" << best << "'?";
  return nullptr;
}

LogicalResult ModelImporter::importResidual(const LayerDesc &layer) {
  const Located<std::string> &from = layer.residual.from;
  const Tensor *other = earlierOutput(layer, from);
  if (!other)
    return failure();
  if (other->shape != current.shape)
    return error(from.loc) << "'residual' adds the output of '" << from.value
                           << "', " << shapes::str(other->shape)
                           << ", to a tensor of another shape: "
                           << currentIs(layer.name.value);
  current.value = layers::add(builder, loc(layer.loc), current.value, other->value);
  return success();
}

LogicalResult ModelImporter::importConcat(const LayerDesc &layer) {
  const Located<std::string> &from = layer.residual.from;
  if (failed(expectImage(layer)))
    return failure();
  const Tensor *other = earlierOutput(layer, from);
  if (!other)
    return failure();
  if (other->shape.size() != 4 || other->shape[0] != current.shape[0] ||
      other->shape[2] != current.shape[2] || other->shape[3] != current.shape[3])
    return error(from.loc) << "'concat' appends the channels of '" << from.value
                           << "', " << shapes::str(other->shape)
                           << ", which needs the same batch, height and width: "
                           << currentIs(layer.name.value);
  shapes::CheckedSizes sizes;
  SmallVector<int64_t> out = {current.shape[0],
                              sizes.add("channels", current.shape[1], other->shape[1]),
                              current.shape[2], current.shape[3]};
  if (failed(checkSizes(sizes, layer.loc, layer.name.value)) ||
      failed(checkElements(out, layer.loc, "the output of '" + layer.name.value + "'")))
    return failure();
  current = {layers::concatChannels(builder, loc(layer.loc), current.value, other->value),
             out};
  return success();
}

LogicalResult ModelImporter::importUpsample(const LayerDesc &layer) {
  const UpsampleDesc &d = layer.upsample;
  if (failed(expectImage(layer)))
    return failure();
  shapes::CheckedSizes sizes;
  IntPair size = d.size.given ? d.size.value
                              : IntPair{sizes.mul("height", current.shape[2], d.scale.value),
                                        sizes.mul("width", current.shape[3], d.scale.value)};
  SMLoc at = d.size.given ? d.size.loc : d.scale.loc;
  if (failed(checkSizes(sizes, at, layer.name.value)))
    return failure();
  if (size[0] > Limits::kMaxSize || size[1] > Limits::kMaxSize)
    return error(at) << "'upsample' to " << size[0] << "x" << size[1]
                     << " exceeds the limit of " << Limits::kMaxSize << " per side";
  SmallVector<int64_t> out = {current.shape[0], current.shape[1], size[0], size[1]};
  if (failed(checkElements(out, layer.loc, "the output of '" + layer.name.value + "'")))
    return failure();
  bool bilinear = d.mode.given && d.mode.value == UpsampleMode::Bilinear;
  current = {layers::resize(builder, loc(layer.loc), current.value, bilinear, size[0],
                            size[1]),
             out};
  return success();
}

LogicalResult ModelImporter::importLayer(const LayerDesc &layer) {
  switch (layer.kind) {
  case LayerKind::PCE:
    return importPCE(layer);
  case LayerKind::Conv:
    return importConv(layer);
  case LayerKind::BatchNorm:
    return importBatchNorm(layer);
  case LayerKind::ReLU:
    current.value = layers::relu(builder, loc(layer.loc), current.value);
    return success();
  case LayerKind::MaxPool:
  case LayerKind::AvgPool:
    return importPool(layer);
  case LayerKind::GlobalAvgPool:
    if (failed(expectImage(layer)))
      return failure();
    current = {layers::globalAvgPool(builder, loc(layer.loc), current.value),
               {current.shape[0], current.shape[1]}};
    return success();
  case LayerKind::Flatten: {
    if (current.shape.size() == 2) // already [B, F]: nothing to do
      return success();
    shapes::CheckedSizes sizes;
    int64_t features = sizes.mul(
        "features C*H*W",
        sizes.mul("features C*H*W", current.shape[1], current.shape[2]),
        current.shape[3]);
    if (failed(checkSizes(sizes, layer.loc, layer.name.value)) ||
        failed(checkElements({current.shape[0], features}, layer.loc,
                             "the output of 'flatten'")))
      return failure();
    current = {layers::flatten(builder, loc(layer.loc), current.value),
               {current.shape[0], features}};
    return success();
  }
  case LayerKind::Linear:
    return importLinear(layer);
  case LayerKind::Residual:
    return importResidual(layer);
  case LayerKind::Concat:
    return importConcat(layer);
  case LayerKind::Upsample:
    return importUpsample(layer);
  case LayerKind::Sigmoid:
    current.value = layers::sigmoid(builder, loc(layer.loc), current.value);
    return success();
  }
  return failure();
}

OwningOpRef<ModuleOp> ModelImporter::run() {
  const InputDesc &in = model.input;
  SmallVector<int64_t> inputShape = {in.batch.value, in.channels.value,
                                     in.height.value, in.width.value};
  if (failed(checkElements(inputShape, in.loc, "the input")))
    return nullptr;
  OwningOpRef<ModuleOp> module =
      ModuleOp::create(loc(model.name.loc), llvm::StringRef(model.name.value));
  // The body is built detached and moved into the function once every
  // parameter (argument) is known.
  auto block = std::make_unique<Block>();
  body = block.get();
  builder.setInsertionPointToEnd(body);
  argNames.push_back("x");
  current = {body->addArgument(RankedTensorType::get(inputShape, f32), loc(in.loc)),
             inputShape};
  auto perImage = [](ArrayRef<int64_t> shape) {
    return std::vector<int64_t>(shape.begin() + 1, shape.end());
  };
  for (const LayerDesc &layer : model.layers) {
    std::vector<int64_t> in = perImage(current.shape);
    if (failed(importLayer(layer)))
      return nullptr;
    shapes.push_back({in, perImage(current.shape)});
    outputs[layer.name.value] = current;
    currentFrom =
        ("'" + layer.name.value + "' (" + layerKindKey(layer.kind) + ")").str();
  }
  shapes.push_back({perImage(current.shape), {}});
  if (model.head.given && failed(importHead(model.head)))
    return nullptr;
  Location endLoc = loc(model.head.given ? model.head.loc : model.name.loc);
  func::ReturnOp::create(builder, endLoc, current.value);

  builder.setInsertionPointToEnd(module->getBody());
  auto type = FunctionType::get(ctx, body->getArgumentTypes(),
                                {current.value.getType()});
  auto forward = func::FuncOp::create(builder, loc(model.name.loc), "forward", type);
  forward.getBody().push_back(block.release());
  for (auto [i, argName] : llvm::enumerate(argNames))
    forward.setArgAttr(i, i == 0 ? pir::kInputAttrName : pir::kParamAttrName,
                       builder.getStringAttr(argName));
  for (auto [i, role] : llvm::enumerate(argRoles))
    forward.setArgAttr(i + 1, pir::kRoleAttrName,
                       builder.getStringAttr(rt::paramRoleName(role)));
  forward.setResultAttr(0, pir::kOutputAttrName,
                        builder.getStringAttr(model.head.given ? headSpec.outputName()
                                                               : "output"));
  if (model.head.given)
    (*module)->setAttr(pir::kHeadAttrName,
                       builder.getStringAttr(rt::writeJson(rt::headSpecJson(headSpec))));
  if (failed(verify(*module))) {
    error(model.name.loc) << "internal error: the module imported from this "
                             "description does not verify (an importer bug: "
                             "the message above says where)";
    return nullptr;
  }
  return module;
}

} // namespace pce::frontend::detail

namespace pce::frontend {

void registerImporterDialects(DialectRegistry &registry) {
  registry.insert<arith::ArithDialect, func::FuncDialect, linalg::LinalgDialect,
                  math::MathDialect, tensor::TensorDialect, mlir::pce::PCEDialect>();
}

OwningOpRef<ModuleOp> importModel(const ModelDescription &model,
                                  Diagnostics &diag,
                                  std::vector<LayerShapes> *shapes) {
  ModelImporter importer(model, diag);
  OwningOpRef<ModuleOp> module = importer.run();
  if (shapes)
    *shapes = std::move(importer.shapes);
  return module;
}

bool withModelDescription(
    llvm::SourceMgr &sourceMgr, MLIRContext *context,
    llvm::function_ref<bool(const ModelDescription &, Diagnostics &)> use) {
  DialectRegistry registry;
  registerImporterDialects(registry);
  context->appendDialectRegistry(registry);
  context->loadDialect<arith::ArithDialect, func::FuncDialect,
                       linalg::LinalgDialect, math::MathDialect,
                       tensor::TensorDialect, mlir::pce::PCEDialect>();

  const llvm::MemoryBuffer *buffer =
      sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID());
  // A private SourceMgr for the YAML scanner, which registers the buffer
  // there and prints its errors through it (forwarded as MLIR diagnostics).
  llvm::SourceMgr yamlSourceMgr;
  Diagnostics diag(context, yamlSourceMgr, buffer->getBufferIdentifier());
  std::optional<ModelDescription> model =
      parseModelDescription(buffer->getMemBufferRef(), diag);
  return model && use(*model, diag);
}

OwningOpRef<ModuleOp> importModelDescription(llvm::SourceMgr &sourceMgr,
                                             MLIRContext *context) {
  OwningOpRef<ModuleOp> module;
  withModelDescription(sourceMgr, context,
                       [&](const ModelDescription &model, Diagnostics &diag) {
                         module = importModel(model, diag);
                         return bool(module);
                       });
  return module;
}

bool isModelDescriptionPath(llvm::StringRef path) {
  llvm::StringRef ext = llvm::sys::path::extension(path);
  return ext == ".yaml" || ext == ".yml";
}

} // namespace pce::frontend
