//===- DescriptionLayers.cpp - input, layers and head of a description ---===//
//
// The sections that describe the network (docs/ModelDescription.md): each
// layer's keys are read as they come and its cross-key rules checked when
// the layer ends; shapes are the importer's (Importer.cpp).
//
//===----------------------------------------------------------------------===//

#include "frontend/DescriptionParser.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FormatVariadic.h"

#include <tuple>

using namespace pce::frontend;
using namespace pce::frontend::detail;

namespace pce_ir = mlir::pce;

namespace pce::frontend::detail {

const LayerKind kLayerKinds[] = {
    LayerKind::PCE,     LayerKind::Conv,          LayerKind::BatchNorm,
    LayerKind::ReLU,    LayerKind::MaxPool,       LayerKind::AvgPool,
    LayerKind::GlobalAvgPool, LayerKind::Flatten, LayerKind::Linear,
    LayerKind::Residual, LayerKind::Concat, LayerKind::Upsample,
    LayerKind::Sigmoid};

//===----------------------------------------------------------------------===//
// Sections
//===----------------------------------------------------------------------===//

LogicalResult Parser::parseInput(yaml::Node *node, SMLoc keyLoc, InputDesc &input) {
  input.loc = keyLoc;
  input.batch.value = 16;
  input.batch.loc = keyLoc;
  if (failed(forEachEntry(
          node, keyLoc, "'input'", {"batch", "channels", "height", "width"},
          [&](StringRef key, SMLoc loc, yaml::Node *value) {
            Located<int64_t> &field = key == "batch"      ? input.batch
                                      : key == "channels" ? input.channels
                                      : key == "height"   ? input.height
                                                          : input.width;
            return readInt(value, loc, key, 1, field);
          })))
    return failure();
  for (auto [key, field] : {std::pair<StringRef, Located<int64_t> *>{
                                "channels", &input.channels},
                            {"height", &input.height},
                            {"width", &input.width}})
    if (!field->given)
      return error(keyLoc) << "'input' needs '" << key
                           << "' (the image is {batch, channels, height, width})";
  return success();
}

const std::pair<StringRef, pce_ir::RouterKind> kRouterKinds[] = {
    {"uniform", pce_ir::RouterKind::uniform},
    {"position", pce_ir::RouterKind::position},
    {"cosine", pce_ir::RouterKind::cosine},
    {"mlp", pce_ir::RouterKind::mlp},
    {"gumbel", pce_ir::RouterKind::gumbel}};

LogicalResult Parser::parseRouter(yaml::Node *value, SMLoc keyLoc,
                                  RouterDesc &router) {
  router.loc = keyLoc;
  // `router: cosine` is short for `router: {kind: cosine}`.
  if (llvm::isa_and_nonnull<yaml::ScalarNode>(value))
    return readChoice<pce_ir::RouterKind>(value, keyLoc, "router", kRouterKinds,
                                          router.kind);
  if (failed(forEachEntry(
          value, keyLoc, "'router'",
          {"kind", "tau", "learnable_tau", "top_k", "renormalize", "table",
           "beta", "sigma", "gumbel_tau", "hard", "hidden", "normalize_input",
           "cosine_head", "linear_hidden"},
          [&](StringRef key, SMLoc loc, yaml::Node *v) -> LogicalResult {
            if (key == "kind")
              return readChoice<pce_ir::RouterKind>(v, loc, key, kRouterKinds,
                                                    router.kind);
            if (key == "tau")
              return readDouble(v, loc, key, router.tau);
            if (key == "learnable_tau")
              return readBool(v, loc, key, router.learnableTau);
            if (key == "top_k")
              return readInt(v, loc, key, 0, router.topK);
            if (key == "renormalize")
              return readBool(v, loc, key, router.renormalize);
            if (key == "table")
              return readIntList(v, loc, key, 0, Limits::kMaxSize,
                                 Limits::kMaxSequenceLength, router.table,
                                 &router.tableLocs);
            if (key == "beta")
              return readDouble(v, loc, key, router.beta);
            if (key == "sigma")
              return readDouble(v, loc, key, router.sigma);
            if (key == "gumbel_tau")
              return readDouble(v, loc, key, router.gumbelTau);
            if (key == "hard")
              return readBool(v, loc, key, router.hard);
            if (key == "normalize_input")
              return readBool(v, loc, key, router.normalizeInput);
            if (key == "cosine_head")
              return readBool(v, loc, key, router.cosineHead);
            if (key == "linear_hidden")
              return readBool(v, loc, key, router.linearHidden);
            return readInt(v, loc, key, 1, router.hidden);
          })))
    return failure();
  if (!router.kind.given)
    return error(keyLoc) << "'router' needs 'kind' (one of uniform, position, "
                            "cosine, mlp, gumbel)";
  return checkRouter(router);
}

/// Options that only some router kinds have are errors elsewhere, as in the
/// dialect (docs/Rationale.md: a misplaced option is never silently ignored).
LogicalResult Parser::checkRouter(const RouterDesc &router) {
  using RK = pce_ir::RouterKind;
  RK kind = router.kind.value;
  StringRef kindName = pce_ir::stringifyRouterKind(kind);
  auto misplaced = [&](SMLoc loc, StringRef key, StringRef kinds) {
    return LogicalResult(error(loc) << "'" << key << "' applies to " << kinds
                                    << " routers, not to a '" << kindName
                                    << "' router");
  };
  bool keyed = kind == RK::cosine || kind == RK::gumbel;
  // A cosine head is a cosine router over the MLP's hidden features.
  bool tempered = keyed || mlpHasCosineHead(router);
  StringRef temperedKinds = "cosine, gumbel and cosine-head mlp";
  if (!tempered && router.tau.given)
    return misplaced(router.tau.loc, "tau", temperedKinds);
  if (!tempered && router.learnableTau.given)
    return misplaced(router.learnableTau.loc, "learnable_tau", temperedKinds);
  if (kind != RK::position) {
    if (router.table.given)
      return misplaced(router.table.loc, "table", "position");
    if (router.beta.given)
      return misplaced(router.beta.loc, "beta", "position");
    if (router.sigma.given)
      return misplaced(router.sigma.loc, "sigma", "position");
  }
  if (kind != RK::gumbel) {
    if (router.gumbelTau.given)
      return misplaced(router.gumbelTau.loc, "gumbel_tau", "gumbel");
    if (router.hard.given)
      return misplaced(router.hard.loc, "hard", "gumbel");
  }
  if (kind != RK::mlp)
    for (auto [given, loc, key] :
         {std::tuple{router.hidden.given, router.hidden.loc, "hidden"},
          {router.normalizeInput.given, router.normalizeInput.loc, "normalize_input"},
          {router.cosineHead.given, router.cosineHead.loc, "cosine_head"},
          {router.linearHidden.given, router.linearHidden.loc, "linear_hidden"}})
      if (given)
        return misplaced(loc, key, "mlp");
  if (router.tau.given && !(router.tau.value > 0))
    return error(router.tau.loc) << "'tau' must be > 0, found " << num(router.tau.value);
  if (router.gumbelTau.given && !(router.gumbelTau.value > 0))
    return error(router.gumbelTau.loc)
           << "'gumbel_tau' must be > 0, found " << num(router.gumbelTau.value);
  if (router.sigma.given && router.sigma.value < 0)
    return error(router.sigma.loc)
           << "'sigma' must be >= 0, found " << num(router.sigma.value);
  return success();
}

LogicalResult Parser::parseEmbed(yaml::Node *value, SMLoc keyLoc, EmbedDesc &embed) {
  embed.loc = keyLoc;
  embed.given = true;
  return forEachEntry(
      value, keyLoc, "'embed'", {"width", "levels"},
      [&](StringRef key, SMLoc loc, yaml::Node *v) -> LogicalResult {
        if (key == "width")
          return readInt(v, loc, key, 1, embed.width);
        if (failed(readIntList(v, loc, key, 1, Limits::kMaxSppLevel,
                               Limits::kMaxSppLevels, embed.levels)))
          return failure();
        if (embed.levels.value.empty())
          return error(embed.levels.loc)
                 << "'levels' needs at least one pyramid level";
        return success();
      });
}

LogicalResult Parser::parsePCE(StringRef key, SMLoc loc, yaml::Node *v,
                               LayerDesc &layer) {
  PCELayerDesc &pce = layer.pce;
  if (key == "patch")
    return readPair(v, loc, key, 1, pce.patch);
  if (key == "halo")
    return readChoice<pce_ir::HaloMode>(
        v, loc, key,
        {{"context", pce_ir::HaloMode::context},
         {"isolated", pce_ir::HaloMode::isolated}},
        pce.halo);
  if (key == "experts")
    return readInt(v, loc, key, 1, pce.experts);
  if (key == "out_channels")
    return readInt(v, loc, key, 1, pce.outChannels);
  if (key == "kernel") {
    if (failed(readInt(v, loc, key, 1, pce.kernel)))
      return failure();
    if (pce.kernel.value % 2 == 0)
      return error(pce.kernel.loc)
             << "'kernel' must be odd (a k x k expert over a patch with a halo "
                "of k/2 keeps the patch size), found "
             << pce.kernel.value;
    return success();
  }
  if (key == "embed")
    return parseEmbed(v, loc, pce.embed);
  if (key == "router") {
    pce.hasRouter = true;
    return parseRouter(v, loc, pce.router);
  }
  if (key == "mix")
    return readChoice<pce_ir::MixKind>(
        v, loc, key,
        {{"sum", pce_ir::MixKind::sum}, {"concat", pce_ir::MixKind::concat}},
        pce.mix);
  if (key == "concat_out_channels")
    return readInt(v, loc, key, 1, pce.concatOutChannels);
  if (key == "attention")
    return readChoice<pce_ir::AttentionKind>(
        v, loc, key,
        {{"none", pce_ir::AttentionKind::none}, {"se", pce_ir::AttentionKind::se}},
        pce.attention);
  if (key == "bn")
    return readChoice<NormForm>(
        v, loc, key, {{"stats", NormForm::Stats}, {"affine", NormForm::Affine}},
        pce.bn);
  if (failed(readDouble(v, loc, key, pce.eps)))
    return failure();
  if (!(pce.eps.value > 0))
    return error(pce.eps.loc) << "'eps' must be > 0, found " << num(pce.eps.value);
  return success();
}

/// Rules between the keys of one `pce` layer; shapes wait for the importer.
LogicalResult Parser::checkPCE(LayerDesc &layer) {
  PCELayerDesc &pce = layer.pce;
  std::string where = "'pce' layer '" + layer.name.value + "'";
  for (auto [key, given, what] :
       {std::tuple<StringRef, bool, StringRef>{"patch", pce.patch.given,
                                               "the patch size [ph, pw]"},
        {"experts", pce.experts.given, "the number of experts E"},
        {"out_channels", pce.outChannels.given, "the output channels Co"},
        {"router", pce.hasRouter, "e.g. 'router: {kind: cosine}'"}})
    if (!given)
      return error(layer.loc) << where << " needs '" << key << "' (" << what << ")";
  if (!pce.kernel.given)
    pce.kernel = {3, layer.loc, false};
  RouterDesc &router = pce.router;
  if (router.topK.given && router.topK.value > pce.experts.value)
    return error(router.topK.loc)
           << "'top_k' must be in [0, " << pce.experts.value
           << "] (0 = dense, E = " << pce.experts.value << " experts), found "
           << router.topK.value;
  if (pce.embed.given && !pce_ir::routerReadsEmbeddings(router.kind.value))
    return error(pce.embed.loc)
           << "'embed' applies to routers that read embeddings (cosine, mlp, "
              "gumbel), not to a '"
           << pce_ir::stringifyRouterKind(router.kind.value) << "' router";
  if (pce.eps.given && pce.bn.given && pce.bn.value == NormForm::Affine)
    return error(pce.eps.loc) << "'eps' applies to 'bn: stats' only (an affine "
                                 "batch norm is already folded)";
  bool concat = pce.mix.given && pce.mix.value == pce_ir::MixKind::concat;
  if (pce.concatOutChannels.given && !concat)
    return error(pce.concatOutChannels.loc)
           << "'concat_out_channels' applies to 'mix: concat' only";
  if (pce.attention.given && pce.attention.value == pce_ir::AttentionKind::se &&
      !concat)
    return error(pce.attention.loc)
           << "'attention: se' needs 'mix: concat' (squeeze-excitation follows "
              "the concat projection, SEMANTICS.md §4)";
  return success();
}

LogicalResult Parser::parseLayerOptions(yaml::Node *value, SMLoc keyLoc,
                                        size_t index, LayerDesc &layer) {
  std::string what = llvm::formatv("the options of '{0}' (layer {1})",
                                   layerKindKey(layer.kind), index)
                         .str();
  auto handleName = [&](StringRef key, SMLoc loc, yaml::Node *v) {
    return readString(v, loc, key, layer.name);
  };
  switch (layer.kind) {
  case LayerKind::PCE: {
    if (failed(forEachEntry(
            value, keyLoc, what,
            {"name", "patch", "halo", "experts", "out_channels", "kernel",
             "embed", "router", "mix", "concat_out_channels", "attention", "bn",
             "eps"},
            [&](StringRef key, SMLoc loc, yaml::Node *v) {
              if (key == "name")
                return handleName(key, loc, v);
              return parsePCE(key, loc, v, layer);
            })))
      return failure();
    return success(); // checkPCE runs once the name is known
  }
  case LayerKind::Conv: {
    ConvDesc &conv = layer.conv;
    if (failed(forEachEntry(
            value, keyLoc, what,
            {"name", "out_channels", "kernel", "stride", "padding", "bias"},
            [&](StringRef key, SMLoc loc, yaml::Node *v) -> LogicalResult {
              if (key == "name")
                return handleName(key, loc, v);
              if (key == "out_channels")
                return readInt(v, loc, key, 1, conv.outChannels);
              if (key == "kernel")
                return readPair(v, loc, key, 1, conv.kernel);
              if (key == "stride")
                return readPair(v, loc, key, 1, conv.stride);
              if (key == "padding")
                return readPair(v, loc, key, 0, conv.padding);
              return readBool(v, loc, key, conv.bias);
            })))
      return failure();
    if (!conv.outChannels.given || !conv.kernel.given)
      return error(keyLoc) << "'conv' needs '"
                           << (conv.outChannels.given ? "kernel" : "out_channels")
                           << "'";
    return success();
  }
  case LayerKind::BatchNorm:
    return forEachEntry(value, keyLoc, what, {"name", "eps"},
                        [&](StringRef key, SMLoc loc, yaml::Node *v) -> LogicalResult {
                          if (key == "name")
                            return handleName(key, loc, v);
                          Located<double> &eps = layer.batchNorm.eps;
                          if (failed(readDouble(v, loc, key, eps)))
                            return failure();
                          if (!(eps.value > 0))
                            return error(eps.loc)
                                   << "'eps' must be > 0, found " << num(eps.value);
                          return success();
                        });
  case LayerKind::ReLU:
  case LayerKind::Sigmoid:
  case LayerKind::GlobalAvgPool:
  case LayerKind::Flatten:
    return forEachEntry(value, keyLoc, what, {"name"}, handleName);
  case LayerKind::Upsample: {
    UpsampleDesc &up = layer.upsample;
    static constexpr std::pair<StringRef, UpsampleMode> kModes[] = {
        {"nearest", UpsampleMode::Nearest}, {"bilinear", UpsampleMode::Bilinear}};
    if (failed(forEachEntry(
            value, keyLoc, what, {"name", "mode", "scale", "size"},
            [&](StringRef key, SMLoc loc, yaml::Node *v) -> LogicalResult {
              if (key == "name")
                return handleName(key, loc, v);
              if (key == "mode")
                return readChoice<UpsampleMode>(v, loc, key, kModes, up.mode);
              if (key == "scale")
                return readInt(v, loc, key, 1, up.scale);
              return readPair(v, loc, key, 1, up.size);
            })))
      return failure();
    if (up.scale.given == up.size.given)
      return error(up.scale.given ? up.size.loc : keyLoc)
             << "'upsample' needs exactly one of 'scale' (an integer factor) "
                "and 'size' ([height, width])";
    return success();
  }
  case LayerKind::MaxPool:
  case LayerKind::AvgPool: {
    PoolDesc &pool = layer.pool;
    if (failed(forEachEntry(value, keyLoc, what, {"name", "kernel", "stride"},
                            [&](StringRef key, SMLoc loc, yaml::Node *v) {
                              if (key == "name")
                                return handleName(key, loc, v);
                              return readPair(v, loc, key, 1,
                                              key == "kernel" ? pool.kernel
                                                              : pool.stride);
                            })))
      return failure();
    if (!pool.kernel.given)
      return error(keyLoc) << "'" << layerKindKey(layer.kind)
                           << "' needs 'kernel'";
    return success();
  }
  case LayerKind::Linear: {
    LinearDesc &linear = layer.linear;
    if (failed(forEachEntry(value, keyLoc, what, {"name", "out_features", "bias"},
                            [&](StringRef key, SMLoc loc, yaml::Node *v) {
                              if (key == "name")
                                return handleName(key, loc, v);
                              if (key == "out_features")
                                return readInt(v, loc, key, 1, linear.outFeatures);
                              return readBool(v, loc, key, linear.bias);
                            })))
      return failure();
    if (!linear.outFeatures.given)
      return error(keyLoc) << "'linear' needs 'out_features'";
    return success();
  }
  case LayerKind::Residual:
  case LayerKind::Concat: {
    if (failed(forEachEntry(value, keyLoc, what, {"name", "from"},
                            [&](StringRef key, SMLoc loc, yaml::Node *v) {
                              if (key == "name")
                                return handleName(key, loc, v);
                              return readString(v, loc, key, layer.residual.from);
                            })))
      return failure();
    if (!layer.residual.from.given)
      return error(keyLoc) << "'" << layerKindKey(layer.kind)
                           << "' needs 'from' (the name of an earlier layer)";
    return success();
  }
  }
  return failure();
}

LogicalResult Parser::parseLayer(yaml::Node *node, size_t index, LayerDesc &layer) {
  static constexpr StringRef kKindKeys[] = {
      "pce",     "conv",    "batch_norm", "relu",   "max_pool",
      "avg_pool", "global_avg_pool", "flatten", "linear", "residual",
      "concat", "upsample", "sigmoid"};
  auto *map = llvm::dyn_cast_or_null<yaml::MappingNode>(node);
  if (!map)
    return error(locOf(node, SMLoc()))
           << "expected a layer: a mapping with one key naming its kind ("
           << joined(kKindKeys) << "), found " << describe(node);
  bool seen = false;
  for (yaml::KeyValueNode &entry : *map) {
    yaml::Node *keyNode = entry.getKey();
    if (stream.failed())
      return failure();
    llvm::SmallString<32> storage;
    auto *scalarKey = llvm::dyn_cast_or_null<yaml::ScalarNode>(keyNode);
    SMLoc keyLoc = locOf(keyNode, locOf(map, SMLoc()));
    if (!scalarKey)
      return error(keyLoc) << "expected a layer kind (" << joined(kKindKeys)
                           << "), found " << describe(keyNode);
    StringRef key = scalarKey->getValue(storage);
    if (seen)
      return error(keyLoc)
             << "a layer is a mapping with one key naming its kind; found a "
                "second key '"
             << key << "' (options go under the kind, e.g. '- conv: "
                       "{out_channels: 8, kernel: 3, name: stem}')";
    seen = true;
    auto *kind = llvm::find_if(kLayerKinds, [&](LayerKind k) {
      return layerKindKey(k) == key;
    });
    if (kind == std::end(kLayerKinds)) {
      mlir::InFlightDiagnostic err = error(keyLoc);
      err << "unknown layer kind " << describe(keyNode);
      if (StringRef best = nearest(key, kKindKeys); !best.empty())
        err << "; did you mean '" << best << "'?";
      else
        err << "; expected one of: " << joined(kKindKeys);
      return err;
    }
    layer.kind = *kind;
    layer.loc = keyLoc;
    yaml::Node *value = entry.getValue();
    if (stream.failed() || !value)
      return failure();
    if (failed(parseLayerOptions(value, keyLoc, index, layer)))
      return failure();
  }
  if (stream.failed())
    return failure();
  if (!seen)
    return error(locOf(map, SMLoc())) << "empty layer: expected one key naming "
                                         "its kind ("
                                      << joined(kKindKeys) << ")";
  if (!layer.name.given) {
    layer.name.value = "layer" + std::to_string(index);
    layer.name.loc = layer.loc;
  }
  if (layer.kind == LayerKind::PCE)
    return checkPCE(layer);
  return success();
}

LogicalResult Parser::parseLayers(yaml::Node *node, SMLoc keyLoc,
                                  std::vector<LayerDesc> &layers) {
  if (failed(forEachItem(node, keyLoc, "layers", "a list of layers",
                         Limits::kMaxLayers, [&](yaml::Node *item) {
                           LayerDesc layer;
                           if (failed(parseLayer(item, layers.size(), layer)))
                             return failure();
                           layers.push_back(std::move(layer));
                           return success();
                         })))
    return failure();
  return checkLayerNames(layers);
}

/// Names prefix parameter names (`<name>.weight`), so they must be unique,
/// free of '.', and not the head's.
LogicalResult Parser::checkLayerNames(std::vector<LayerDesc> &layers) {
  llvm::StringMap<size_t> seen;
  for (auto [index, layer] : llvm::enumerate(layers)) {
    StringRef name = layer.name.value;
    bool plain = llvm::all_of(name, [](char c) {
      return llvm::isAlnum(c) || c == '_' || c == '-';
    });
    if (!plain)
      return error(layer.name.loc)
             << "layer name '" << name
             << "' may hold only letters, digits, '_' and '-' (it prefixes "
                "parameter names such as '"
             << name << ".weight')";
    if (name == "head")
      return error(layer.name.loc)
             << "layer name 'head' is reserved for the head's parameters";
    auto [it, inserted] = seen.try_emplace(name, index);
    if (!inserted)
      return error(layer.name.loc)
             << "layer " << index << " is named '" << name
             << "' like layer " << it->second
             << "; layer names must be unique (the default name of layer i is "
                "'layer<i>')";
  }
  return success();
}

} // namespace pce::frontend::detail
