//===- pce-study.cpp - variants x seeds of pce-train, one after another ---===//
//
// Runs every (variant, seed) of a study (Study.h) through pce-train, one run
// at a time, each in DIR/runs/<variant>/seed<S> with its output in
// DIR/logs/<variant>-seed<S>.log; appends one line per finished run to
// DIR/study.jsonl and rewrites DIR/table.md and DIR/table.html after each.
// Resumable: a run recorded as ok is not run again; any other run continues
// from its last checkpoint (pce-train --resume) when it has one (it was
// interrupted, or failed after an epoch), else starts over.
// docs/Analysis.md, "Studies".
//
//===----------------------------------------------------------------------===//

#include "ModelOverride.h"
#include "Study.h"
#include "StudyTable.h"

#include "runtime/FileIO.h"
#include "runtime/Json.h"
#include "tools/support/CommandLine.h"

#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using pce::rt::JsonValue;
using namespace pce::study;

namespace {

const char *kUsage = R"(usage: pce-study STUDY.yaml -o DIR [--only VARIANT] [--pce-train PATH] [--dry-run]

Runs every variant of STUDY.yaml once per seed through pce-train, one run
after another, and writes DIR/study.jsonl (one line per run), DIR/table.md
and DIR/table.html (mean +- standard deviation per variant). Run it again to
continue an interrupted study: finished runs are kept, the others resume
from their last checkpoint where they have one. docs/Analysis.md.

  -o DIR            the study directory (created)
  --only VARIANT    run this variant only (the table still shows every one)
  --pce-train PATH  the pce-train to run (default: the one beside pce-study)
  --dry-run         print the commands, run nothing
  --help            this help
  --version         the PCE version and git commit

Exit status: 0 every run ok, 1 a run failed or an error, 2 usage error.
)";

struct Options {
  std::string study, dir, only, pceTrain;
  bool dryRun = false;
};

std::string key(const std::string &variant, int64_t seed) { return variant + "/" + std::to_string(seed); }

// The last record of each run wins (a failed run that was run again).
std::map<std::string, JsonValue> readRecords(const std::string &path) {
  std::map<std::string, JsonValue> out;
  if (!fs::exists(path))
    return out;
  auto lines = pce::rt::readJsonLines(path);
  if (!lines)
    throw std::runtime_error(lines.error());
  for (JsonValue &r : *lines) {
    const JsonValue *v = r.find("variant"), *s = r.find("seed");
    if (!v || !v->getString() || !s || !s->isInt())
      throw std::runtime_error(path + ": a line without variant and seed");
    out[key(*v->getString(), s->intValue())] = std::move(r);
  }
  return out;
}

std::vector<JsonValue> inStudyOrder(const Study &study, const std::map<std::string, JsonValue> &records) {
  std::vector<JsonValue> out;
  for (const Variant &v : study.variants)
    for (int64_t seed : study.seeds)
      if (auto it = records.find(key(v.name, seed)); it != records.end())
        out.push_back(it->second);
  return out;
}

// What the table needs of a finished run's summary.json.
JsonValue recordFromSummary(const std::string &runDir) {
  std::string path = (fs::path(runDir) / "summary.json").string();
  auto summary = pce::rt::parseJson(pce::rt::detail::readWholeFile(path), path);
  if (!summary)
    throw std::runtime_error(summary.error());
  JsonValue metrics = JsonValue::object(), record = JsonValue::object();
  for (const auto &[k, v] : *summary->getObject())
    if (k.rfind("test_", 0) == 0 && v.isNumber() && k != "test_images")
      metrics.set(k, v);
  if (const JsonValue *phases = summary->find("phases"); phases && phases->getArray() && !phases->getArray()->empty())
    for (const auto &[k, v] : *phases->getArray()->back().getObject())
      if (k.rfind("val_", 0) == 0 && v.isNumber())
        metrics.set(k, v);
  double least = 2;
  JsonValue layers = JsonValue::object();
  if (const JsonValue *l = summary->find("test_layers"); l && l->getObject())
    for (const auto &[name, stats] : *l->getObject()) {
      layers.set(name, stats);
      if (const JsonValue *u = stats.find("usage"); u && u->getArray())
        for (const JsonValue &x : *u->getArray())
          least = std::min(least, x.numberValue());
    }
  if (least <= 1)
    metrics.set("min_expert_usage", JsonValue::number(least));
  record.set("metrics", std::move(metrics));
  record.set("layers", std::move(layers));
  for (const char *k : {"wall_seconds", "parameters", "epochs", "baseline", "pce"})
    if (const JsonValue *v = summary->find(k))
      record.set(k, *v);
  return record;
}

