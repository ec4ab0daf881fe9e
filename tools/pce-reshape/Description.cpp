//===- Description.cpp - the model description side of pce-reshape ------===//

#include "tools/pce-reshape/Description.h"

#include "runtime/FileIO.h"

#include "frontend/Diagnostics.h"
#include "frontend/Importer.h"
#include "frontend/ModelDescription.h"
#include "frontend/TrainingPlan.h"

#include "dialect/PCEAttributes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"


namespace pce::reshape {

using rt::Expected;
using rt::Status;

namespace {

// Collects the context's diagnostics as "FILE:LINE:COL: error: MESSAGE" lines
// so that they become the Status message (nothing is printed directly).
class Collect {
public:
  explicit Collect(mlir::MLIRContext &context)
      : handler(&context, [this](mlir::Diagnostic &d) {
          std::string line;
          llvm::raw_string_ostream os(line);
          if (auto at = mlir::dyn_cast<mlir::FileLineColLoc>(d.getLocation()))
            os << at.getFilename().getValue() << ":" << at.getLine() << ":" << at.getColumn()
               << ": ";
          os << (d.getSeverity() == mlir::DiagnosticSeverity::Error ? "error: " : "note: ") << d.str();
          text += (text.empty() ? "" : "\n") + line;
          return mlir::success();
        }) {}
  std::string text;

private:
  mlir::ScopedDiagnosticHandler handler;
};

// A SourceMgr holding `text` as its main buffer named `path`.
void addBuffer(llvm::SourceMgr &sm, const std::string &path, const std::string &text) {
  sm.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(text, path), llvm::SMLoc());
}

// The byte offset of 1-based line:column in `text`; npos when outside.
size_t offsetOf(const std::string &text, unsigned line, unsigned column) {
  size_t at = 0;
  for (unsigned l = 1; l < line; ++l) {
    at = text.find('\n', at);
    if (at == std::string::npos)
      return std::string::npos;
    ++at;
  }
  at += column - 1;
  return at < text.size() ? at : std::string::npos;
}

} // namespace

Expected<Description> readDescription(const std::string &path) {
  Description out;
  out.path = path;
  try {
    out.text = rt::detail::readWholeFile(path);
  } catch (const std::exception &e) {
    return Status::error(std::string(e.what()) + " (the model description)");
  }

  mlir::MLIRContext context;
  Collect diagnostics(context);
  llvm::SourceMgr sm;
  addBuffer(sm, path, out.text);
  std::string problem;
  bool ok = frontend::withModelDescription(
      sm, &context, [&](const frontend::ModelDescription &model, frontend::Diagnostics &diag) {
        for (const frontend::PhaseDesc &phase : model.training.phases)
          out.phaseTable |= phase.hasRouter && phase.router.table.given;
        for (const frontend::LayerDesc &layer : model.layers) {
          if (layer.kind != frontend::LayerKind::PCE) {
            out.otherLayers.push_back(layer.name.value);
            continue;
          }
          const frontend::PCELayerDesc &p = layer.pce;
          DescribedLayer d;
          d.name = layer.name.value;
          d.experts = p.experts.value;
          d.router = mlir::pce::stringifyRouterKind(p.router.kind.value).str();
          d.table = p.router.table.given;
          d.topK = p.router.topK.given ? p.router.topK.value : 0;
          auto at = mlir::dyn_cast<mlir::FileLineColLoc>(diag.location(p.experts.loc));
          if (!at) {
            problem = path + ": layer '" + d.name + "': cannot locate its 'experts' value";
            return false;
          }
          d.line = at.getLine();
          d.column = at.getColumn();
          out.layers.push_back(d);
        }
        return true;
      });
  if (!ok)
    return Status::error(!problem.empty() ? problem
                                          : (diagnostics.text.empty() ? path + ": cannot parse it"
                                                                      : diagnostics.text));

  // Where each `experts:` value's text is: the integer the parser read,
  // possibly quoted. Anything else (an alias, a tag) is refused, not guessed.
  for (DescribedLayer &d : out.layers) {
    const std::string where =
        path + ":" + std::to_string(d.line) + ":" + std::to_string(d.column);
    size_t at = offsetOf(out.text, d.line, d.column);
    if (at == std::string::npos)
      return Status::error(where + ": the 'experts' value lies outside the file");
    char quote = out.text[at] == '"' || out.text[at] == '\'' ? out.text[at] : 0;
    if (quote)
      ++at;
    size_t end = at;
    while (end < out.text.size() && (std::isdigit((unsigned char)out.text[end]) || out.text[end] == '+'))
      ++end;
    const std::string digits = out.text.substr(at, end - at);
    bool plain = !digits.empty() && (!quote || (end < out.text.size() && out.text[end] == quote));
    if (!plain || std::to_string(d.experts) != (digits[0] == '+' ? digits.substr(1) : digits))
      return Status::error(where + ": layer '" + d.name + "': 'experts' is not written as a plain "
                                   "integer here; pce-reshape cannot rewrite it");
    d.offset = at;
    d.length = end - at;
  }
  return out;
}

