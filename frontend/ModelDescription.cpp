//===- ModelDescription.cpp - YAML -> C++ structs with locations ----------===//
//
// llvm::yaml::Stream parses lazily: each node must be read exactly once, in
// document order, so every section is read as its keys come, into structs,
// and cross-key rules are checked when a section ends.
//
//===----------------------------------------------------------------------===//

#include "frontend/ModelDescription.h"
#include "frontend/Diagnostics.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBufferRef.h"
#include "llvm/Support/YAMLParser.h"

#include <cmath>

using namespace pce::frontend;
using llvm::SMLoc;
using llvm::StringRef;
using mlir::failure;
using mlir::LogicalResult;
using mlir::success;
namespace yaml = llvm::yaml;
namespace pce_ir = mlir::pce;

StringRef pce::frontend::layerKindKey(LayerKind kind) {
  switch (kind) {
  case LayerKind::PCE: return "pce";
  case LayerKind::Conv: return "conv";
  case LayerKind::BatchNorm: return "batch_norm";
  case LayerKind::ReLU: return "relu";
  case LayerKind::MaxPool: return "max_pool";
  case LayerKind::AvgPool: return "avg_pool";
  case LayerKind::GlobalAvgPool: return "global_avg_pool";
  case LayerKind::Flatten: return "flatten";
  case LayerKind::Linear: return "linear";
  case LayerKind::Residual: return "residual";
  }
  return "?";
}

namespace {

const LayerKind kLayerKinds[] = {
    LayerKind::PCE,     LayerKind::Conv,          LayerKind::BatchNorm,
    LayerKind::ReLU,    LayerKind::MaxPool,       LayerKind::AvgPool,
    LayerKind::GlobalAvgPool, LayerKind::Flatten, LayerKind::Linear,
    LayerKind::Residual};

/// The closest of `options` to a misspelt `word`, or "" when none is close.
StringRef nearest(StringRef word, llvm::ArrayRef<StringRef> options) {
  unsigned limit = std::max<unsigned>(2, word.size() / 3);
  StringRef best;
  unsigned bestDistance = limit + 1;
  for (StringRef option : options) {
    unsigned d = word.edit_distance(option, /*AllowReplacements=*/true,
                                    /*MaxEditDistance=*/limit);
    if (d < bestDistance) {
      best = option;
      bestDistance = d;
    }
  }
  return best;
}

std::string joined(llvm::ArrayRef<StringRef> words) {
  std::string out;
  for (StringRef w : words) {
    if (!out.empty())
      out += ", ";
    out += w.str();
  }
  return out;
}

/// A number as a person would write it (0.5, 1e-05), for messages.
std::string num(double value) {
  return llvm::formatv("{0}", llvm::format("%g", value)).str();
}

/// What a node is, for "expected X, found Y" messages.
std::string describe(yaml::Node *node) {
  if (!node || llvm::isa<yaml::NullNode>(node))
    return "nothing";
  if (llvm::isa<yaml::MappingNode>(node))
    return "a mapping";
  if (llvm::isa<yaml::SequenceNode>(node))
    return "a list";
  if (llvm::isa<yaml::AliasNode>(node))
    return "an alias (aliases are not supported)";
  StringRef text;
  llvm::SmallString<64> storage;
  if (auto *scalar = llvm::dyn_cast<yaml::ScalarNode>(node))
    text = scalar->getValue(storage);
  else if (auto *block = llvm::dyn_cast<yaml::BlockScalarNode>(node))
    text = block->getValue();
  else
    return "an unexpected node";
  // Long or multi-line values are cut: the caret shows where they are.
  StringRef shown = text.take_until([](char c) { return c == '\n'; });
  bool cut = shown.size() > 40 || shown.size() != text.size();
  return ("'" + shown.take_front(40) + (cut ? "...'" : "'")).str();
}

/// The start of `node`; `fallback` (its key) for empty values, whose own
/// position is that of the next token, possibly lines below.
SMLoc locOf(yaml::Node *node, SMLoc fallback) {
  if (!node || llvm::isa<yaml::NullNode>(node))
    return fallback;
  SMLoc loc = node->getSourceRange().Start;
  return loc.isValid() ? loc : fallback;
}

using EntryHandler =
    llvm::function_ref<LogicalResult(StringRef key, SMLoc keyLoc, yaml::Node *value)>;

class Parser {
public:
  Parser(yaml::Stream &stream, Diagnostics &diag) : stream(stream), diag(diag) {}

