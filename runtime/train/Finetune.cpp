//===- Finetune.cpp - pce-train --finetune --------------------------------===//

#include "runtime/train/Finetune.h"

#include "runtime/FileIO.h"
#include "runtime/Json.h"
#include "runtime/torch/KMeans.h"
#include "runtime/train/Checkpoint.h"

#include <c10/util/StringUtil.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>

namespace fs = std::filesystem;

namespace pce::train {
namespace {

int64_t integerAt(const rt::JsonValue &o, const char *key, const std::string &where) {
  const rt::JsonValue *v = o.find(key);
  if (!v || !v->isInt())
    throw std::runtime_error(where + ": expected an integer '" + key + "'");
  return v->intValue();
}

std::vector<FinetuneSource::Split> readSplits(const std::string &path) {
  auto json = rt::parseJson(rt::detail::readWholeFile(path), path);
  if (!json)
    throw std::runtime_error(json.error());
  std::vector<FinetuneSource::Split> out;
  const rt::JsonValue *layers = json->find("layers");
  if (!layers || !layers->getArray())
    throw std::runtime_error(path + ": expected a 'layers' list (a pce-reshape output)");
  for (const rt::JsonValue &l : *layers->getArray()) {
    const rt::JsonValue *name = l.find("name"), *refit = l.find("refit_keys"), *splits = l.find("split");
    if (!name || !name->getString() || !splits || !splits->getArray())
      throw std::runtime_error(path + ": a layer without 'name' and 'split'");
    if (!refit || !refit->boolValue())
      continue;
    for (const rt::JsonValue &s : *splits->getArray()) {
      const rt::JsonValue *into = s.find("into");
      if (!into || !into->getArray() || into->getArray()->size() != 2)
        throw std::runtime_error(path + ": layer '" + *name->getString() + "': a split without two 'into' experts");
      const std::string where = path + ": layer '" + *name->getString() + "'";
      (void)integerAt(s, "expert", where);
      const auto &pair = *into->getArray();
      if (!pair[0].isInt() || !pair[1].isInt())
        throw std::runtime_error(where + ": 'into' holds non-integers");
      out.push_back({*name->getString(), pair[0].intValue(), pair[1].intValue()});
    }
  }
  return out;
}

} // namespace

FinetuneSource readFinetuneSource(const std::string &source) {
  FinetuneSource out;
  std::error_code ec;
  const bool dir = fs::is_directory(source, ec);
  out.weightsPath = dir ? (fs::path(source) / "weights.safetensors").string() : source;
  if (!fs::exists(out.weightsPath, ec))
    throw std::runtime_error("--finetune: no weights at " + out.weightsPath +
                             " (give a run, a pce-reshape output or a .safetensors file)");
  out.tensors = readTensors(out.weightsPath);
  if (dir && fs::exists(fs::path(source) / "reshape.json", ec))
    out.keySplits = readSplits((fs::path(source) / "reshape.json").string());
  return out;
}

void checkFinetuneTensors(const FinetuneSource &source, const std::map<std::string, torch::Tensor> &network) {
  for (const auto &[name, t] : network) {
    auto it = source.tensors.find(name);
    if (it == source.tensors.end())
      throw std::runtime_error("--finetune: " + source.weightsPath + " has no tensor '" + name + "' " +
                               c10::str(t.sizes()) + " (weights of another model, or of an earlier phase?)");
    if (it->second.sizes() != t.sizes())
      throw std::runtime_error("--finetune: " + source.weightsPath + ": '" + name + "' is " +
                               c10::str(it->second.sizes()) + " but the model's is " + c10::str(t.sizes()));
  }
}

void finetunePlan(rt::Plan &plan) {
  for (size_t q = 0; q + 1 < plan.phases.size(); ++q)
    plan.phases[q].epochs = 0;
}

std::vector<std::string> refitKeySplits(const FinetuneSource &source, Network &net,
                                        const std::function<LayerSample(const std::string &)> &sample,
                                        int64_t iterations, at::Generator gen) {
  std::vector<std::string> lines;
  std::map<std::string, torch::Tensor> tensors = net.tensors();
  for (const FinetuneSource::Split &s : source.keySplits) {
    auto layer = std::find_if(net.pceLayers().begin(), net.pceLayers().end(),
                              [&](const auto &l) { return l->layerName() == s.layer; });
    if (layer == net.pceLayers().end() || (*layer)->keysName().empty())
      throw std::runtime_error("--finetune: reshape.json splits an expert of '" + s.layer +
                               "', which is no PCE layer with router keys in this model");
    LayerSample points = sample(s.layer);
    if (!points.embeddings.defined())
      throw std::runtime_error("--finetune: layer '" + s.layer + "' returns no embeddings to refit its keys on");
    const int64_t n =
        refitSplitKeys(tensors.at((*layer)->keysName()), points.embeddings, points.routing, s.first, s.second,
                       iterations, gen);
    lines.push_back(s.layer + ": experts " + std::to_string(s.first) + " and " + std::to_string(s.second) +
                    (n >= 2 ? " (split) take keys from 2-means over the " + std::to_string(n) +
                                  " patches routed to them"
                            : " (split) keep one key: " + std::to_string(n) + " patch(es) routed to them"));
  }
  return lines;
}

int64_t refitSplitKeys(torch::Tensor keys, const torch::Tensor &embeddings, const torch::Tensor &routing,
                       int64_t first, int64_t second, int64_t iterations, at::Generator gen) {
  const int64_t E = keys.size(0);
  if (first < 0 || second < 0 || first >= E || second >= E || first == second)
    throw std::runtime_error("--finetune: a split names experts " + std::to_string(first) + " and " +
                             std::to_string(second) + " of " + std::to_string(E));
  torch::Tensor top = routing.argmax(1);
  torch::Tensor mine = (top == first).logical_or(top == second);
  torch::Tensor points = embeddings.index({mine}).to(torch::kFloat64);
  const int64_t n = points.size(0);
  if (n < 2)
    return n;
  points = points / points.norm(2, {1}, true).clamp_min(1e-12);
  torchrt::KMeansResult km = torchrt::kmeans(points, 2, iterations, std::move(gen));
  torch::Tensor c = km.centroids / km.centroids.norm(2, {1}, true).clamp_min(1e-12);
  // The keys' own scale (unit rows from K-Means keys, or what training made).
  torch::Tensor scale = keys.index({first}).norm().to(torch::kFloat64);
  torch::NoGradGuard noGrad;
  keys.index_put_({first}, (c.index({0}) * scale).to(keys.dtype()));
  keys.index_put_({second}, (c.index({1}) * scale).to(keys.dtype()));
  return n;
}

} // namespace pce::train
