//===- RunFiles.cpp - what pce-reshape reads from a run, what it writes --===//

#include "tools/pce-reshape/RunFiles.h"

#include "runtime/FileIO.h"

#include <cstdio>
#include <filesystem>
#include <sstream>

namespace pce::reshape {

namespace fs = std::filesystem;
using rt::Expected;
using rt::JsonValue;
using rt::Status;

namespace {

Expected<JsonValue> readJsonFile(const std::string &path) {
  std::string text;
  try {
    text = rt::detail::readWholeFile(path); // the message names the path and the reason
  } catch (const std::exception &e) {
    return Status::error(e.what());
  }
  return rt::parseJson(text, path);
}

bool endsWith(const std::string &s, const std::string &tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The highest N of DIR/phase<N>/ holding `file`; 0 when none.
int64_t lastPhaseWith(const std::string &dir, const std::string &file) {
  int64_t last = 0;
  std::error_code ec;
  for (const auto &entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("phase", 0) != 0 || name.size() == 5 || name.size() > 12)
      continue;
    const std::string digits = name.substr(5);
    if (digits.find_first_not_of("0123456789") != std::string::npos)
      continue;
    if (fs::exists(entry.path() / file))
      last = std::max<int64_t>(last, std::stoll(digits));
  }
  return last;
}

// Numbers of a JSON array, or nullopt when it is not one.
std::optional<std::vector<double>> numbers(const JsonValue *v) {
  if (!v || !v->isArray())
    return std::nullopt;
  std::vector<double> out;
  for (const JsonValue &x : *v->getArray()) {
    if (!x.isNumber())
      return std::nullopt;
    out.push_back(x.numberValue());
  }
  return out;
}

// The model description pce-train read: summary.json's command line
// ("pce-train MODEL.yaml -o RUN ..."), its first .yaml/.yml word.
Expected<std::string> recordedModel(const std::string &dir) {
  const std::string path = dir + "/summary.json";
  if (!fs::exists(path))
    return Status::error(path + ": no such file, so the run's model description is unknown "
                                "(give --model MODEL.yaml)");
  auto summary = readJsonFile(path);
  if (!summary)
    return summary.status();
  if (const JsonValue *dense = summary->find("dense"); dense && dense->boolValue())
    return Status::error(path + ": the run trained the dense twin (--dense): it has no experts");
  if (const JsonValue *b = summary->find("baseline"); b && b->getString() && *b->getString() != "none")
    return Status::error(path + ": the run trained the " + *b->getString() +
                         " baseline, not the PCE model: pce-reshape reshapes PCE runs only");
  const JsonValue *command = summary->find("command");
  if (!command || !command->getString())
    return Status::error(path + ": no \"command\" to find the model description in (give --model)");
  std::istringstream words(*command->getString());
  std::string word;
  words >> word; // the program
  while (words >> word)
    if (endsWith(word, ".yaml") || endsWith(word, ".yml")) {
      if (!fs::exists(word))
        return Status::error(path + ": the model description '" + word +
                             "' that pce-train read is not there from here (it is relative to "
                             "where pce-train ran?); give --model MODEL.yaml");
      return word;
    }
  return Status::error(path + ": its command line names no .yaml model description (give --model)");
}

} // namespace

Expected<Run> readRun(const std::string &dir, std::optional<int64_t> phase,
                      std::optional<std::string> model) {
  Run run;
  run.dir = dir;
  if (!fs::is_directory(dir))
    return Status::error(dir + ": no such run directory");
  if (model) {
    if (!fs::exists(*model))
      return Status::error(*model + ": no such model description");
    run.modelPath = *model;
  } else {
    auto recorded = recordedModel(dir);
    if (!recorded)
      return recorded.status();
    run.modelPath = *recorded;
  }

  const std::string compiled = dir + "/compiled";
  run.lastPhase = lastPhaseWith(compiled, rt::kManifestFileName);
  if (run.lastPhase == 0)
    return Status::error(compiled + ": no phase<N>/manifest.json (is " + dir +
                         " a pce-train run directory?)");
  const std::string phaseDir = compiled + "/phase" + std::to_string(run.lastPhase);
  auto manifest = rt::readManifest(phaseDir + "/" + rt::kManifestFileName);
  if (!manifest)
    return manifest.status();
  run.manifest = std::move(*manifest);

  // The plan's router per layer in the last phase (cosine and gumbel share roles).
  if (fs::exists(compiled + "/training.json")) {
    auto plan = readJsonFile(compiled + "/training.json");
    if (!plan)
      return plan.status();
    const JsonValue *phases = plan->find("phases");
    if (phases && phases->isArray() && int64_t(phases->getArray()->size()) >= run.lastPhase)
      if (const JsonValue *layers = (*phases->getArray())[run.lastPhase - 1].find("layers");
          layers && layers->isObject())
        for (const auto &[name, layer] : *layers->getObject())
          if (const JsonValue *router = layer.find("router"); router && router->getString())
            run.routers[name] = *router->getString();
  }

  run.reportPhase = phase ? *phase : run.lastPhase;
  run.reportPath = dir + "/report/phase" + std::to_string(run.reportPhase) + "/report.json";
  if (!fs::exists(run.reportPath))
    return Status::error(run.reportPath + ": no such file (pce-train writes a phase's routing "
                                          "report when the phase ends)");
  auto report = readJsonFile(run.reportPath);
  if (!report)
    return report.status();
  const JsonValue *layers = report->find("layers");
  if (!layers || !layers->isArray())
    return Status::error(run.reportPath + ": no \"layers\" array (not a routing report?)");
  for (const JsonValue &layer : *layers->getArray()) {
    const JsonValue *name = layer.find("name");
    auto usage = numbers(layer.find("expert_usage"));
    if (!name || !name->getString() || !usage)
      return Status::error(run.reportPath + ": byte " + std::to_string(layer.offset()) +
                           ": a layer without \"name\" or \"expert_usage\"");
    std::string layerName = *name->getString();
    if (endsWith(layerName, ".routing"))
      layerName.resize(layerName.size() - 8);
    LayerStats stats{*usage, numbers(layer.find("expert_entropy"))};
    if (stats.entropy && stats.entropy->size() != usage->size())
      return Status::error(run.reportPath + ": layer '" + layerName +
                           "': \"expert_entropy\" and \"expert_usage\" differ in length");
    run.stats[layerName] = std::move(stats);
  }

  auto weights = rt::readSafetensors(dir + "/weights.safetensors");
  if (!weights)
    return weights.status();
  run.weights = std::move(*weights);
  return run;
}

std::vector<LayerParam> layerParams(const rt::Manifest &manifest, const std::string &layer) {
  std::vector<LayerParam> out;
  for (const rt::ParameterSpec &p : manifest.parameters)
    if (p.name.rfind(layer + ".", 0) == 0)
      out.push_back({p.name, p.role});
  return out;
}

namespace {

bool keyed(const std::string &router) { return router == "cosine" || router == "gumbel"; }

} // namespace

JsonValue reshapeJson(const std::string &source, const std::string &model, int64_t reportPhase,
                      uint64_t seed, double perturb, const std::vector<LayerOutcome> &layers) {
  JsonValue doc = JsonValue::object();
  doc.set("format", JsonValue::string("pce-reshape"));
  doc.set("version", JsonValue::integer(1));
  doc.set("source", JsonValue::string(source));
  doc.set("model", JsonValue::string(model));
  doc.set("report_phase", JsonValue::integer(reportPhase));
  doc.set("seed", JsonValue::integer(int64_t(seed)));
  doc.set("perturb", JsonValue::number(perturb));
  JsonValue array = JsonValue::array();
  for (const LayerOutcome &l : layers) {
    const ExpertMap &m = l.decision.map;
    JsonValue j = JsonValue::object();
    j.set("name", JsonValue::string(l.name));
    j.set("router", l.router.empty() ? JsonValue() : JsonValue::string(l.router));
    j.set("experts_before", JsonValue::integer(m.before));
    j.set("experts_after", JsonValue::integer(m.after()));
    j.set("kept", JsonValue::integers(m.origin));
    j.set("pruned", JsonValue::integers(m.pruned));
    JsonValue splits = JsonValue::array();
    for (const Split &s : m.splits) {
      JsonValue x = JsonValue::object();
      x.set("expert", JsonValue::integer(s.expert));
      x.set("into", JsonValue::integers({s.stays, s.copy}));
      splits.push(std::move(x));
    }
    j.set("split", std::move(splits));
    // Keyed routers start the pair with equal keys; fine-tuning refits them.
    j.set("refit_keys", JsonValue::boolean(keyed(l.router) && !m.splits.empty()));
    JsonValue reasons = JsonValue::array();
    for (const ExpertDecision &d : l.decision.experts) {
      JsonValue x = JsonValue::object();
      x.set("expert", JsonValue::integer(d.expert));
      x.set("usage", JsonValue::number(d.usage));
      x.set("entropy", d.entropy ? JsonValue::number(*d.entropy) : JsonValue());
      x.set("action", JsonValue::string(actionName(d.action)));
      x.set("why", JsonValue::string(d.why));
      reasons.push(std::move(x));
    }
    j.set("reason", std::move(reasons));
    if (!l.decision.note.empty())
      j.set("note", JsonValue::string(l.decision.note));
    array.push(std::move(j));
  }
  doc.set("layers", std::move(array));
  return doc;
}

std::string reshapeTable(const std::vector<LayerOutcome> &layers) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-16s %6s %8s  %s\n", "layer", "expert", "usage", "action");
  out += line;
  for (const LayerOutcome &l : layers) {
    const ExpertMap &m = l.decision.map;
    for (const ExpertDecision &d : l.decision.experts) {
      std::string action = actionName(d.action);
      // Where the expert goes: its new index, or both of a pair.
      if (d.action == Action::Keep) {
        for (int64_t i = 0; i < m.after(); ++i)
          if (m.origin[i] == d.expert) {
            action += " -> " + std::to_string(i);
            break;
          }
      } else if (d.action == Action::Split) {
        for (const Split &s : m.splits)
          if (s.expert == d.expert)
            action += " -> " + std::to_string(s.stays) + ", " + std::to_string(s.copy);
      }
      if (!d.why.empty())
        action += " (" + d.why + ")";
      std::snprintf(line, sizeof line, "%-16s %6lld %7.2f%%  %s\n", l.name.c_str(),
                    static_cast<long long>(d.expert), 100 * d.usage, action.c_str());
      out += line;
    }
    if (!l.decision.note.empty())
      out += "note: " + l.name + ": " + l.decision.note + "\n";
  }
  return out;
}

} // namespace pce::reshape
