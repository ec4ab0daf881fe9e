//===- ModelOverride.h - a model description with some of its keys replaced ===//
//
// A study's variant may replace blocks of its model description instead of
// copying it: `set: {training.phases: "...", training.optimizer: "..."}`.
// The description must write the parents of those keys in block style (one
// key per line, as the examples do); the replaced key keeps its place and
// everything else, comments included, stays as written.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_TOOLS_PCE_STUDY_MODELOVERRIDE_H
#define PCE_TOOLS_PCE_STUDY_MODELOVERRIDE_H

#include <string>
#include <utility>
#include <vector>

namespace pce::study {

// `text` with the value of each dotted key path replaced by its new YAML
// text (one line: `key: TEXT`; several lines: `key:` then TEXT indented
// under it). Throws std::runtime_error naming the path when a key is not
// there in block style.
std::string overrideKeys(const std::string &text, const std::vector<std::pair<std::string, std::string>> &sets);

} // namespace pce::study

#endif // PCE_TOOLS_PCE_STUDY_MODELOVERRIDE_H