// Runs argv with stdout and stderr appended to `log`; the exit status, or
// 128 + the signal that ended it.
int runLogged(const std::vector<std::string> &argv, const std::string &log) {
  pid_t pid = fork();
  if (pid < 0)
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
      _exit(126);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char *> args;
    for (const std::string &a : argv)
      args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void writeText(const fs::path &path, const std::string &text) {
  pce::rt::detail::writeFileAtomic(path.string(), {{text.data(), text.size()}});
}

void writeTables(const Study &study, const std::string &dir, const std::map<std::string, JsonValue> &records) {
  std::vector<JsonValue> ordered = inStudyOrder(study, records);
  writeText(fs::path(dir) / "table.md", studyTableMarkdown(study, ordered));
  writeText(fs::path(dir) / "table.html", studyTableHtml(study, ordered));
}

void appendLine(const fs::path &path, const std::string &line) {
  std::ofstream out(path, std::ios::app);
  out << line << "\n";
  out.flush();
  if (!out)
    throw std::runtime_error(path.string() + ": cannot append the run's record");
}

// Each variant's model description: its own file, or DIR/models/<variant>.yaml
// when the variant replaces keys of it (written before anything runs, so a
// key that is not there stops the study at once).
std::map<std::string, std::string> variantModels(const Study &study, const std::string &dir) {
  std::map<std::string, std::string> models;
  for (const Variant &v : study.variants) {
    models[v.name] = v.model;
    if (v.sets.empty())
      continue;
    std::string text;
    try {
      text = overrideKeys(pce::rt::detail::readWholeFile(v.model), v.sets);
    } catch (const std::exception &e) {
      throw std::runtime_error("variant '" + v.name + "': " + v.model + ": " + e.what());
    }
    fs::path derived = fs::path(dir) / "models" / (v.name + ".yaml");
    fs::create_directories(derived.parent_path());
    writeText(derived, "# " + v.model + " with the keys that study '" + study.name + "' sets for variant '" +
                           v.name + "' (pce-study)\n" + text);
    models[v.name] = derived.string();
  }
  return models;
}

int runStudy(const Study &study, const Options &o) {
  std::map<std::string, JsonValue> records = readRecords((fs::path(o.dir) / "study.jsonl").string());
  fs::create_directories(fs::path(o.dir) / "logs");
  const std::map<std::string, std::string> models = variantModels(study, o.dir);
  int failed = 0;
  for (const Variant &v : study.variants) {
    if (!o.only.empty() && v.name != o.only)
      continue;
    for (int64_t seed : study.seeds) {
      const std::string k = key(v.name, seed);
      if (auto it = records.find(k); it != records.end()) {
        const JsonValue *status = it->second.find("status");
        if (status && status->getString() && *status->getString() == "ok") {
          std::cout << "pce-study: " << k << " done before, kept\n";
          continue;
        }
      }
      const std::string runDir = (fs::path(o.dir) / "runs" / v.name / ("seed" + std::to_string(seed))).string();
      const std::string log = (fs::path(o.dir) / "logs" / (v.name + "-seed" + std::to_string(seed) + ".log")).string();
      const std::string &model = models.at(v.name);
      std::vector<std::string> argv = {o.pceTrain, model, "-o", runDir, "--seed", std::to_string(seed)};
      const bool finished = fs::exists(fs::path(runDir) / "summary.json");
      const bool resume = !finished && fs::exists(fs::path(runDir) / "checkpoint.json");
      argv.push_back(resume ? "--resume" : "--force");
      argv.insert(argv.end(), study.args.begin(), study.args.end());
      argv.insert(argv.end(), v.args.begin(), v.args.end());
      std::string command;
      for (const std::string &a : argv)
        command += (command.empty() ? "" : " ") + a;
      if (o.dryRun) {
        std::cout << command << "\n";
        continue;
      }
      int rc = 0;
      double seconds = 0;
      if (finished) {
        std::cout << "pce-study: " << k << " finished before its record was written; recording it\n";
      } else {
        std::cout << "pce-study: " << k << (resume ? " resumes" : " starts") << " (log " << log << ")" << std::endl;
        auto start = std::chrono::steady_clock::now();
        rc = runLogged(argv, log);
        seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (rc == 128 + SIGINT || rc == 128 + SIGTERM) {
          std::cerr << "pce-study: " << k << " was interrupted; run the same command to continue\n";
          return pce::tool::kExitError;
        }
      }
      JsonValue record = rc == 0 ? recordFromSummary(runDir) : JsonValue::object();
      record.set("variant", JsonValue::string(v.name));
      record.set("seed", JsonValue::integer(seed));
      record.set("status", JsonValue::string(rc == 0 ? "ok" : "failed"));
      record.set("exit_code", JsonValue::integer(rc));
      record.set("model", JsonValue::string(model));
      record.set("run", JsonValue::string(runDir));
      record.set("log", JsonValue::string(log));
      record.set("command", JsonValue::string(command));
      if (!finished)
        record.set("study_seconds", JsonValue::number(seconds));
      appendLine(fs::path(o.dir) / "study.jsonl", pce::rt::writeJson(record));
      records[k] = std::move(record);
      writeTables(study, o.dir, records);
      if (rc != 0) {
        ++failed;
        std::cerr << "pce-study: " << k << " failed (exit status " << rc << "); see " << log << "\n";
      } else {
        std::cout << "pce-study: " << k << " ok in " << static_cast<int64_t>(seconds) << " s\n";
      }
    }
  }
  if (!o.dryRun) {
    writeTables(study, o.dir, records);
    std::cout << studyTableMarkdown(study, inStudyOrder(study, records));
    std::cout << "pce-study: wrote " << (fs::path(o.dir) / "table.md").string() << " and table.html\n";
  }
  return failed ? pce::tool::kExitError : pce::tool::kExitSuccess;
}

} // namespace

