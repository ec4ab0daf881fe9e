//===- Checkpoint.cpp - run directory, checkpoints, final weights ---------===//

#include "runtime/train/Checkpoint.h"

#include "runtime/Safetensors.h"
#include "runtime/Version.h"
#include "runtime/torch/TensorConvert.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace pce::train {

namespace fs = std::filesystem;

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

void checkResumable(const Checkpoint &ck, const std::string &runDir, const std::string &model, bool dense,
                    const std::string &baseline, size_t phases) {
  if (ck.info.dense != dense || ck.info.baseline != baseline)
    throw std::runtime_error("--resume: the checkpoint in " + runDir + " is from a run with " +
                             (ck.info.dense ? "--" + ck.info.baseline : std::string("no baseline option")) +
                             "; give the same options");
  if (ck.info.model != model)
    throw std::runtime_error("--resume: the checkpoint is of model '" + ck.info.model + "', the plan of '" + model +
                             "'");
  if (ck.info.phase < 0 || static_cast<size_t>(ck.info.phase) >= phases)
    throw std::runtime_error("--resume: the checkpoint's phase " + std::to_string(ck.info.phase + 1) +
                             " is not in the plan");
}

std::map<std::string, std::string> finalWeightsMetadata(const rt::DataDescription &data,
                                                        const rt::DataFingerprint &fingerprint,
                                                        const std::string &model, int64_t seed) {
  auto metadata = rt::dataMetadata(data);
  if (!metadata)
    throw std::runtime_error(metadata.error());
  metadata->merge(rt::versionMetadata());
  metadata->merge(rt::fingerprintMetadata(fingerprint));
  (*metadata)["pce.train.model"] = model;
  (*metadata)["pce.train.seed"] = std::to_string(seed);
  return std::move(*metadata);
}

void writeCheckpoint(const std::string &runDir, const Checkpoint &c) {
  writeTensors((fs::path(runDir) / rt::kCheckpointTensorsFileName).string(), c.tensors,
               {{rt::kCheckpointEpochKey, std::to_string(c.info.epoch)}});
  writeTextAtomic((fs::path(runDir) / rt::kCheckpointInfoFileName).string(), rt::writeCheckpointInfoText(c.info));
}

Checkpoint readCheckpoint(const std::string &runDir) {
  std::string jsonPath = (fs::path(runDir) / rt::kCheckpointInfoFileName).string();
  auto info = rt::readCheckpointInfo(jsonPath);
  if (!info)
    throw std::runtime_error(info.error());
  Checkpoint c;
  c.info = *info;

  std::string tensorsPath = (fs::path(runDir) / rt::kCheckpointTensorsFileName).string();
  auto file = rt::readSafetensors(tensorsPath);
  if (!file)
    throw std::runtime_error(file.error());
  auto epoch = file->metadata.find(rt::kCheckpointEpochKey);
  if (epoch == file->metadata.end() || epoch->second != std::to_string(c.info.epoch))
    throw std::runtime_error(tensorsPath + " and " + jsonPath +
                             " are from different epochs (interrupted while writing?); start over with --force");
  for (auto &[name, t] : file->tensors)
    c.tensors[name] = torchrt::toTorch(std::move(t));
  return c;
}

std::map<std::string, torch::Tensor> forwardWeights(const std::map<std::string, torch::Tensor> &all,
                                                   const rt::EntryPoint *forward) {
  if (!forward)
    return all;
  std::map<std::string, torch::Tensor> weights;
  for (const rt::BufferSpec &a : forward->arguments) {
    if (a.kind != rt::ArgKind::Parameter)
      continue;
    auto it = all.find(a.name);
    if (it == all.end())
      throw std::runtime_error("the final phase's forward needs '" + a.name + "', which the network lacks");
    weights[a.name] = it->second;
  }
  return weights;
}

} // namespace pce::train