  std::optional<ModelDescription> parse(SMLoc bufferStart);

private:
  mlir::InFlightDiagnostic error(SMLoc loc) { return diag.error(loc); }

  // Containers. Both stop at the first error; a YAML syntax error has
  // already been reported by the scanner when they fail silently.
  LogicalResult forEachEntry(yaml::Node *node, SMLoc fallback, StringRef what,
                             llvm::ArrayRef<StringRef> keys, EntryHandler handle);
  LogicalResult forEachItem(yaml::Node *node, SMLoc fallback, StringRef key,
                            StringRef expected, int64_t maxItems,
                            llvm::function_ref<LogicalResult(yaml::Node *)> handle);

  // Scalars: `key` names the value in messages.
  std::optional<StringRef> scalarText(yaml::Node *node,
                                      llvm::SmallVectorImpl<char> &storage);
  LogicalResult readInt(yaml::Node *node, SMLoc keyLoc, StringRef key,
                        int64_t min, Located<int64_t> &out);
  LogicalResult readDouble(yaml::Node *node, SMLoc keyLoc, StringRef key,
                           Located<double> &out);
  LogicalResult readBool(yaml::Node *node, SMLoc keyLoc, StringRef key,
                         Located<bool> &out);
  LogicalResult readString(yaml::Node *node, SMLoc keyLoc, StringRef key,
                           Located<std::string> &out);
  LogicalResult readPair(yaml::Node *node, SMLoc keyLoc, StringRef key,
                         int64_t min, Located<IntPair> &out);
  LogicalResult readIntList(yaml::Node *node, SMLoc keyLoc, StringRef key,
                            int64_t min, int64_t max, int64_t maxItems,
                            Located<std::vector<int64_t>> &out,
                            std::vector<SMLoc> *itemLocs = nullptr);
  template <typename E>
  LogicalResult readChoice(yaml::Node *node, SMLoc keyLoc, StringRef key,
                           llvm::ArrayRef<std::pair<StringRef, E>> choices,
                           Located<E> &out);
  /// Range check; `what` is "'experts'" or "an entry of 'table'".
  LogicalResult checkInt(SMLoc loc, StringRef what, StringRef text, int64_t value,
                         int64_t min, int64_t max);

  // Sections.
  LogicalResult parseInput(yaml::Node *node, SMLoc keyLoc, InputDesc &input);
  LogicalResult parseLayers(yaml::Node *node, SMLoc keyLoc,
                            std::vector<LayerDesc> &layers);
  LogicalResult parseLayer(yaml::Node *node, size_t index, LayerDesc &layer);
  LogicalResult parseLayerOptions(yaml::Node *value, SMLoc keyLoc, size_t index,
                                  LayerDesc &layer);
  LogicalResult parsePCE(StringRef key, SMLoc keyLoc, yaml::Node *value,
                         LayerDesc &layer);
  LogicalResult checkPCE(LayerDesc &layer);
  LogicalResult parseRouter(yaml::Node *value, SMLoc keyLoc, RouterDesc &router);
  LogicalResult checkRouter(const RouterDesc &router);
  LogicalResult parseEmbed(yaml::Node *value, SMLoc keyLoc, EmbedDesc &embed);
  LogicalResult parseHead(yaml::Node *value, SMLoc keyLoc, HeadDesc &head);
  LogicalResult parseTraining(yaml::Node *value, SMLoc keyLoc, TrainingDesc &training);
  LogicalResult parsePhase(yaml::Node *value, SMLoc loc, PhaseDesc &phase);
  LogicalResult checkTraining(TrainingDesc &training);
  LogicalResult checkLayerNames(std::vector<LayerDesc> &layers);

