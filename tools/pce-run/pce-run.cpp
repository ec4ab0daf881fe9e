//===- pce-run.cpp - Run a compiled PCE artifact on .npy inputs -----------===//
//
//   pce-run DIR --weights W.safetensors --input X.npy --output Y.npy
//           [--routing RDIR] [--entry forward]
//
// Exit codes: 0 success, 1 runtime error (files, artifact, shapes), 2 usage
// error (anything wrong with the command line itself). See docs/Runtime.md.
//
//===----------------------------------------------------------------------===//

#include "runtime/Artifact.h"
#include "runtime/Npy.h"
#include "runtime/Safetensors.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

using namespace pce::rt;

namespace {

constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

const char *kUsage =
    "usage: pce-run DIR --input X.npy --output Y.npy [--weights W.safetensors]\n"
    "               [--routing RDIR] [--entry NAME]\n"
    "\n"
    "Runs entry point NAME (default: forward) of the compiled artifact in DIR.\n"
    "\n"
    "  --weights W.safetensors  parameters of the model (needed when the entry\n"
    "                           point takes parameters)\n"
    "  --input X.npy            the entry point's single \"input\" argument\n"
    "  --input NAME=X.npy       one input by name (repeat for several inputs)\n"
    "  --output Y.npy           where to write the first \"output\" result\n"
    "  --routing RDIR           create RDIR and write every \"routing\" result\n"
    "                           as RDIR/<result name>.npy\n"
    "  --entry NAME             entry point to run (default: forward)\n"
    "  --threads N              threads for inputs holding several compiled batches\n"
    "                           (default: $PCE_NUM_THREADS, else all cores)\n"
    "  --help                   show this help\n"
    "\n"
    "Exit status: 0 success, 1 runtime error, 2 usage error.\n";

struct Options {
  std::string dir;
  std::optional<std::string> weights, output, routing;
  std::string entry = "forward";
  bool entryGiven = false;
  std::vector<std::string> inputs;
  int threads = 0; // 0: the runtime's default
};

struct UsageError {
  std::string message;
};

int usageError(const std::string &message) {
  std::fprintf(stderr, "pce-run: %s\n(run 'pce-run --help' for usage)\n", message.c_str());
  return kExitUsage;
}

int runtimeError(const std::string &message) {
  std::fprintf(stderr, "pce-run: error: %s\n", message.c_str());
  return kExitRuntime;
}

// Returns nullopt after printing help (exit 0); throws UsageError.
std::optional<Options> parseArgs(int argc, char **argv) {
  Options o;
  bool haveDir = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return std::nullopt;
    }
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      if (arg.rfind("-", 0) == 0 && arg != "-")
        throw UsageError{"unknown option '" + arg + "'"};
      if (haveDir)
        throw UsageError{"unexpected extra argument '" + arg + "' (the artifact directory is '" + o.dir + "')"};
      o.dir = arg;
      haveDir = true;
      continue;
    }
    // --flag VALUE or --flag=VALUE
    std::string flag = arg, value;
    bool inlineValue = false;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      flag = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      inlineValue = true;
    }
    static const std::set<std::string> known = {"--weights", "--input", "--output", "--routing", "--entry",
                                                "--threads"};
    if (!known.count(flag))
      throw UsageError{"unknown option '" + flag + "'"};
    if (!inlineValue) {
      if (i + 1 >= argc)
        throw UsageError{"option '" + flag + "' needs a value"};
      value = argv[++i];
    }
    if (value.empty())
      throw UsageError{"option '" + flag + "' needs a non-empty value"};
    auto once = [&](std::optional<std::string> &slot) {
      if (slot)
        throw UsageError{"option '" + flag + "' given twice"};
      slot = value;
    };
    if (flag == "--weights")
      once(o.weights);
    else if (flag == "--output")
      once(o.output);
    else if (flag == "--routing")
      once(o.routing);
    else if (flag == "--input")
      o.inputs.push_back(value);
    else if (flag == "--threads") {
      char *end = nullptr;
      long n = std::strtol(value.c_str(), &end, 10);
      if (*end != '\0' || n < 1 || n > 1024)
        throw UsageError{"option '--threads' needs a count in [1, 1024], found '" + value + "'"};
      o.threads = static_cast<int>(n);
    }
    else if (flag == "--entry") {
      if (o.entryGiven)
        throw UsageError{"option '--entry' given twice"};
      o.entry = value;
      o.entryGiven = true;
    }
  }
  if (!haveDir)
    throw UsageError{"missing the artifact directory"};
  if (o.inputs.empty())
    throw UsageError{"missing --input"};
  if (!o.output)
    throw UsageError{"missing --output"};
  return o;
}

