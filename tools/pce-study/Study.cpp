//===- Study.cpp - reading a study description ----------------------------===//

#include "Study.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/YAMLParser.h"
#include "llvm/Support/raw_ostream.h"

#include <set>

namespace pce::study {
namespace {

namespace yaml = llvm::yaml;
using llvm::SMLoc;
using llvm::StringRef;

class Reader {
public:
  Reader(llvm::SourceMgr &sm, llvm::raw_string_ostream &os) : sm_(sm), os_(os) {}

  bool fail(SMLoc loc, const llvm::Twine &message) {
    sm_.PrintMessage(os_, loc, llvm::SourceMgr::DK_Error, message);
    return false;
  }
  static SMLoc at(yaml::Node *n) { return n->getSourceRange().Start; }

  bool scalar(yaml::Node *n, StringRef what, std::string &out) {
    if (llvm::isa_and_nonnull<yaml::AliasNode>(n)) // LLVM's parser does not resolve them
      return fail(at(n), "write the value of '" + what + "' out: YAML aliases (*name) are not supported");
    if (auto *block = llvm::dyn_cast_or_null<yaml::BlockScalarNode>(n)) {
      out = block->getValue().str(); // `|` text: several lines
    } else if (auto *s = llvm::dyn_cast_or_null<yaml::ScalarNode>(n)) {
      llvm::SmallString<64> storage;
      out = s->getValue(storage).str();
    } else {
      return fail(at(n), "expected a text value for '" + what + "'");
    }
    if (out.empty())
      return fail(at(n), "'" + what + "' is empty");
    return true;
  }

  bool strings(yaml::Node *n, StringRef what, std::vector<std::string> &out) {
    auto *seq = llvm::dyn_cast_or_null<yaml::SequenceNode>(n);
    if (!seq)
      return fail(at(n), "expected a list of options for '" + what + "', e.g. [--epochs, \"1\"]");
    for (yaml::Node &item : *seq) {
      std::string s;
      if (!scalar(&item, what, s))
        return false;
      out.push_back(s);
    }
    return true;
  }

  bool seeds(yaml::Node *n, std::vector<int64_t> &out) {
    auto *seq = llvm::dyn_cast_or_null<yaml::SequenceNode>(n);
    if (!seq)
      return fail(at(n), "expected a list of seeds, e.g. [1, 2, 3]");
    std::set<int64_t> seen;
    for (yaml::Node &item : *seq) {
      std::string s;
      int64_t v = 0;
      if (!scalar(&item, "seeds", s))
        return false;
      if (StringRef(s).getAsInteger(10, v) || v < 0)
        return fail(at(&item), "a seed is a whole number >= 0, found '" + s + "'");
      if (!seen.insert(v).second)
        return fail(at(&item), "seed " + s + " is listed twice");
      out.push_back(v);
    }
    if (out.empty())
      return fail(at(n), "'seeds' needs at least one seed");
    return true;
  }

  template <typename Fn>
  bool entries(yaml::Node *n, StringRef what, std::initializer_list<StringRef> keys, Fn handle) {
    auto *map = llvm::dyn_cast_or_null<yaml::MappingNode>(n);
    if (!map)
      return fail(at(n), "expected a mapping for " + what);
    std::set<std::string> seen;
    for (yaml::KeyValueNode &kv : *map) {
      std::string key;
      if (!scalar(kv.getKey(), "key", key))
        return false;
      if (std::find(keys.begin(), keys.end(), StringRef(key)) == keys.end())
        return fail(at(kv.getKey()), "unknown key '" + key + "' in " + what + "; expected one of " +
                                         llvm::join(keys, ", "));
      if (!seen.insert(key).second)
        return fail(at(kv.getKey()), "'" + key + "' given twice in " + what);
      if (!kv.getValue() || llvm::isa<yaml::NullNode>(kv.getValue()))
        return fail(at(kv.getKey()), "'" + key + "' has no value");
      if (!handle(StringRef(key), kv.getValue()))
        return false;
    }
    for (StringRef required : {"name", "model", "study", "seeds", "variants"})
      if (std::find(keys.begin(), keys.end(), required) != keys.end() && !seen.count(required.str()))
        return fail(at(n), what + " needs '" + required + "'");
    return true;
  }