Expected<std::string> rewriteExperts(const Description &description,
                                     const std::map<std::string, int64_t> &newExperts) {
  // Back to front so that earlier offsets stay valid.
  std::string text = description.text;
  for (auto it = description.layers.rbegin(); it != description.layers.rend(); ++it) {
    auto n = newExperts.find(it->name);
    if (n == newExperts.end())
      continue;
    if (n->second < 1)
      return Status::error("layer '" + it->name + "': " + std::to_string(n->second) +
                           " experts is not a layer");
    text.replace(it->offset, it->length, std::to_string(n->second));
  }
  for (const auto &[name, count] : newExperts) {
    bool found = false;
    for (const DescribedLayer &d : description.layers)
      found |= d.name == name;
    if (!found)
      return Status::error(description.path + ": no pce layer '" + name + "'");
  }
  return text;
}

Status verifyDescription(const std::string &path, const std::string &text, const std::string &artifact,
                         const std::map<std::string, rt::HostTensor> &weights) {
  mlir::MLIRContext context;
  Collect diagnostics(context);
  mlir::OwningOpRef<mlir::ModuleOp> module;
  bool training = false;
  {
    // Whether the description has a training section decides the import.
    llvm::SourceMgr sm;
    addBuffer(sm, path, text);
    frontend::withModelDescription(sm, &context,
                                   [&](const frontend::ModelDescription &m, frontend::Diagnostics &) {
                                     training = m.training.given;
                                     return true;
                                   });
  }
  llvm::SourceMgr sm;
  addBuffer(sm, path, text);
  if (training) {
    std::optional<frontend::TrainingImport> imported = frontend::importForTraining(sm, &context);
    if (imported && !imported->phases.empty()) {
      frontend::PhaseModule *chosen = &imported->phases.back();
      for (frontend::PhaseModule &p : imported->phases)
        if (p.artifact == artifact)
          chosen = &p;
      module = std::move(chosen->module);
    }
  } else {
    module = frontend::importModelDescription(sm, &context);
  }
  if (!module)
    return Status::error(diagnostics.text.empty() ? path + ": the description does not import"
                                                  : diagnostics.text);

  auto forward = module->lookupSymbol<mlir::func::FuncOp>("forward");
  if (!forward)
    return Status::error(path + ": the imported module has no @forward");
  for (unsigned i = 0, e = forward.getNumArguments(); i < e; ++i) {
    mlir::StringAttr param = mlir::pce::getParamName(forward, i);
    if (!param)
      continue;
    const std::string name = param.getValue().str();
    auto type = mlir::dyn_cast<mlir::RankedTensorType>(forward.getArgument(i).getType());
    auto it = weights.find(name);
    if (it == weights.end())
      return Status::error(path + ": parameter '" + name + "' is not in the new weights");
    std::vector<int64_t> shape = type ? std::vector<int64_t>(type.getShape().begin(), type.getShape().end())
                                      : std::vector<int64_t>{};
    if (!type || shape != it->second.shape) {
      std::string want;
      for (int64_t d : shape)
        want += (want.empty() ? "" : ",") + std::to_string(d);
      return Status::error(path + ": parameter '" + name + "' is [" + want +
                           "] in the new description but " + it->second.typeString() +
                           " in the new weights");
    }
  }
  return Status::success();
}

} // namespace pce::reshape
