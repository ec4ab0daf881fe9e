//===- Network.cpp - the plan's network for one phase ---------------------===//

#include "runtime/train/Network.h"

#include "runtime/torch/ModuleTree.h"
#include "runtime/train/CondConv.h"
#include "runtime/train/CoordConv.h"

#include <cmath>
#include <stdexcept>

namespace pce::train {

void initialiseTensor(torch::Tensor &t, const rt::Initialiser &init, at::Generator gen) {
  torch::NoGradGuard noGrad;
  const auto shape = t.sizes();
  switch (init.kind) {
  case rt::Initialiser::Kind::Constant:
    t.fill_(init.value);
    return;
  case rt::Initialiser::Kind::HeNormal:
    t.copy_(torch::randn(shape, gen, t.options()) * std::sqrt(2.0 / static_cast<double>(std::max<int64_t>(init.fanIn, 1))));
    return;
  case rt::Initialiser::Kind::UnitRows: {
    torch::Tensor r = torch::randn(shape, gen, t.options());
    t.copy_(r / r.norm(2, {-1}, true).clamp_min(1e-12));
    return;
  }
  case rt::Initialiser::Kind::IdentityBlocks: {
    t.zero_();
    const int64_t rows = shape[0];
    for (int64_t e = 0; e < shape[1] / rows; ++e)
      t.narrow(1, e * rows, rows).add_(torch::eye(rows, t.options()));
    return;
  }
  }
}

torch::Tensor Network::add(Layer &layer, const std::string &suffix, rt::ParamRole role, std::vector<int64_t> shape,
                           bool buffer) {
  std::string name = layer.desc.name + "." + suffix;
  auto init = rt::initialiserFor(role, shape);
  if (!init)
    throw std::runtime_error("tensor '" + name + "': " + init.error());
  inits_[name] = *init;
  roles_[name] = role;
  torch::Tensor t = torchrt::registerTensor(*this, name, torch::zeros(shape, torch::kFloat32),
                                            buffer ? torchrt::TensorRole::Buffer : torchrt::TensorRole::Parameter);
  layer.t[suffix] = t;
  return t;
}

void Network::addBatchNorm(Layer &l, const std::string &prefix, int64_t c) {
  add(l, prefix + "gamma", rt::ParamRole::BnGamma, {c});
  add(l, prefix + "beta", rt::ParamRole::BnBeta, {c});
  add(l, prefix + "running_mean", rt::ParamRole::BnRunningMean, {c}, true);
  add(l, prefix + "running_var", rt::ParamRole::BnRunningVar, {c}, true);
}

Network::Network(const Plan &plan, const NetworkOptions &options, at::Generator gen) : options_(options) {
  for (const PlanLayer &d : plan.layers)
    if (d.kind == "residual" || d.kind == "concat")
      residualSources_.insert(d.from);
  for (const PlanLayer &d : plan.layers) {
    Layer l;
    l.desc = d;
    if (d.kind == "conv") {
      add(l, "weight", rt::ParamRole::ConvKernel, {d.out.at(0), d.in.at(0), d.kernel[0], d.kernel[1]});
      if (d.bias)
        add(l, "bias", rt::ParamRole::ConvBias, {d.out.at(0)});
    } else if (d.kind == "batch_norm") {
      addBatchNorm(l, "", d.in.at(0));
    } else if (d.kind == "linear") {
      add(l, "weight", rt::ParamRole::LinearWeight, {d.in.at(0), d.out.at(0)});
      if (d.bias)
        add(l, "bias", rt::ParamRole::LinearBias, {d.out.at(0)});
    } else if (d.kind == "pce") {
      if (options_.dense && options_.baseline != "dense" &&
          (d.patch.size() != 2 || d.kernel.size() != 2 || d.experts < 1))
        throw std::runtime_error("layer '" + d.name + "': the training plan has no patch size (written by an "
                                 "older pce-compile); compile the model again for the " + options_.baseline +
                                 " twin");
      if (options_.dense && options_.baseline == "condconv") {
        add(l, "condconv.kernel", rt::ParamRole::ExpertKernel,
            {d.experts, d.out.at(0), d.in.at(0), d.kernel[0], d.kernel[1]});
        add(l, "condconv.router.weight", rt::ParamRole::RouterMlpWeight, {d.experts, d.in.at(0)});
        add(l, "condconv.router.bias", rt::ParamRole::RouterMlpBias, {d.experts});
        addBatchNorm(l, "condconv.bn.", d.out.at(0));
      } else if (options_.dense && options_.baseline == "coordconv") {
        add(l, "coordconv.weight", rt::ParamRole::ConvKernel, {d.out.at(0), d.in.at(0) + 4, d.kernel[0], d.kernel[1]});
        addBatchNorm(l, "coordconv.bn.", d.out.at(0));
      } else if (options_.dense) {
        add(l, "dense.weight", rt::ParamRole::ConvKernel, {d.out.at(0), d.in.at(0), 3, 3});
        addBatchNorm(l, "dense.bn.", d.out.at(0));
      } else {
        auto it = options_.phaseLayers.find(d.name);
        torchrt::PceLayerOptions po;
        po.name = d.name;
        po.keys = torchrt::parseKeysMode(it == options_.phaseLayers.end() ? "none" : it->second.keys);
        po.bnMomentum = options_.bnMomentum;
        if (!options_.artifact)
          throw std::runtime_error("PCE layer '" + d.name + "' needs a compiled artifact");
        l.pce = register_module(d.name, std::make_shared<torchrt::PceLayer>(options_.artifact, po, gen));
        pce_.push_back(l.pce);
      }
    }
    layers_.push_back(std::move(l));
  }
  inputHeight_ = plan.height;
  inputWidth_ = plan.width;
  if (plan.head)
    addHead(*plan.head);
  // The PCE layers' tensors start as the artifact's manifest says.
  for (const auto &[name, t] : tensors()) {
    if (inits_.count(name))
      continue;
    const rt::ParameterSpec *p = options_.artifact ? options_.artifact->manifest().findParameter(name) : nullptr;
    if (!p || !p->init)
      throw std::runtime_error("the artifact's manifest gives tensor '" + name +
                               "' no initialiser (compiled by an older pce-compile? compile it again)");
    inits_[name] = *p->init;
    if (p->role)
      roles_[name] = *p->role;
  }
}

std::optional<rt::ParamRole> Network::role(const std::string &name) const {
  auto it = roles_.find(name);
  return it == roles_.end() ? std::nullopt : std::optional<rt::ParamRole>(it->second);
}

void Network::addHead(const rt::HeadSpec &head) {
  head_spec_ = head;
  head_.desc.name = "head";
  head_.desc.kind = "head";
  const int64_t features = head.in.empty() ? 0 : head.in[0], K = head.classes;
  auto conv1x1 = [&](const std::string &name, int64_t channels, rt::ParamRole biasRole) {
    add(head_, name + ".weight", rt::ParamRole::ConvKernel, {channels, features, 1, 1});
    add(head_, name + ".bias", biasRole, {channels});
  };
  switch (head.kind) {
  case rt::HeadKind::Classification:
    add(head_, "fc.weight", rt::ParamRole::LinearWeight, {features, K});
    add(head_, "fc.bias", rt::ParamRole::LinearBias, {K});
    return;
  case rt::HeadKind::Segmentation:
    conv1x1("classifier", K, rt::ParamRole::ConvBias);
    return;
  case rt::HeadKind::Detection:
    conv1x1("heatmap", K, rt::ParamRole::HeatmapBias);
    conv1x1("size", 2, rt::ParamRole::ConvBias);
    conv1x1("offset", 2, rt::ParamRole::ConvBias);
    return;
  }
}

torch::Tensor Network::headForward(torch::Tensor x) {
  const rt::HeadSpec &head = *head_spec_;
  auto conv1x1 = [&](const std::string &name) {
    return torch::conv2d(x, head_.t.at(name + ".weight"), head_.t.at(name + ".bias"));
  };
  switch (head.kind) {
  case rt::HeadKind::Classification:
    if (x.dim() == 4)
      x = x.mean({2, 3});
    return x.matmul(head_.t.at("fc.weight")) + head_.t.at("fc.bias");
  case rt::HeadKind::Segmentation: {
    torch::Tensor logits = conv1x1("classifier");
    if (logits.size(2) == inputHeight_ && logits.size(3) == inputWidth_)
      return logits;
    return torch::upsample_bilinear2d(logits, {inputHeight_, inputWidth_}, /*align_corners=*/false);
  }
  case rt::HeadKind::Detection:
    return torch::cat({conv1x1("heatmap"), conv1x1("size"), conv1x1("offset")}, 1);
  }
  return x;
}

torch::Tensor inferenceOutput(const rt::HeadSpec &head, const torch::Tensor &logits) {
  if (head.kind != rt::HeadKind::Detection)
    return logits;
  const int64_t K = head.classes;
  return torch::cat({torch::sigmoid(logits.narrow(1, 0, K)), logits.narrow(1, K, 4)}, 1);
}

torch::Tensor Network::batchNorm(Layer &l, const std::string &prefix, const torch::Tensor &x, double eps) {
  return torch::batch_norm(x, l.t.at(prefix + "gamma"), l.t.at(prefix + "beta"), l.t.at(prefix + "running_mean"),
                           l.t.at(prefix + "running_var"), is_training(), options_.bnMomentum, eps, false);
}

NetworkOutput Network::forward(const torch::Tensor &input, const std::string &stopAfter) {
  NetworkOutput out;
  std::map<std::string, torch::Tensor> kept; // outputs a residual reads
  torch::Tensor x = input;
  for (Layer &l : layers_) {
    const PlanLayer &d = l.desc;
    if (d.kind == "conv") {
      auto b = l.t.find("bias");
      x = torch::conv2d(x, l.t.at("weight"), b == l.t.end() ? torch::Tensor() : b->second, d.stride, d.padding);
    } else if (d.kind == "batch_norm") {
      x = batchNorm(l, "", x, d.eps);
    } else if (d.kind == "relu") {
      x = torch::relu(x);
    } else if (d.kind == "max_pool") {
      x = torch::max_pool2d(x, d.kernel, d.stride);
    } else if (d.kind == "avg_pool") {
      x = torch::avg_pool2d(x, d.kernel, d.stride);
    } else if (d.kind == "global_avg_pool") {
      x = x.mean({2, 3});
    } else if (d.kind == "flatten") {
      if (x.dim() > 2)
        x = x.reshape({x.size(0), -1});
    } else if (d.kind == "linear") {
      x = x.matmul(l.t.at("weight"));
      if (l.t.count("bias"))
        x = x + l.t.at("bias");
    } else if (d.kind == "residual") {
      x = x + kept.at(d.from);
    } else if (d.kind == "concat") {
      x = torch::cat({x, kept.at(d.from)}, 1);
    } else if (d.kind == "sigmoid") {
      x = torch::sigmoid(x);
    } else if (d.kind == "upsample") {
      const std::vector<int64_t> size = {d.out.at(1), d.out.at(2)};
      if (d.mode == "bilinear")
        x = torch::upsample_bilinear2d(x, size, /*align_corners=*/false);
      else
        x = torch::upsample_nearest2d(x, size);
    } else if (d.kind == "pce") {
      if (l.pce) {
        torchrt::PceForward f = l.pce->forward(x);
        x = f.y;
        out.routing[d.name] = f.routing;
        if (f.embedding.defined())
          out.embedding[d.name] = f.embedding;
      } else if (l.t.count("condconv.kernel")) {
        CondConvOutput c = condConv(x, l.t.at("condconv.kernel"), l.t.at("condconv.router.weight"),
                                    l.t.at("condconv.router.bias"));
        x = torch::relu(batchNorm(l, "condconv.bn.", c.y, 1e-5));
      } else if (l.t.count("coordconv.weight")) {
        torch::Tensor planes = coordinatePlanes(x.size(2), x.size(3), d.patch[0], d.patch[1], x.options());
        x = torch::cat({x, planes.expand({x.size(0), 4, x.size(2), x.size(3)})}, 1);
        x = torch::conv2d(x, l.t.at("coordconv.weight"), {}, 1, {d.kernel[0] / 2, d.kernel[1] / 2});
        x = torch::relu(batchNorm(l, "coordconv.bn.", x, 1e-5));
      } else {
        x = torch::conv2d(x, l.t.at("dense.weight"), {}, 1, 1);
        x = torch::relu(batchNorm(l, "dense.bn.", x, 1e-5));
      }
    }
    if (residualSources_.count(d.name))
      kept[d.name] = x;
    if (d.name == stopAfter)
      return out;
  }
  out.logits = head_spec_ ? headForward(x) : x;
  return out;
}

std::map<std::string, torch::Tensor> Network::tensors() const { return torchrt::namedTensors(*this); }

std::map<std::string, torch::Tensor> Network::parameterMap() const {
  std::map<std::string, torch::Tensor> out;
  for (const auto &p : named_parameters())
    out[p.key()] = p.value();
  return out;
}

std::vector<std::string> Network::pceLayerNames() const {
  std::vector<std::string> names;
  for (const Layer &l : layers_)
    if (l.desc.kind == "pce")
      names.push_back(l.desc.name);
  return names;
}

std::vector<std::string> Network::initialise(const std::map<std::string, torch::Tensor> &carried, at::Generator gen) {
  torch::NoGradGuard noGrad;
  std::vector<std::string> fresh;
  for (auto &[name, t] : tensors()) {
    auto it = carried.find(name);
    if (it != carried.end() && it->second.sizes() == t.sizes()) {
      t.copy_(it->second);
      continue;
    }
    torch::Tensor target = t;
    initialiseTensor(target, inits_.at(name), gen);
    fresh.push_back(name);
  }
  return fresh;
}

} // namespace pce::train
