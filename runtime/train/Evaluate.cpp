//===- Evaluate.cpp - loss, top-1/top-5 and routing statistics ------------===//

#include "runtime/train/Evaluate.h"

#include "runtime/train/DenseTask.h"

#include <cstdio>

namespace pce::train {

int64_t topKCorrect(const torch::Tensor &logits, const torch::Tensor &labels, int64_t k) {
  // Rank of the label = number of classes that beat it (larger, or equal
  // with a lower index); NaN ranks last as in pce-run.
  torch::Tensor l = logits.to(torch::kFloat64).nan_to_num(-INFINITY, INFINITY, -INFINITY);
  torch::Tensor mine = l.gather(1, labels.view({-1, 1}));
  torch::Tensor idx = torch::arange(l.size(1), labels.options()).view({1, -1});
  torch::Tensor beats = (l > mine) | ((l == mine) & (idx < labels.view({-1, 1})));
  return (beats.sum(1) < k).sum().item<int64_t>();
}

void forEachChunk(Network &net, const Dataset &data, int64_t batch, int64_t chunks,
                  std::map<std::string, torchrt::RoutingStats> &routing,
                  const std::function<void(int64_t, int64_t, const torch::Tensor &)> &visit,
                  const std::function<void(const std::string &, const torch::Tensor &)> &visitRouting) {
  torch::NoGradGuard noGrad;
  const bool wasTraining = net.is_training();
  net.eval();
  const int64_t N = data.size(), step = batch * std::max<int64_t>(chunks, 1);
  for (int64_t start = 0; start < N; start += step) {
    const int64_t n = std::min(step, N - start);
    const int64_t padded = (n + batch - 1) / batch * batch;
    torch::Tensor x = data.imagesIn(start, start + n);
    if (padded > n)
      x = torch::cat({x, torch::zeros({padded - n, x.size(1), x.size(2), x.size(3)}, x.options())});
    NetworkOutput out = net.forward(x.contiguous());
    visit(start, n, out.logits.slice(0, 0, n));
    for (const auto &[name, w] : out.routing) {
      auto it = routing.try_emplace(name, torchrt::RoutingStats(w.size(-1))).first;
      it->second.add(w.slice(0, 0, n));
      if (visitRouting)
        visitRouting(name, w.slice(0, 0, n));
    }
  }
  net.train(wasTraining);
}

EvalResult evaluate(Network &net, const Dataset &data, int64_t batch, int64_t chunks) {
  EvalResult r;
  const int64_t N = data.size();
  double lossSum = 0;
  int64_t c1 = 0, c5 = 0;
  forEachChunk(net, data, batch, chunks, r.routing, [&](int64_t start, int64_t n, const torch::Tensor &logits) {
    torch::Tensor labels = data.labels.slice(0, start, start + n);
    lossSum += torch::nll_loss(torch::log_softmax(logits, 1), labels, {}, at::Reduction::Sum).item<double>();
    c1 += topKCorrect(logits, labels, 1);
    c5 += topKCorrect(logits, labels, 5);
  });
  r.images = N;
  if (N > 0) {
    r.loss = lossSum / static_cast<double>(N);
    r.top1 = static_cast<double>(c1) / static_cast<double>(N);
    r.top5 = static_cast<double>(c5) / static_cast<double>(N);
  }
  return r;
}

EvalResult evaluateSplit(Network &net, const Dataset &data, const rt::HeadSpec &head, int64_t batch, int64_t chunks) {
  if (head.kind == rt::HeadKind::Classification)
    return evaluate(net, data, batch, chunks);
  return evaluateDense(net, data, head, batch, chunks);
}

std::string metricLine(const std::string &prefix, const EvalResult &r) {
  if (r.dense)
    return prefix + " " + r.dense->summary();
  char buf[96];
  std::snprintf(buf, sizeof buf, " top-1 %.2f%%  top-5 %.2f%%", 100 * r.top1, 100 * r.top5);
  return prefix + buf;
}

void setMetrics(rt::JsonValue &o, const std::string &prefix, const EvalResult &r,
                const std::vector<std::string> &classNames) {
  if (!r.dense) {
    o.set(prefix + "_top1", rt::JsonValue::number(r.top1));
    o.set(prefix + "_top5", rt::JsonValue::number(r.top5));
    return;
  }
  const rt::DenseScores &d = *r.dense;
  if (d.kind == rt::HeadKind::Detection) {
    o.set(prefix + "_map11", rt::JsonValue::number(d.detection.map11));
    o.set(prefix + "_map_all", rt::JsonValue::number(d.detection.mapAll));
  } else {
    o.set(prefix + "_miou", rt::JsonValue::number(d.segmentation.meanIoU));
    o.set(prefix + "_pixel_accuracy", rt::JsonValue::number(d.segmentation.pixelAccuracy));
  }
  o.set(prefix + "_scores", d.json(classNames));
}

rt::JsonValue routingJson(const std::map<std::string, torchrt::RoutingStats> &routing) {
  rt::JsonValue layers = rt::JsonValue::object();
  for (const auto &[name, s] : routing) {
    rt::JsonValue l = rt::JsonValue::object();
    l.set("entropy", rt::JsonValue::number(s.entropy()));
    l.set("entropy_normalized", rt::JsonValue::number(s.normalizedEntropy()));
    rt::JsonValue usage = rt::JsonValue::array();
    for (double u : s.usage())
      usage.push(rt::JsonValue::number(u));
    l.set("usage", std::move(usage));
    if (auto mi = s.positionInformation())
      l.set("mi_position", rt::natsJson(*mi));
    layers.set(name, std::move(l));
  }
  return layers;
}

std::string routingLine(const std::map<std::string, torchrt::RoutingStats> &routing) {
  std::string line;
  for (const auto &[name, s] : routing) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "  H(%s) %.3f", name.c_str(), s.normalizedEntropy());
    line += buf;
    if (auto mi = s.positionInformation()) {
      std::snprintf(buf, sizeof buf, "  I(%s;pos) %.3f", name.c_str(), mi->nats);
      line += buf;
    }
  }
  return line;
}

} // namespace pce::train