int main(int argc, char **argv) {
  Options o;
  pce::tool::CommandLine cl("pce-study", kUsage);
  cl.app().add_option("study", o.study)->required();
  cl.app().add_option("-o", o.dir)->required();
  cl.app().add_option("--only", o.only);
  cl.app().add_option("--pce-train", o.pceTrain);
  cl.app().add_flag("--dry-run", o.dryRun);
  if (std::optional<int> exit = cl.handle(argc, argv))
    return *exit;
  std::string errors;
  std::optional<Study> study = readStudy(o.study, errors);
  if (!study) {
    std::cerr << errors;
    return pce::tool::kExitError;
  }
  if (!o.only.empty() && std::none_of(study->variants.begin(), study->variants.end(),
                                      [&](const Variant &v) { return v.name == o.only; }))
    return pce::tool::reportUsageError("pce-study", "--only: the study has no variant '" + o.only + "'");
  if (o.pceTrain.empty())
    o.pceTrain = (fs::read_symlink("/proc/self/exe").parent_path() / "pce-train").string();
  if (!fs::exists(o.pceTrain)) {
    std::cerr << "pce-study: no pce-train at " << o.pceTrain << " (give --pce-train PATH)\n";
    return pce::tool::kExitError;
  }
  try {
    return runStudy(*study, o);
  } catch (const std::exception &e) {
    std::cerr << "pce-study: " << e.what() << "\n";
    return pce::tool::kExitError;
  }
}