  yaml::Stream &stream;
  Diagnostics &diag;
};

//===----------------------------------------------------------------------===//
// Containers
//===----------------------------------------------------------------------===//

LogicalResult Parser::forEachEntry(yaml::Node *node, SMLoc fallback,
                                   StringRef what, llvm::ArrayRef<StringRef> keys,
                                   EntryHandler handle) {
  if (stream.failed())
    return failure();
  // An empty value is an empty mapping: `relu:` has no options.
  if (!node || llvm::isa<yaml::NullNode>(node))
    return success();
  auto *map = llvm::dyn_cast<yaml::MappingNode>(node);
  if (!map)
    return error(locOf(node, fallback))
           << "expected a mapping for " << what << ", found " << describe(node);
  llvm::StringMap<SMLoc> seen;
  for (yaml::KeyValueNode &entry : *map) {
    yaml::Node *keyNode = entry.getKey();
    if (stream.failed())
      return failure();
    llvm::SmallString<32> storage;
    auto *scalarKey = llvm::dyn_cast_or_null<yaml::ScalarNode>(keyNode);
    SMLoc keyLoc = locOf(keyNode, locOf(map, fallback));
    if (!scalarKey)
      return error(keyLoc) << "expected a key name in " << what << ", found "
                           << describe(keyNode);
    StringRef key = scalarKey->getValue(storage);
    if (!llvm::is_contained(keys, key)) {
      mlir::InFlightDiagnostic err = error(keyLoc);
      err << "unknown key " << describe(keyNode) << " in " << what;
      if (StringRef best = nearest(key, keys); !best.empty())
        err << "; did you mean '" << best << "'?";
      else
        err << "; expected one of: " << joined(keys);
      return err;
    }
    auto [it, inserted] = seen.try_emplace(key, keyLoc);
    if (!inserted) {
      unsigned line = diag.getSourceMgr().getLineAndColumn(it->second).first;
      return error(keyLoc) << "duplicate key '" << key << "' in " << what
                           << " (first given on line " << line << ")";
    }
    yaml::Node *value = entry.getValue();
    if (stream.failed() || !value)
      return failure();
    if (failed(handle(key, keyLoc, value)))
      return failure();
  }
  return failure(stream.failed());
}

LogicalResult Parser::forEachItem(yaml::Node *node, SMLoc fallback, StringRef key,
                                  StringRef expected, int64_t maxItems,
                                  llvm::function_ref<LogicalResult(yaml::Node *)> handle) {
  if (stream.failed())
    return failure();
  auto *seq = llvm::dyn_cast_or_null<yaml::SequenceNode>(node);
  if (!seq)
    return error(locOf(node, fallback))
           << "expected " << expected << " for '" << key << "', found "
           << describe(node);
  int64_t count = 0;
  for (yaml::Node &item : *seq) {
    if (stream.failed())
      return failure();
    if (++count > maxItems)
      return error(locOf(&item, fallback))
             << "'" << key << "' has more than " << maxItems
             << " items, the limit";
    if (failed(handle(&item)))
      return failure();
  }
  return failure(stream.failed());
}

std::optional<StringRef> Parser::scalarText(yaml::Node *node,
                                            llvm::SmallVectorImpl<char> &storage) {
  if (auto *scalar = llvm::dyn_cast_or_null<yaml::ScalarNode>(node))
    return scalar->getValue(storage);
  if (auto *block = llvm::dyn_cast_or_null<yaml::BlockScalarNode>(node))
    return block->getValue();
  return std::nullopt;
}

LogicalResult Parser::checkInt(SMLoc loc, StringRef what, StringRef text,
                               int64_t value, int64_t min, int64_t max) {
  if (value < min) {
    if (min == 1)
      return error(loc) << what << " must be a positive integer, found " << text;
    return error(loc) << what << " must be >= " << min << ", found " << text;
  }
  if (value > max)
    return error(loc) << what << " is " << value << ", more than the limit "
                      << max;
  return success();
}

LogicalResult Parser::readInt(yaml::Node *node, SMLoc keyLoc, StringRef key,
                              int64_t min, Located<int64_t> &out) {
  llvm::SmallString<32> storage;
  std::optional<StringRef> text = scalarText(node, storage);
  SMLoc loc = locOf(node, keyLoc);
  int64_t value;
  if (!text || text->trim().getAsInteger(10, value))
    return error(loc) << "expected an integer for '" << key << "', found "
                      << describe(node);
  if (failed(checkInt(loc, ("'" + key + "'").str(), text->trim(), value, min,
                      Limits::kMaxSize)))
    return failure();
  out.set(value, loc);
  return success();
}

LogicalResult Parser::readDouble(yaml::Node *node, SMLoc keyLoc, StringRef key,
                                 Located<double> &out) {
  llvm::SmallString<32> storage;
  std::optional<StringRef> text = scalarText(node, storage);
  SMLoc loc = locOf(node, keyLoc);
  double value;
  if (!text || text->trim().getAsDouble(value))
    return error(loc) << "expected a number for '" << key << "', found "
                      << describe(node);
  if (!std::isfinite(value))
    return error(loc) << "expected a finite number for '" << key << "', found "
                      << describe(node);
  out.set(value, loc);
  return success();
}

LogicalResult Parser::readBool(yaml::Node *node, SMLoc keyLoc, StringRef key,
                               Located<bool> &out) {
  llvm::SmallString<16> storage;
  std::optional<StringRef> text = scalarText(node, storage);
  SMLoc loc = locOf(node, keyLoc);
  std::optional<bool> value;
  if (text) {
    StringRef t = text->trim();
    if (t == "true" || t == "True" || t == "TRUE")
      value = true;
    else if (t == "false" || t == "False" || t == "FALSE")
      value = false;
  }
  if (!value)
    return error(loc) << "expected true or false for '" << key << "', found "
                      << describe(node);
  out.set(*value, loc);
  return success();
}

LogicalResult Parser::readString(yaml::Node *node, SMLoc keyLoc, StringRef key,
                                 Located<std::string> &out) {
  llvm::SmallString<32> storage;
  std::optional<StringRef> text = scalarText(node, storage);
  SMLoc loc = locOf(node, keyLoc);
  if (!text || text->trim().empty())
    return error(loc) << "expected a name for '" << key << "', found "
                      << describe(node);
  out.set(text->trim().str(), loc);
  return success();
}

LogicalResult Parser::readPair(yaml::Node *node, SMLoc keyLoc, StringRef key,
                               int64_t min, Located<IntPair> &out) {
  SMLoc loc = locOf(node, keyLoc);
  if (!llvm::isa_and_nonnull<yaml::SequenceNode>(node)) {
    Located<int64_t> single;
    llvm::SmallString<32> storage;
    if (!scalarText(node, storage))
      return error(loc) << "expected an integer or a list of 2 integers for '"
                        << key << "', found " << describe(node);
    if (failed(readInt(node, keyLoc, key, min, single)))
      return failure();
    out.set({single.value, single.value}, loc);
    return success();
  }
  // A few items more than 2 are read so that the message can count them.
  Located<std::vector<int64_t>> list;
  if (failed(readIntList(node, keyLoc, key, min, Limits::kMaxSize, 16, list)))
    return failure();
  if (list.value.size() != 2)
    return error(loc) << "expected an integer or a list of 2 integers for '"
                      << key << "', found a list of " << list.value.size();
  out.set({list.value[0], list.value[1]}, loc);
  return success();
}

LogicalResult Parser::readIntList(yaml::Node *node, SMLoc keyLoc, StringRef key,
                                  int64_t min, int64_t max, int64_t maxItems,
                                  Located<std::vector<int64_t>> &out,
                                  std::vector<SMLoc> *itemLocs) {
  SMLoc loc = locOf(node, keyLoc);
  std::vector<int64_t> values;
  LogicalResult result = forEachItem(
      node, keyLoc, key, "a list of integers", maxItems, [&](yaml::Node *item) {
        llvm::SmallString<32> storage;
        std::optional<StringRef> text = scalarText(item, storage);
        SMLoc itemLoc = locOf(item, loc);
        int64_t value;
        if (!text || text->trim().getAsInteger(10, value))
          return LogicalResult(error(itemLoc)
                               << "expected an integer in '" << key
                               << "', found " << describe(item));
        if (failed(checkInt(itemLoc, ("an entry of '" + key + "'").str(),
                            text->trim(), value, min, max)))
          return failure();
        values.push_back(value);
        if (itemLocs)
          itemLocs->push_back(itemLoc);
        return success();
      });
  if (failed(result))
    return failure();
  out.set(std::move(values), loc);
  return success();
}

template <typename E>
LogicalResult Parser::readChoice(yaml::Node *node, SMLoc keyLoc, StringRef key,
                                 llvm::ArrayRef<std::pair<StringRef, E>> choices,
                                 Located<E> &out) {
  llvm::SmallString<32> storage;
  std::optional<StringRef> text = scalarText(node, storage);
  SMLoc loc = locOf(node, keyLoc);
  llvm::SmallVector<StringRef> names;
  for (auto &choice : choices) {
    names.push_back(choice.first);
    if (text && text->trim() == choice.first) {
      out.set(choice.second, loc);
      return success();
    }
  }
  mlir::InFlightDiagnostic err = error(loc);
  if (!text)
    return err << "expected one of " << joined(names) << " for '" << key
               << "', found " << describe(node);
  err << "unknown value " << describe(node) << " for '" << key << "'";
  if (StringRef best = nearest(text->trim(), names); !best.empty())
    err << "; did you mean '" << best << "'?";
  else
    err << "; expected one of: " << joined(names);
  return err;
}

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
           "beta", "sigma", "gumbel_tau", "hard", "hidden"},
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
  if (!keyed && router.tau.given)
    return misplaced(router.tau.loc, "tau", "cosine and gumbel");
  if (!keyed && router.learnableTau.given)
    return misplaced(router.learnableTau.loc, "learnable_tau", "cosine and gumbel");
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
  if (kind != RK::mlp && router.hidden.given)
    return misplaced(router.hidden.loc, "hidden", "mlp");
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
  case LayerKind::GlobalAvgPool:
  case LayerKind::Flatten:
    return forEachEntry(value, keyLoc, what, {"name"}, handleName);
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
  case LayerKind::Residual: {
    if (failed(forEachEntry(value, keyLoc, what, {"name", "from"},
                            [&](StringRef key, SMLoc loc, yaml::Node *v) {
                              if (key == "name")
                                return handleName(key, loc, v);
                              return readString(v, loc, key, layer.residual.from);
                            })))
      return failure();
    if (!layer.residual.from.given)
      return error(keyLoc)
             << "'residual' needs 'from' (the name of an earlier layer)";
    return success();
  }
  }
  return failure();
}

