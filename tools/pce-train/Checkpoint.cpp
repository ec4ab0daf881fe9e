//===- Checkpoint.cpp - run directory, checkpoints, final weights ---------===//

#include "tools/pce-train/Checkpoint.h"

#include "runtime/Json.h"
#include "runtime/Safetensors.h"
#include "runtime/torch/TensorConvert.h"
#include "tools/pce-train/Plan.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace pce::train {

namespace fs = std::filesystem;
using rt::JsonValue;

namespace {
const char *kRunFiles[] = {"checkpoint.json", "checkpoint.safetensors", "log.jsonl"};
const char *kOutputs[] = {"checkpoint.json", "checkpoint.safetensors", "log.jsonl", "summary.json",
                          "weights.safetensors"};
} // namespace

void prepareRunDir(const std::string &runDir, bool resume, bool force, bool removeCompiled) {
  std::vector<std::string> found;
  for (const char *f : kRunFiles)
    if (fs::exists(fs::path(runDir) / f))
      found.push_back(f);
  if (resume) {
    if (!fs::exists(fs::path(runDir) / "checkpoint.json"))
      throw std::runtime_error("--resume: " + runDir + " holds no checkpoint.json to resume from");
    return;
  }
  if (!found.empty() && !force) {
    std::string list;
    for (const std::string &f : found)
      list += (list.empty() ? "" : ", ") + f;
    throw std::runtime_error(runDir + " already holds a run (" + list +
                             "); pass --resume to continue it or --force to start over (deleting it)");
  }
  if (force) {
    for (const char *f : kOutputs)
      fs::remove(fs::path(runDir) / f);
    if (removeCompiled)
      fs::remove_all(fs::path(runDir) / "compiled");
  }
  fs::create_directories(runDir);
}

void writeTextAtomic(const std::string &path, const std::string &text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out)
      throw std::runtime_error("cannot write " + tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec)
    throw std::runtime_error("cannot rename " + tmp + " to " + path + ": " + ec.message());
}

void writeTensors(const std::string &path, const std::map<std::string, torch::Tensor> &tensors,
                  const std::map<std::string, std::string> &metadata) {
  std::map<std::string, rt::HostTensor> host;
  for (const auto &[name, t] : tensors)
    host.emplace(name, torchrt::toHost(t, name));
  if (rt::Status s = rt::writeSafetensors(path, host, metadata); !s)
    throw std::runtime_error(s.message());
}

std::map<std::string, torch::Tensor> readTensors(const std::string &path) {
  auto file = rt::readSafetensors(path);
  if (!file)
    throw std::runtime_error(file.error());
  std::map<std::string, torch::Tensor> out;
  for (auto &[name, t] : file->tensors)
    out[name] = torchrt::toTorch(std::move(t));
  return out;
}

void writeCheckpoint(const std::string &runDir, const Checkpoint &c) {
  const CheckpointInfo &i = c.info;
  writeTensors((fs::path(runDir) / "checkpoint.safetensors").string(), c.tensors,
               {{"pce.train.epoch", std::to_string(i.epoch)}});
  JsonValue j = JsonValue::object();
  j.set("format", JsonValue::string("pce-train-checkpoint"));
  j.set("version", JsonValue::integer(1));
  j.set("model", JsonValue::string(i.model));
  j.set("epoch", JsonValue::integer(i.epoch));
  j.set("phase", JsonValue::integer(i.phase + 1));
  j.set("optimizer_steps", JsonValue::integer(i.optimizerSteps));
  j.set("global_step", JsonValue::integer(i.globalStep));
  j.set("wall_seconds", JsonValue::number(i.wallSeconds));
  j.set("dense", JsonValue::boolean(i.dense));
  j.set("seed", JsonValue::integer(i.seed));
  j.set("rng", JsonValue::string("rng.state in checkpoint.safetensors (the CPU generator's state)"));
  writeTextAtomic((fs::path(runDir) / "checkpoint.json").string(), rt::writeJson(j, 1) + "\n");
}

Checkpoint readCheckpoint(const std::string &runDir) {
  std::string jsonPath = (fs::path(runDir) / "checkpoint.json").string();
  std::ifstream in(jsonPath, std::ios::binary);
  if (!in)
    throw std::runtime_error("cannot read " + jsonPath);
  std::stringstream text;
  text << in.rdbuf();
  auto doc = rt::parseJson(text.str(), jsonPath);
  if (!doc)
    throw std::runtime_error(doc.error());
  auto field = [&](const char *key) -> const JsonValue & {
    const JsonValue *v = doc->find(key);
    if (!v)
      throw std::runtime_error(jsonPath + ": missing key '" + key + "'");
    return *v;
  };
  const std::string *format = field("format").getString();
  if (!format || *format != "pce-train-checkpoint")
    throw std::runtime_error(jsonPath + ": not a pce-train checkpoint");
  Checkpoint c;
  c.info.model = field("model").getString() ? *field("model").getString() : "";
  c.info.epoch = field("epoch").intValue();
  c.info.phase = field("phase").intValue() - 1;
  c.info.optimizerSteps = field("optimizer_steps").intValue();
  c.info.globalStep = field("global_step").intValue();
  c.info.wallSeconds = field("wall_seconds").numberValue();
  c.info.dense = field("dense").boolValue();
  c.info.seed = field("seed").intValue();

  std::string tensorsPath = (fs::path(runDir) / "checkpoint.safetensors").string();
  auto file = rt::readSafetensors(tensorsPath);
  if (!file)
    throw std::runtime_error(file.error());
  auto epoch = file->metadata.find("pce.train.epoch");
  if (epoch == file->metadata.end() || epoch->second != std::to_string(c.info.epoch))
    throw std::runtime_error(tensorsPath + " and " + jsonPath +
                             " are from different epochs (interrupted while writing?); start over with --force");
  for (auto &[name, t] : file->tensors)
    c.tensors[name] = torchrt::toTorch(std::move(t));
  return c;
}

} // namespace pce::train
