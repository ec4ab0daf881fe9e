//===- CompiledLayer.cpp - a compiled PCE layer as a torch autograd function =//

#include "runtime/torch/CompiledLayer.h"

#include "runtime/torch/TensorConvert.h"

#include <torch/autograd.h>

#include <stdexcept>

namespace pce::torchrt {

namespace {

bool startsWith(const std::string &s, const std::string &prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

const rt::EntryPoint &entryOf(const CompiledLayerSpec &spec, const std::string &name) {
  const rt::EntryPoint *ep = spec.artifact->manifest().findEntry(name);
  if (!ep)
    throw std::runtime_error("artifact " + spec.artifact->directory() + " has no entry point '" +
                             name + "' (compile with pce-compile --training)");
  return *ep;
}

// Moves the arguments `ep` takes out of `pool` (a name missing there is an
// error unless `zeroGrads` allows zeros for grad.* inputs).
rt::TensorMap takeArguments(const rt::EntryPoint &ep, rt::TensorMap &pool, bool zeroGrads) {
  rt::TensorMap args;
  for (const rt::BufferSpec &a : ep.arguments) {
    auto it = pool.find(a.name);
    if (it != pool.end()) {
      args.emplace(a.name, std::move(it->second));
      pool.erase(it);
    } else if (zeroGrads && startsWith(a.name, "grad.")) {
      auto zeros = rt::HostTensor::create(a.dtype, a.shape);
      if (!zeros)
        throw std::runtime_error(zeros.error());
      args.emplace(a.name, std::move(*zeros));
    } else {
      throw std::runtime_error("entry point '" + ep.name + "' needs argument '" + a.name + "' " +
                               a.typeString() + ", which the LibTorch adapter does not have");
    }
  }
  return args;
}

rt::TensorMap run(const CompiledLayerSpec &spec, const std::string &entry, const rt::TensorMap &args) {
  auto out = spec.artifact->run(entry, args);
  if (!out)
    throw std::runtime_error(out.error());
  return std::move(*out);
}

// Sorts results into CompiledOutputs, on `device` (the input's); saved.* go
// to `saved` when given (they stay host tensors for the backward).
CompiledOutputs collect(const CompiledLayerSpec &spec, rt::TensorMap &results, rt::TensorMap *saved,
                        const torch::Device &device) {
  CompiledOutputs out;
  const std::string routing = spec.layer + ".routing", embedding = spec.layer + ".embedding";
  for (auto &[name, t] : results) {
    if (name == "y")
      out.y = toTorch(std::move(t), device);
    else if (name == routing)
      out.routing = toTorch(std::move(t), device);
    else if (name == embedding)
      out.embedding = toTorch(std::move(t), device);
    else if (startsWith(name, "batch."))
      out.batchStats[name.substr(6)] = toTorch(std::move(t), device);
    else if (startsWith(name, "saved.") && saved)
      saved->emplace(name, std::move(t));
  }
  if (!out.y.defined() || !out.routing.defined())
    throw std::runtime_error("layer '" + spec.layer + "': the artifact's entry points do not return 'y' and '" +
                             routing + "'");
  return out;
}

// What the forward hands the backward: everything <L>_backward reads that
// the forward had (x, parameters, saved.*), and which inputs want gradients.
struct SavedCall : torch::CustomClassHolder {
  CompiledLayerSpec spec;
  std::vector<std::string> names; // names[i] is forward input i+1 (0 is x)
  std::vector<bool> needsGrad;    // per forward input, x first
  std::vector<torch::Device> devices; // per forward input: where its gradient goes
  rt::TensorMap pool;
};

// Side channel of one call: inputs that are not autograd inputs, and the
// results that leave outside the graph.
struct CallInfo {
  const CompiledLayerSpec *spec = nullptr;
  const std::vector<std::string> *names = nullptr;
  const std::map<std::string, torch::Tensor> *noise = nullptr;
  CompiledOutputs extra; // embedding, batchStats
};

class CompiledLayerFunction : public torch::autograd::Function<CompiledLayerFunction> {
public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext *ctx,
                                                torch::Tensor x, torch::TensorList tensors,
                                                CallInfo *info) {
    const CompiledLayerSpec &spec = *info->spec;
    auto saved = c10::make_intrusive<SavedCall>();
    saved->spec = spec;
    saved->names = *info->names;
    saved->needsGrad.push_back(x.requires_grad());
    saved->devices.push_back(x.device());
    rt::TensorMap &pool = saved->pool;
    pool.emplace("x", toHost(x, spec.layer + " input x"));
    for (size_t i = 0; i < tensors.size(); ++i) {
      saved->needsGrad.push_back(tensors[i].requires_grad());
      saved->devices.push_back(tensors[i].device());
      pool.emplace(saved->names[i], toHost(tensors[i], saved->names[i]));
    }
    for (const auto &[name, t] : *info->noise)
      pool.emplace(name, toHost(t, name));

    const rt::EntryPoint &ep = entryOf(spec, spec.layer + "_train");
    rt::TensorMap args = takeArguments(ep, pool, false);
    rt::TensorMap results = run(spec, ep.name, args);
    for (auto &[name, t] : args) // back into the pool for the backward
      pool.emplace(name, std::move(t));
    rt::TensorMap savedActs;
    CompiledOutputs out = collect(spec, results, &savedActs, x.device());
    for (auto &[name, t] : savedActs)
      pool.emplace(name, std::move(t));

    info->extra.embedding = out.embedding;
    info->extra.batchStats = std::move(out.batchStats);
    ctx->saved_data["call"] = c10::IValue::make_capsule(std::move(saved));
    return {out.y, out.routing};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                 torch::autograd::variable_list grads) {
    auto holder = ctx->saved_data["call"].toCapsule();
    auto *saved = static_cast<SavedCall *>(holder.get());
    const CompiledLayerSpec &spec = saved->spec;
    if (saved->pool.empty())
      throw std::runtime_error("layer '" + spec.layer + "': backward ran twice (retain_graph is not supported)");
    rt::TensorMap &pool = saved->pool;
    pool.emplace("grad.y", toHost(grads[0], "grad.y"));
    if (grads[1].defined()) // materialised as zeros by autograd when unused
      pool.emplace("grad." + spec.layer + ".routing", toHost(grads[1], "grad.routing"));

    const rt::EntryPoint &ep = entryOf(spec, spec.layer + "_backward");
    rt::TensorMap args = takeArguments(ep, pool, true);
    pool.clear(); // frees saved.* now
    rt::TensorMap results = run(spec, ep.name, args);

    // One gradient per forward input: x, each tensor, then the CallInfo*.
    torch::autograd::variable_list out(saved->names.size() + 2);
    auto take = [&](const std::string &name, size_t slot) {
      auto it = results.find("grad." + name);
      if (it != results.end() && saved->needsGrad[slot])
        out[slot] = toTorch(std::move(it->second), saved->devices[slot]);
    };
    take("x", 0);
    for (size_t i = 0; i < saved->names.size(); ++i)
      take(saved->names[i], i + 1);
    return out;
  }
};

std::vector<std::string> namesOf(const std::map<std::string, torch::Tensor> &tensors) {
  std::vector<std::string> names;
  for (const auto &entry : tensors)
    names.push_back(entry.first);
  return names;
}

} // namespace

CompiledOutputs compiledTrain(const CompiledLayerSpec &spec, const torch::Tensor &x,
                              const std::map<std::string, torch::Tensor> &tensors,
                              const std::map<std::string, torch::Tensor> &noise) {
  std::vector<std::string> names = namesOf(tensors);
  std::vector<torch::Tensor> list;
  for (const auto &entry : tensors)
    list.push_back(entry.second);
  CallInfo info;
  info.spec = &spec;
  info.names = &names;
  info.noise = &noise;
  // TensorList (not std::vector) so autograd sees each tensor as an input.
  torch::autograd::variable_list yr =
      CompiledLayerFunction::apply(x, torch::TensorList(list), &info);
  CompiledOutputs out = std::move(info.extra);
  out.y = yr[0];
  out.routing = yr[1];
  return out;
}

CompiledOutputs compiledInfer(const CompiledLayerSpec &spec, const torch::Tensor &x,
                              const std::map<std::string, torch::Tensor> &tensors) {
  torch::NoGradGuard noGrad;
  rt::TensorMap pool;
  pool.emplace("x", toHost(x, spec.layer + " input x"));
  for (const auto &[name, t] : tensors)
    pool.emplace(name, toHost(t, name));
  const rt::EntryPoint &ep = entryOf(spec, spec.layer);
  rt::TensorMap args = takeArguments(ep, pool, false);
  rt::TensorMap results = run(spec, ep.name, args);
  return collect(spec, results, nullptr, x.device());
}

} // namespace pce::torchrt