LogicalResult Parser::parseLayer(yaml::Node *node, size_t index, LayerDesc &layer) {
  static constexpr StringRef kKindKeys[] = {
      "pce",     "conv",    "batch_norm", "relu",   "max_pool",
      "avg_pool", "global_avg_pool", "flatten", "linear", "residual"};
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

LogicalResult Parser::parseHead(yaml::Node *value, SMLoc keyLoc, HeadDesc &head) {
  head.loc = keyLoc;
  head.given = true;
  if (failed(forEachEntry(value, keyLoc, "'head'", {"kind", "classes"},
                          [&](StringRef key, SMLoc loc, yaml::Node *v) {
                            if (key == "kind")
                              return readString(v, loc, key, head.kind);
                            return readInt(v, loc, key, 1, head.classes);
                          })))
    return failure();
  if (!head.kind.given)
    return error(keyLoc) << "'head' needs 'kind' (classification)";
  StringRef kind = head.kind.value;
  if (kind == "detection" || kind == "segmentation")
    return error(head.kind.loc)
           << "head kind '" << kind
           << "' is not supported yet: detection, segmentation (supported: "
              "classification)";
  if (kind != "classification") {
    mlir::InFlightDiagnostic err = error(head.kind.loc);
    err << "unknown head kind '" << kind << "'";
    if (StringRef best = nearest(kind, {"classification"}); !best.empty())
      err << "; did you mean '" << best << "'?";
    else
      err << "; expected classification";
    return err;
  }
  if (!head.classes.given)
    return error(keyLoc) << "a classification head needs 'classes'";
  return success();
}

//===----------------------------------------------------------------------===//
// training: (docs/Training.md §2)
//===----------------------------------------------------------------------===//

LogicalResult Parser::parsePhase(yaml::Node *value, SMLoc loc, PhaseDesc &phase) {
  phase.loc = locOf(value, loc);
  if (failed(forEachEntry(
          value, loc, "a phase of 'training'",
          {"epochs", "router", "keys", "mix", "attention"},
          [&](StringRef key, SMLoc at, yaml::Node *v) -> LogicalResult {
            if (key == "epochs")
              return readInt(v, at, key, 0, phase.epochs);
            if (key == "router") {
              phase.hasRouter = true;
              return parseRouter(v, at, phase.router);
            }
            if (key == "keys")
              return readChoice<KeysMode>(
                  v, at, key,
                  {{"ema", KeysMode::Ema},
                   {"learnable", KeysMode::Learnable},
                   {"learnable_ema", KeysMode::LearnableEma}},
                  phase.keys);
            if (key == "mix")
              return readChoice<pce_ir::MixKind>(
                  v, at, key,
                  {{"sum", pce_ir::MixKind::sum}, {"concat", pce_ir::MixKind::concat}},
                  phase.mix);
            return readChoice<pce_ir::AttentionKind>(
                v, at, key,
                {{"none", pce_ir::AttentionKind::none},
                 {"se", pce_ir::AttentionKind::se}},
                phase.attention);
          })))
    return failure();
  if (!phase.epochs.given)
    return error(phase.loc) << "a phase needs 'epochs'";
  return success();
}

LogicalResult Parser::parseTraining(yaml::Node *value, SMLoc keyLoc,
                                    TrainingDesc &t) {
  t.loc = keyLoc;
  t.given = true;
  auto positive = [&](Located<double> &v, StringRef key) -> LogicalResult {
    if (v.given && !(v.value > 0))
      return error(v.loc) << "'" << key << "' must be > 0, found " << num(v.value);
    return success();
  };
  auto fraction = [&](Located<double> &v, StringRef key) -> LogicalResult {
    if (v.given && !(v.value >= 0 && v.value < 1))
      return error(v.loc) << "'" << key << "' must be in [0, 1), found "
                          << num(v.value);
    return success();
  };
  return forEachEntry(
      value, keyLoc, "'training'",
      {"data", "epochs", "batch", "seed", "threads", "validation", "optimizer", "schedule",
       "augment", "load_balance", "ema", "key_init", "bn_momentum", "phases"},
      [&](StringRef key, SMLoc loc, yaml::Node *v) -> LogicalResult {
        if (key == "data")
          return readString(v, loc, key, t.data);
        if (key == "epochs")
          return readInt(v, loc, key, 0, t.epochs);
        if (key == "batch")
          return readInt(v, loc, key, 1, t.batch);
        if (key == "seed")
          return readInt(v, loc, key, 0, t.seed);
        if (key == "threads")
          return readInt(v, loc, key, 1, t.threads);
        if (key == "validation")
          return readInt(v, loc, key, 0, t.validation);
        if (key == "load_balance") {
          if (failed(readDouble(v, loc, key, t.loadBalance)))
            return failure();
          if (t.loadBalance.value < 0)
            return error(t.loadBalance.loc) << "'load_balance' must be >= 0, found "
                                            << num(t.loadBalance.value);
          return success();
        }
        if (key == "ema")
          return failure(failed(readDouble(v, loc, key, t.ema)) ||
                         failed(fraction(t.ema, key)));
        if (key == "bn_momentum")
          return failure(failed(readDouble(v, loc, key, t.bnMomentum)) ||
                         failed(positive(t.bnMomentum, key)));
        if (key == "optimizer")
          return forEachEntry(
              v, loc, "'optimizer'",
              {"kind", "lr", "momentum", "nesterov", "weight_decay", "betas", "eps"},
              [&](StringRef k, SMLoc at, yaml::Node *o) -> LogicalResult {
                if (k == "kind") {
                  Located<std::string> kind;
                  if (failed(readChoice<std::string>(
                          o, at, k, {{"sgd", "sgd"}, {"adamw", "adamw"}}, kind)))
                    return failure();
                  t.optimizer = kind;
                  return success();
                }
                if (k == "lr")
                  return failure(failed(readDouble(o, at, k, t.lr)) ||
                                 failed(positive(t.lr, k)));
                if (k == "momentum")
                  return failure(failed(readDouble(o, at, k, t.momentum)) ||
                                 failed(fraction(t.momentum, k)));
                if (k == "nesterov")
                  return readBool(o, at, k, t.nesterov);
                if (k == "weight_decay")
                  return failure(failed(readDouble(o, at, k, t.weightDecay)) ||
                                 failed(fraction(t.weightDecay, k)));
                if (k == "eps")
                  return failure(failed(readDouble(o, at, k, t.adamEps)) ||
                                 failed(positive(t.adamEps, k)));
                int index = 0;
                return forEachItem(o, at, k, "[beta1, beta2]", 2,
                                   [&](yaml::Node *item) -> LogicalResult {
                                     Located<double> &b = index++ ? t.beta2 : t.beta1;
                                     return failure(
                                         failed(readDouble(item, at, k, b)) ||
                                         failed(fraction(b, k)));
                                   });
              });
        if (key == "schedule")
          return forEachEntry(
              v, loc, "'schedule'", {"kind", "warmup_epochs", "step_epochs", "gamma"},
              [&](StringRef k, SMLoc at, yaml::Node *o) -> LogicalResult {
                if (k == "kind")
                  return readChoice<std::string>(
                      o, at, k,
                      {{"constant", "constant"}, {"cosine", "cosine"}, {"step", "step"}},
                      t.schedule);
                if (k == "warmup_epochs") {
                  if (failed(readDouble(o, at, k, t.warmupEpochs)))
                    return failure();
                  if (t.warmupEpochs.value < 0)
                    return error(t.warmupEpochs.loc)
                           << "'warmup_epochs' must be >= 0, found "
                           << num(t.warmupEpochs.value);
                  return success();
                }
                if (k == "step_epochs")
                  return readInt(o, at, k, 1, t.stepEpochs);
                return failure(failed(readDouble(o, at, k, t.gamma)) ||
                               failed(positive(t.gamma, k)));
              });
        if (key == "augment")
          return forEachEntry(v, loc, "'augment'", {"crop_padding", "hflip"},
                              [&](StringRef k, SMLoc at, yaml::Node *o) {
                                if (k == "crop_padding")
                                  return readInt(o, at, k, 0, t.cropPadding);
                                return readBool(o, at, k, t.hflip);
                              });
        if (key == "key_init")
          return forEachEntry(v, loc, "'key_init'", {"images", "iterations"},
                              [&](StringRef k, SMLoc at, yaml::Node *o) {
                                return readInt(o, at, k, 1,
                                               k == "images" ? t.keyInitImages
                                                             : t.keyInitIterations);
                              });
        return forEachItem(v, loc, key, "a list of phases", 16,
                           [&](yaml::Node *item) -> LogicalResult {
                             t.phases.emplace_back();
                             return parsePhase(item, loc, t.phases.back());
                           });
      }).succeeded() ? checkTraining(t) : failure();
}

/// Rules between keys of `training:`.
LogicalResult Parser::checkTraining(TrainingDesc &t) {
  if (t.epochs.given && !t.phases.empty())
    return error(t.epochs.loc) << "give either 'epochs' or 'phases' (each phase "
                                  "has its own 'epochs'), not both";
  bool sgd = !t.optimizer.given || t.optimizer.value == "sgd";
  for (auto [given, loc, key] :
       {std::tuple<bool, SMLoc, StringRef>{t.momentum.given, t.momentum.loc, "momentum"},
        {t.nesterov.given, t.nesterov.loc, "nesterov"}})
    if (given && !sgd)
      return error(loc) << "'" << key << "' applies to the sgd optimizer, not adamw";
  for (auto [given, loc, key] :
       {std::tuple<bool, SMLoc, StringRef>{t.beta1.given, t.beta1.loc, "betas"},
        {t.adamEps.given, t.adamEps.loc, "eps"}})
    if (given && sgd)
      return error(loc) << "'" << key << "' applies to the adamw optimizer, not sgd";
  bool step = t.schedule.given && t.schedule.value == "step";
  if ((t.stepEpochs.given || t.gamma.given) && !step)
    return error(t.stepEpochs.given ? t.stepEpochs.loc : t.gamma.loc)
           << "'step_epochs' and 'gamma' apply to the step schedule only";
  return success();
}

std::optional<ModelDescription> Parser::parse(SMLoc bufferStart) {
  ModelDescription model;
  yaml::document_iterator doc = stream.begin();
  if (doc == stream.end() || stream.failed())
    return std::nullopt;
  yaml::Node *root = doc->getRoot();
  if (stream.failed())
    return std::nullopt;
  if (!llvm::isa_and_nonnull<yaml::MappingNode>(root)) {
    error(locOf(root, bufferStart))
        << "expected a model description: a mapping with 'model', 'input', "
           "'layers' and 'head', found "
        << describe(root);
    return std::nullopt;
  }
  bool hasLayers = false;
  SMLoc rootLoc = locOf(root, bufferStart);
  if (failed(forEachEntry(
          root, bufferStart, "the model description",
          {"model", "input", "layers", "head", "training"},
          [&](StringRef key, SMLoc loc, yaml::Node *value) -> LogicalResult {
            if (key == "model")
              return readString(value, loc, key, model.name);
            if (key == "input")
              return parseInput(value, loc, model.input);
            if (key == "layers") {
              hasLayers = true;
              return parseLayers(value, loc, model.layers);
            }
            if (key == "head")
              return parseHead(value, loc, model.head);
            return parseTraining(value, loc, model.training);
          })))
    return std::nullopt;
  for (auto [key, given] :
       {std::pair<StringRef, bool>{"model", model.name.given},
        {"input", model.input.loc.isValid()},
        {"layers", hasLayers}})
    if (!given) {
      error(rootLoc) << "the model description needs '" << key << "'";
      return std::nullopt;
    }
  // One description per file: a second document is almost always a paste
  // error, and silently ignoring it would hide it.
  ++doc;
  if (stream.failed())
    return std::nullopt;
  if (doc != stream.end()) {
    yaml::Node *second = doc->getRoot();
    if (stream.failed())
      return std::nullopt;
    error(locOf(second, bufferStart))
        << "expected one YAML document; a second one starts here";
    return std::nullopt;
  }
  return model;
}

} // namespace

std::optional<ModelDescription>
pce::frontend::parseModelDescription(llvm::MemoryBufferRef buffer,
                                     Diagnostics &diagnostics) {
  SMLoc start = SMLoc::getFromPointer(buffer.getBufferStart());
  if (buffer.getBufferSize() > Limits::kMaxFileBytes) {
    diagnostics.error(start) << "the description is " << buffer.getBufferSize()
                             << " bytes, more than the limit of "
                             << Limits::kMaxFileBytes << " bytes";
    return std::nullopt;
  }
  llvm::SourceMgr &sourceMgr = diagnostics.getSourceMgr();
  sourceMgr.setDiagHandler(&Diagnostics::forwardSourceMgrDiagnostic, &diagnostics);
  yaml::Stream stream(buffer, sourceMgr, /*ShowColors=*/false);
  Parser parser(stream, diagnostics);
  std::optional<ModelDescription> model = parser.parse(start);
  sourceMgr.setDiagHandler(nullptr, nullptr);
  if (stream.failed())
    return std::nullopt;
  return model;
}