  bool variant(yaml::Node *n, const std::string &dir, Variant &v) {
    bool ok = entries(n, "a variant", {"name", "model", "args", "note", "set"}, [&](StringRef key, yaml::Node *value) {
      if (key == "name") {
        if (!scalar(value, key, v.name))
          return false;
        for (char c : v.name)
          if (!llvm::isAlnum(c) && c != '.' && c != '_' && c != '-')
            return fail(at(value), "a variant's name is a directory name of letters, digits, '.', '_' and '-', "
                                   "found '" + v.name + "'");
        return true;
      }
      if (key == "model") {
        if (!scalar(value, key, v.model))
          return false;
        if (!llvm::sys::path::is_absolute(v.model) && !dir.empty())
          v.model = dir + "/" + v.model;
        if (!llvm::sys::fs::exists(v.model))
          return fail(at(value), "no model description at " + v.model);
        return true;
      }
      if (key == "note")
        return scalar(value, key, v.note);
      if (key == "set") {
        auto *map = llvm::dyn_cast<yaml::MappingNode>(value);
        if (!map)
          return fail(at(value), "expected a mapping from key paths (training.phases) to YAML text for 'set'");
        for (yaml::KeyValueNode &kv : *map) {
          std::string path, text;
          if (!scalar(kv.getKey(), "set", path) || !scalar(kv.getValue(), path, text))
            return false;
          v.sets.emplace_back(path, text);
        }
        return true;
      }
      return strings(value, key, v.args);
    });
    return ok;
  }

  std::optional<Study> study(yaml::Node *root, const std::string &dir) {
    Study s;
    bool ok = entries(root, "the study", {"study", "seeds", "args", "variants"}, [&](StringRef key, yaml::Node *value) {
      if (key == "study")
        return scalar(value, key, s.name);
      if (key == "seeds")
        return seeds(value, s.seeds);
      if (key == "args")
        return strings(value, key, s.args);
      auto *seq = llvm::dyn_cast<yaml::SequenceNode>(value);
      if (!seq)
        return fail(at(value), "expected a list of variants");
      std::set<std::string> names;
      for (yaml::Node &item : *seq) {
        Variant v;
        if (!variant(&item, dir, v))
          return false;
        if (!names.insert(v.name).second)
          return fail(at(&item), "variant '" + v.name + "' is listed twice");
        s.variants.push_back(std::move(v));
      }
      if (s.variants.empty())
        return fail(at(value), "'variants' needs at least one variant");
      return true;
    });
    if (!ok)
      return std::nullopt;
    return s;
  }

private:
  llvm::SourceMgr &sm_;
  llvm::raw_string_ostream &os_;
};

} // namespace

std::optional<Study> readStudy(const std::string &path, std::string &errors) {
  llvm::raw_string_ostream os(errors);
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer) {
    os << path << ": cannot read the study: " << buffer.getError().message() << "\n";
    return std::nullopt;
  }
  llvm::SourceMgr sm;
  sm.AddNewSourceBuffer(std::move(*buffer), SMLoc());
  const llvm::MemoryBuffer *main = sm.getMemoryBuffer(sm.getMainFileID());
  yaml::Stream stream(main->getMemBufferRef(), sm, /*ShowColors=*/false);
  // The YAML scanner reports its syntax errors through the SourceMgr.
  sm.setDiagHandler(
      [](const llvm::SMDiagnostic &d, void *ctx) { d.print(nullptr, *static_cast<llvm::raw_ostream *>(ctx), false); },
      &os);
  yaml::document_iterator doc = stream.begin();
  if (doc == stream.end() || !doc->getRoot() || stream.failed()) {
    if (errors.empty())
      os << path << ": the study is empty\n";
    return std::nullopt;
  }
  yaml::Node *root = doc->getRoot();
  if (stream.failed())
    return std::nullopt;
  Reader reader(sm, os);
  std::optional<Study> s = reader.study(root, std::string(llvm::sys::path::parent_path(path)));
  if (stream.failed())
    return std::nullopt;
  return s;
}

} // namespace pce::study
