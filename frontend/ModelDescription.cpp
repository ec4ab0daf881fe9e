//===- ModelDescription.cpp - YAML -> C++ structs with locations ----------===//
//
// llvm::yaml::Stream parses lazily: each node must be read exactly once, in
// document order, so every section is read as its keys come, into structs,
// and cross-key rules are checked when a section ends. This file holds the
// reader's containers, scalars and the document; the sections are in
// DescriptionLayers.cpp and DescriptionTraining.cpp.
//
//===----------------------------------------------------------------------===//

#include "frontend/ModelDescription.h"
#include "frontend/DescriptionParser.h"
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
using namespace pce::frontend::detail;

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
  case LayerKind::Concat: return "concat";
  case LayerKind::Upsample: return "upsample";
  case LayerKind::Sigmoid: return "sigmoid";
  }
  return "?";
}

namespace pce::frontend::detail {

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

} // namespace pce::frontend::detail

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