// Matches --input values to the entry point's "input" arguments.
Expected<std::vector<std::pair<std::string, std::string>>>
resolveInputs(const EntryPoint &ep, const std::vector<std::string> &raw) {
  std::vector<std::string> names;
  for (const auto &a : ep.arguments)
    if (a.kind == ArgKind::Input)
      names.push_back(a.name);
  auto isInput = [&](const std::string &n) {
    for (const auto &x : names)
      if (x == n)
        return true;
    return false;
  };
  std::string list;
  for (const auto &n : names)
    list += (list.empty() ? "" : ", ") + n;
  std::vector<std::pair<std::string, std::string>> out;
  std::set<std::string> seen;
  for (const std::string &r : raw) {
    size_t eq = r.find('=');
    std::string name, file;
    if (eq != std::string::npos && isInput(r.substr(0, eq))) {
      name = r.substr(0, eq);
      file = r.substr(eq + 1);
    } else if (raw.size() == 1 && names.size() == 1) {
      name = names[0];
      file = r;
    } else if (eq != std::string::npos) {
      return Status::error("entry point '" + ep.name + "' has no input named '" + r.substr(0, eq) +
                           "' (inputs: " + list + ")");
    } else {
      return Status::error("entry point '" + ep.name + "' has " + std::to_string(names.size()) +
                           " inputs (" + list + "): pass each as --input NAME=FILE.npy");
    }
    if (!seen.insert(name).second)
      return Status::error("input '" + name + "' given twice");
    out.emplace_back(name, file);
  }
  return out;
}

int runTool(const Options &o) {
  auto art = Artifact::open(o.dir);
  if (!art)
    return runtimeError(art.error());
  if (o.threads > 0)
    art->setThreads(o.threads);
  const EntryPoint *ep = art->manifest().findEntry(o.entry);
  if (!ep) {
    std::string names;
    for (const auto &e : art->manifest().entryPoints)
      names += (names.empty() ? "" : ", ") + e.name;
    return runtimeError("artifact " + o.dir + " has no entry point '" + o.entry + "' (available: " + names + ")");
  }
  const BufferSpec *output = nullptr;
  for (const auto &r : ep->results)
    if (r.kind == ArgKind::Output) {
      output = &r;
      break;
    }
  if (!output)
    return runtimeError("entry point '" + ep->name + "' has no result of kind output");

  bool needsWeights = false;
  for (const auto &a : ep->arguments)
    needsWeights |= a.kind == ArgKind::Parameter;
  if (o.weights) {
    auto weights = readSafetensors(*o.weights);
    if (!weights)
      return runtimeError(weights.error());
    if (Status s = art->bindParameters(*weights); !s)
      return runtimeError(s.message());
    for (const auto &w : art->warnings())
      std::fprintf(stderr, "pce-run: warning: %s\n", w.c_str());
  } else if (needsWeights) {
    return runtimeError("entry point '" + ep->name + "' takes parameters: pass --weights FILE.safetensors");
  }

  auto inputs = resolveInputs(*ep, o.inputs);
  if (!inputs)
    return runtimeError(inputs.error());
  TensorMap feed;
  for (const auto &[name, file] : *inputs) {
    auto t = readNpy(file);
    if (!t)
      return runtimeError(t.error());
    feed.emplace(name, std::move(*t));
  }

  auto results = art->run(ep->name, feed);
  if (!results)
    return runtimeError(results.error());

  if (Status s = writeNpy(*o.output, results->at(output->name)); !s)
    return runtimeError(s.message());
  if (o.routing) {
    std::error_code ec;
    std::filesystem::create_directories(*o.routing, ec);
    if (ec)
      return runtimeError(*o.routing + ": cannot create directory: " + ec.message());
    bool any = false;
    for (const auto &r : ep->results) {
      if (r.kind != ArgKind::Routing)
        continue;
      any = true;
      if (Status s = writeNpy(*o.routing + "/" + r.name + ".npy", results->at(r.name)); !s)
        return runtimeError(s.message());
    }
    if (!any)
      std::fprintf(stderr, "pce-run: warning: entry point '%s' has no routing results\n", ep->name.c_str());
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  try {
    std::optional<Options> o;
    try {
      o = parseArgs(argc, argv);
    } catch (const UsageError &e) {
      return usageError(e.message);
    }
    if (!o)
      return 0;
    return runTool(*o);
  } catch (const std::exception &e) {
    return runtimeError(std::string("internal error: ") + e.what());
  }
}
