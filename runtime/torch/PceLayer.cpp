//===- PceLayer.cpp - one compiled PCE layer as a torch::nn::Module -------===//

#include "runtime/torch/PceLayer.h"

#include "runtime/torch/ModuleTree.h"
#include "runtime/torch/RouterStats.h"
#include "runtime/torch/TensorConvert.h"

#include <stdexcept>

namespace pce::torchrt {

namespace {
bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
} // namespace

KeysMode parseKeysMode(const std::string &text) {
  if (text == "none") return KeysMode::None;
  if (text == "ema") return KeysMode::Ema;
  if (text == "learnable") return KeysMode::Learnable;
  if (text == "learnable_ema") return KeysMode::LearnableEma;
  throw std::runtime_error("unknown keys mode '" + text + "' (expected none, ema, learnable or learnable_ema)");
}

PceLayer::PceLayer(std::shared_ptr<const rt::Artifact> artifact, PceLayerOptions options, at::Generator gen)
    : options_(std::move(options)), gen_(std::move(gen)) {
  spec_.artifact = std::move(artifact);
  spec_.layer = options_.name;
  const rt::Manifest &m = spec_.artifact->manifest();
  const std::string &L = options_.name;
  for (const std::string &entry : {L, L + "_train", L + "_backward"})
    if (!m.findEntry(entry))
      throw std::runtime_error("artifact " + spec_.artifact->directory() + " has no entry point '" + entry +
                               "' for PCE layer '" + L + "' (compile with pce-compile --training)");
  const rt::EntryPoint &infer = *m.findEntry(L);
  const rt::BufferSpec *routing = infer.findResult(L + ".routing");
  if (!routing || routing->shape.size() != 3)
    throw std::runtime_error("entry point '" + L + "' lacks the routing result '" + L + ".routing' [B,P,E]");
  experts_ = routing->shape[2];
  batch_ = routing->shape[0];

  for (const rt::BufferSpec &a : infer.arguments) {
    if (a.kind != rt::ArgKind::Parameter)
      continue;
    if (a.dtype != rt::DType::F32)
      throw std::runtime_error("parameter '" + a.name + "' is " + a.typeString() + "; training needs f32");
    bool buffer = endsWith(a.name, ".running_mean") || endsWith(a.name, ".running_var") ||
                  (a.name == keysName() && options_.keys == KeysMode::Ema);
    torch::Tensor t = torch::zeros(a.shape, torch::kFloat32);
    tensors_[a.name] = registerTensor(*this, a.name.substr(L.size() + 1), t,
                                      buffer ? TensorRole::Buffer : TensorRole::Parameter);
    isParameter_[a.name] = !buffer;
  }
  for (const rt::BufferSpec &a : m.findEntry(L + "_train")->arguments)
    if (a.name.compare(0, 6, "noise.") == 0)
      noise_.push_back(a);
}

bool PceLayer::isParameter(const std::string &name) const {
  auto it = isParameter_.find(name);
  return it != isParameter_.end() && it->second;
}

std::string PceLayer::keysName() const {
  std::string name = options_.name + ".router.keys";
  const rt::EntryPoint *infer = spec_.artifact->manifest().findEntry(options_.name);
  return infer && infer->findArgument(name) ? name : std::string();
}

PceForward PceLayer::forward(const torch::Tensor &x) {
  if (!is_training()) {
    CompiledOutputs out = compiledInfer(spec_, x, tensors_);
    return {out.y, out.routing, out.embedding};
  }
  if (x.size(0) != batch_)
    throw std::runtime_error("layer '" + options_.name + "': a training batch must hold exactly the compiled " +
                             std::to_string(batch_) + " images, found " + std::to_string(x.size(0)));
  std::map<std::string, torch::Tensor> noise;
  for (const rt::BufferSpec &n : noise_) {
    if (endsWith(n.name, ".gumbel")) {
      // U in (0, 1): clamped so that -log(-log U) stays finite.
      torch::Tensor u = torch::rand(n.shape, gen_, torch::kFloat64).clamp(1e-300, 1.0 - 1e-16);
      noise[n.name] = (-(-u.log()).log()).to(torch::kFloat32);
    } else if (endsWith(n.name, ".normal")) {
      noise[n.name] = torch::randn(n.shape, gen_, torch::kFloat32);
    } else {
      throw std::runtime_error("layer '" + options_.name + "': unknown noise input '" + n.name +
                               "' (expected noise.<k>.normal or noise.<k>.gumbel)");
    }
  }
  CompiledOutputs out = compiledTrain(spec_, x, tensors_, noise);
  {
    torch::NoGradGuard noGrad;
    const double m = options_.bnMomentum;
    for (const auto &[name, batch] : out.batchStats) {
      auto it = tensors_.find(name);
      if (it == tensors_.end())
        throw std::runtime_error("layer '" + options_.name + "': batch statistic for unknown tensor '" + name + "'");
      it->second.mul_(1.0 - m).add_(batch, m);
    }
  }
  lastEmbedding_ = out.embedding.defined() ? out.embedding.detach() : torch::Tensor();
  lastRouting_ = out.routing.detach();
  return {out.y, out.routing, out.embedding};
}

void PceLayer::updateKeys(double alpha) {
  if (options_.keys != KeysMode::Ema && options_.keys != KeysMode::LearnableEma)
    return;
  std::string name = keysName();
  if (name.empty() || !lastEmbedding_.defined() || !lastRouting_.defined())
    return;
  emaKeyUpdate(tensors_.at(name), lastEmbedding_, lastRouting_, alpha);
}

} // namespace pce::torchrt

namespace pce::torchrt {

KMeansResult PceLayer::initialiseKeys(const torch::Tensor &embeddings, int64_t iterations, at::Generator gen) {
  std::string name = keysName();
  if (name.empty())
    throw std::runtime_error("layer '" + options_.name + "': its router has no keys to initialise");
  torch::Tensor points = embeddings.reshape({-1, embeddings.size(-1)});
  KMeansResult km = kmeans(points, experts_, iterations, std::move(gen));
  torch::NoGradGuard noGrad;
  tensors_.at(name).copy_(km.centroids);
  return km;
}

} // namespace pce::torchrt
