//===- ImportPCE.cpp - a `pce` layer of a description to pce.layer --------===//
//
// Checks the layer's shape rules against the current tensor (patch sizes,
// table entries, element counts) at the keys that break them, adds its
// parameters in the order of docs/ModelDescription.md, and builds the op.
//
//===----------------------------------------------------------------------===//

#include "frontend/ModelImporter.h"

#include "dialect/PCEOps.h"

using namespace mlir;
using namespace ::pce::frontend;
using namespace ::pce::frontend::detail;
namespace pir = mlir::pce;

namespace pce::frontend::detail {

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
        (!mlpHasCosineHead(router) &&
         failed(add(mlp, "router.mlp.b2", rt::ParamRole::RouterMlpBias, {experts}, at))))
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
  // A NameLoc carries the layer's name through decomposition, so that
  // pce-expose-routing names the router's weights after it.
  auto op = pir::LayerOp::create(
      builder, NameLoc::get(builder.getStringAttr(name), loc(layer.loc)),
      RankedTensorType::get(result, f32), current.value,
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
      kind == pir::RouterKind::mlp && mlpNormalizesInput(router),
      mlpHasCosineHead(router), mlpHasLinearHidden(router),
      llvm::APFloat(d.eps.given ? d.eps.value : 1e-5),
      concat ? pir::MixKind::concat : pir::MixKind::sum,
      squeeze ? pir::AttentionKind::se : pir::AttentionKind::none);
  current = {op.getResult(), result};
  return success();
}

} // namespace pce::frontend::detail
