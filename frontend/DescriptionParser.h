//===- DescriptionParser.h - the reader of model descriptions --*- C++ -*-===//
//
// Internal to frontend/: the YAML reader behind parseModelDescription, one
// class whose parts live by concern in ModelDescription.cpp (containers,
// scalars, the document), DescriptionLayers.cpp (input, layers, head) and
// DescriptionTraining.cpp (the `training:` section).
//
//===----------------------------------------------------------------------===//

#ifndef PCE_FRONTEND_DESCRIPTIONPARSER_H
#define PCE_FRONTEND_DESCRIPTIONPARSER_H

#include "frontend/Diagnostics.h"
#include "frontend/ModelDescription.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/YAMLParser.h"

#include <optional>
#include <string>
#include <utility>

namespace pce::frontend::detail {

using llvm::SMLoc;
using llvm::StringRef;
using mlir::failure;
using mlir::LogicalResult;
using mlir::success;
namespace yaml = llvm::yaml;

/// The closest of `options` to a misspelt `word`, or "" when none is close.
StringRef nearest(StringRef word, llvm::ArrayRef<StringRef> options);
/// "a, b, c".
std::string joined(llvm::ArrayRef<StringRef> words);
/// A number as a person would write it (0.5, 1e-05), for messages.
std::string num(double value);
/// What a node is, for "expected X, found Y" messages.
std::string describe(yaml::Node *node);
/// The start of `node`; `fallback` (its key) for empty values.
SMLoc locOf(yaml::Node *node, SMLoc fallback);

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

} // namespace pce::frontend::detail

#endif // PCE_FRONTEND_DESCRIPTIONPARSER_H
