//===- Importer.cpp - model descriptions to the pce dialect ---------------===//
//
// Walks the parsed description layer by layer, tracking the current tensor's
// shape so that every shape rule is reported at the key that breaks it,
// before any op exists. The verifier runs at the end as a safety net: a
// failure there is an importer bug, reported as an internal error.
//
//===----------------------------------------------------------------------===//

#include "frontend/Importer.h"
#include "frontend/Diagnostics.h"
#include "frontend/ModelDescription.h"
#include "frontend/OrdinaryLayers.h"

#include "dialect/PCEDialect.h"
#include "dialect/PCEOps.h"
#include "dialect/PCEShapes.h"
#include "runtime/ParameterRole.h"
#include "runtime/dense/HeadSpec.h"

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
namespace pir = mlir::pce;
namespace rt = ::pce::rt;
using llvm::SMLoc;
namespace shapes = mlir::pce::shapes;

namespace {

/// A batch norm's parameters (a layer's, or per expert) and the experts'
/// folded form, in operand order.
const std::pair<llvm::StringRef, rt::ParamRole> kBatchNormParams[] = {
    {"gamma", rt::ParamRole::BnGamma},
    {"beta", rt::ParamRole::BnBeta},
    {"running_mean", rt::ParamRole::BnRunningMean},
    {"running_var", rt::ParamRole::BnRunningVar}};
const std::pair<llvm::StringRef, rt::ParamRole> kAffineParams[] = {
    {"scale", rt::ParamRole::ExpertScale}, {"shift", rt::ParamRole::ExpertShift}};

/// A value of the forward function and its static shape.
struct Tensor {
  Value value;
  SmallVector<int64_t> shape;
};

class ModelImporter {
public:
  ModelImporter(const ModelDescription &model, Diagnostics &diag)
      : model(model), diag(diag), ctx(diag.getContext()), builder(ctx),
        f32(Float32Type::get(ctx)) {}

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

LogicalResult ModelImporter::importPCE(const LayerDesc &layer) {
  using pir::RouterKind;
  const PCELayerDesc &d = layer.pce;
  const RouterDesc &router = d.router;
  llvm::StringRef name = layer.name.value;
  if (failed(expectImage(layer)))
    return failure();
  int64_t batch = current.shape[0], channels = current.shape[1],
          height = current.shape[2], width = current.shape[3];
  auto [ph, pw] = d.patch.value;
  for (auto [what, size, p] : {std::tuple<const char *, int64_t, int64_t>{
                                   "height", height, ph},
                               {"width", width, pw}})
    if (size % p != 0)
      return error(d.patch.loc)
             << "patch " << what << " " << p << " does not divide the input "
             << what << " " << size << " (" << currentIs(name) << ")";
  int64_t experts = d.experts.value, co = d.outChannels.value;
  shapes::CheckedSizes sizes;
  int64_t k = d.kernel.value, r = k / 2;
  int64_t cin = sizes.add("channels C+4", channels, 4);
  int64_t numPatches = sizes.mul("number of patches P = (H/ph)*(W/pw)",
                                 height / ph, width / pw);
  int64_t halo = sizes.mul("halo 2r", 2, r);
  int64_t hp = sizes.add("patch height ph+2r", ph, halo),
          wp = sizes.add("patch width pw+2r", pw, halo);
  if (failed(checkSizes(sizes, layer.loc, name)) ||
      failed(checkElements({batch, numPatches, cin, hp, wp},
                           layer.loc, "the patches of layer '" + name + "'")) ||
      failed(checkElements({batch, numPatches, experts, co, ph, pw}, layer.loc,
                           "the expert outputs of layer '" + name + "'")))
    return failure();

  // Routing options that need P and E.
  if (router.table.given) {
    const std::vector<int64_t> &table = router.table.value;
    if (static_cast<int64_t>(table.size()) != numPatches)
      return error(router.table.loc)
             << "'table' has " << table.size()
             << " entries, expected one per patch (P = " << numPatches << " = "
             << height / ph << "x" << width / pw << " patches of " << ph << "x"
             << pw << ")";
    for (auto [p, e] : llvm::enumerate(table))
      if (e >= experts)
        return error(router.tableLocs[p])
               << "'table' sends patch " << p << " to expert " << e
               << ", expected an expert in [0, " << experts << ")";
  }

  SmallVector<Value> embed, mlp, bn, affine, proj, se;
  Value keys, logTau;
  RouterKind kind = router.kind.value;
  SmallVector<int64_t> levels = {1, 2, 4};
  if (d.embed.levels.given)
    levels.assign(d.embed.levels.value.begin(), d.embed.levels.value.end());
  int64_t embedWidth = d.embed.width.given ? d.embed.width.value : cin;
  int64_t dim = sizes.mul("embedding width D = De*sum(l*l)", embedWidth,
                          shapes::sppBins(levels, sizes));
  int64_t concatenated = sizes.mul("concatenated channels E*Co", experts, co);
  if (failed(checkSizes(sizes, d.embed.given ? d.embed.loc : layer.loc, name)))
    return failure();
  SMLoc embedLoc = d.embed.given ? d.embed.loc : router.loc;
  auto add = [&](SmallVectorImpl<Value> &group, llvm::StringRef param,
                 rt::ParamRole role, ArrayRef<int64_t> shape, SMLoc at) {
    FailureOr<Value> v = this->param(name, param, role, shape, at);
    if (succeeded(v))
      group.push_back(*v);
    return LogicalResult(v);
  };
  if (pir::routerReadsEmbeddings(kind) &&
      (failed(add(embed, "embed.weight", rt::ParamRole::EmbedWeight, {embedWidth, cin}, embedLoc)) ||
       failed(add(embed, "embed.bias", rt::ParamRole::EmbedBias, {embedWidth}, embedLoc))))
    return failure();
  if (kind == RouterKind::cosine || kind == RouterKind::gumbel) {
    FailureOr<Value> v = param(name, "router.keys", rt::ParamRole::RouterKeys, {experts, dim}, router.loc);
    if (failed(v))
      return failure();
    keys = *v;
  }
  if (kind == RouterKind::mlp) {
    int64_t hidden = router.hidden.given ? router.hidden.value : 32;
    SMLoc at = router.hidden.given ? router.hidden.loc : router.loc;
    if (failed(add(mlp, "router.mlp.w1", rt::ParamRole::RouterMlpWeight, {hidden, dim}, at)) ||
        failed(add(mlp, "router.mlp.b1", rt::ParamRole::RouterMlpBias, {hidden}, at)) ||
        failed(add(mlp, "router.mlp.w2", rt::ParamRole::RouterMlpWeight, {experts, hidden}, at)) ||
        failed(add(mlp, "router.mlp.b2", rt::ParamRole::RouterMlpBias, {experts}, at)))
      return failure();
  }
  bool learnable = router.learnableTau.given && router.learnableTau.value;
  if (learnable) {
    FailureOr<Value> v = param(name, "router.log_tau", rt::ParamRole::RouterLogTau, {}, router.learnableTau.loc);
    if (failed(v))
      return failure();
    logTau = *v;
  }
  FailureOr<Value> kernels =
      param(name, "experts.kernel", rt::ParamRole::ExpertKernel, {experts, co, cin, k, k}, layer.loc);
  if (failed(kernels))
    return failure();
  bool stats = !d.bn.given || d.bn.value == NormForm::Stats;
  SMLoc bnLoc = d.bn.given ? d.bn.loc : layer.loc;
  for (auto [p, role] : stats ? ArrayRef(kBatchNormParams) : ArrayRef(kAffineParams))
    if (failed(add(stats ? bn : affine,
                   (stats ? "experts.bn." + p : "experts." + p).str(), role,
                   {experts, co}, bnLoc)))
      return failure();
  bool concat = d.mix.given && d.mix.value == pir::MixKind::concat;
  int64_t outChannels = co;
  if (concat) {
    outChannels = d.concatOutChannels.given ? d.concatOutChannels.value : co;
    if (failed(add(proj, "mix.proj.weight", rt::ParamRole::MixProjWeight, {outChannels, concatenated}, d.mix.loc)) ||
        failed(add(proj, "mix.proj.bias", rt::ParamRole::MixProjBias, {outChannels}, d.mix.loc)))
      return failure();
  }
  bool squeeze = d.attention.given && d.attention.value == pir::AttentionKind::se;
  if (squeeze) {
    // Reduction 4, as the decomposition of pce.layer assumes.
    int64_t hidden = std::max<int64_t>(1, outChannels / 4);
    SMLoc at = d.attention.loc;
    if (failed(add(se, "attention.se.w1", rt::ParamRole::SeWeight, {hidden, outChannels}, at)) ||
        failed(add(se, "attention.se.b1", rt::ParamRole::SeBias, {hidden}, at)) ||
        failed(add(se, "attention.se.w2", rt::ParamRole::SeWeight, {outChannels, hidden}, at)) ||
        failed(add(se, "attention.se.b2", rt::ParamRole::SeBias, {outChannels}, at)))
      return failure();
  }

  FloatAttr tau;
  // With a learnable tau, where log_tau starts (the manifest's initialiser).
  if (router.tau.given)
    tau = builder.getF64FloatAttr(router.tau.value);
  SmallVector<int64_t> result = {batch, outChannels, height, width};
  auto op = pir::LayerOp::create(
      builder, loc(layer.loc), RankedTensorType::get(result, f32), current.value,
      embed, keys, mlp, logTau, *kernels, bn, affine, proj, se,
      ArrayRef<int64_t>{ph, pw},
      d.halo.given ? d.halo.value : pir::HaloMode::context, levels, kind, tau,
      router.topK.given ? router.topK.value : 0,
      router.renormalize.given && router.renormalize.value,
      router.table.given ? builder.getDenseI64ArrayAttr(router.table.value)
                         : DenseI64ArrayAttr(),
      llvm::APFloat(router.beta.given ? router.beta.value : 1.0),
      llvm::APFloat(router.sigma.given ? router.sigma.value : 0.0),
      llvm::APFloat(router.gumbelTau.given ? router.gumbelTau.value : 1.0),
      router.hard.given && router.hard.value,
      llvm::APFloat(d.eps.given ? d.eps.value : 1e-5),
      concat ? pir::MixKind::concat : pir::MixKind::sum,
      squeeze ? pir::AttentionKind::se : pir::AttentionKind::none);
  current = {op.getResult(), result};
  return success();
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

FailureOr<Value> ModelImporter::headConv(const HeadDesc &head, llvm::StringRef name,
                                         int64_t channels, rt::ParamRole biasRole) {
  FailureOr<Value> weight =
      param("head", (name + ".weight").str(), rt::ParamRole::ConvKernel,
            {channels, current.shape[1], 1, 1}, head.loc);
  if (failed(weight))
    return failure();
  FailureOr<Value> bias =
      param("head", (name + ".bias").str(), biasRole, {channels}, head.loc);
  if (failed(bias))
    return failure();
  return layers::conv2d(builder, loc(head.loc), current.value, *weight, *bias,
                        {1, 1}, {0, 0});
}

/// classification: global average pooling while the tensor is still an
/// image, then a linear layer to `classes` logits. segmentation: a 1x1
/// convolution to `classes` logits, bilinearly resized to the input.
/// detection: 1x1 convolutions to the class heatmaps (then a sigmoid), box
/// sizes and centre offsets, concatenated (runtime/dense/HeadSpec.h).
LogicalResult ModelImporter::importHead(const HeadDesc &head) {
  Location at = loc(head.loc);
  int64_t classes = head.classes.value;
  headSpec.classes = classes;
  headSpec.kind = *rt::parseHeadKind(head.kind.value);
  headSpec.in.assign(current.shape.begin() + 1, current.shape.end());
  if (headSpec.kind == rt::HeadKind::Classification) {
    if (current.shape.size() == 4)
      current = {layers::globalAvgPool(builder, at, current.value),
                 {current.shape[0], current.shape[1]}};
    FailureOr<Value> weight =
        param("head", "fc.weight", rt::ParamRole::LinearWeight, {current.shape[1], classes}, head.loc);
    FailureOr<Value> bias =
        succeeded(weight) ? param("head", "fc.bias", rt::ParamRole::LinearBias, {classes}, head.loc)
                          : FailureOr<Value>(failure());
    if (failed(bias))
      return failure();
    current = {layers::linear(builder, at, current.value, *weight, *bias),
               {current.shape[0], classes}};
    return success();
  }
  const InputDesc &in = model.input;
  if (current.shape.size() != 4)
    return error(head.kind.loc)
           << "a " << head.kind.value << " head needs a 4-D [B, C, H, W] feature map; it receives "
           << shapes::str(current.shape) << " from " << currentFrom;
  int64_t h = current.shape[2], w = current.shape[3];
  if (headSpec.kind == rt::HeadKind::Segmentation) {
    headSpec.classWeights = head.classWeights.value;
    FailureOr<Value> logits = headConv(head, "classifier", classes, rt::ParamRole::ConvBias);
    if (failed(logits))
      return failure();
    SmallVector<int64_t> out = {current.shape[0], classes, in.height.value, in.width.value};
    if (failed(checkElements(out, head.loc, "the head's logits")))
      return failure();
    current = {layers::resize(builder, at, *logits, /*bilinear=*/true, in.height.value,
                              in.width.value),
               out};
    return success();
  }
  // Detection: the heatmap's cells are `stride` input pixels on both axes.
  if (in.height.value % h != 0 || in.width.value % w != 0 ||
      in.height.value / h != in.width.value / w)
    return error(head.kind.loc)
           << "a detection head needs a feature map whose stride divides the "
              "input evenly and equally on both axes; the "
           << in.height.value << "x" << in.width.value << " input gives a " << h
           << "x" << w << " map from " << currentFrom;
  headSpec.stride = in.height.value / h;
  if (head.maxDetections.given)
    headSpec.maxDetections = head.maxDetections.value;
  if (head.scoreThreshold.given)
    headSpec.scoreThreshold = head.scoreThreshold.value;
  shapes::CheckedSizes sizes;
  int64_t channels = sizes.add("channels K+4", classes, 4);
  if (failed(checkSizes(sizes, head.loc, "head")))
    return failure();
  FailureOr<Value> heat = headConv(head, "heatmap", classes, rt::ParamRole::HeatmapBias);
  FailureOr<Value> size = succeeded(heat) ? headConv(head, "size", 2, rt::ParamRole::ConvBias)
                                          : FailureOr<Value>(failure());
  FailureOr<Value> offset = succeeded(size) ? headConv(head, "offset", 2, rt::ParamRole::ConvBias)
                                            : FailureOr<Value>(failure());
  if (failed(offset))
    return failure();
  Value boxes = layers::concatChannels(builder, at, *size, *offset);
  current = {layers::concatChannels(builder, at, layers::sigmoid(builder, at, *heat), boxes),
             {current.shape[0], channels, h, w}};
  return success();
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

} // namespace

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
