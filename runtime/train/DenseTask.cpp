//===- DenseTask.cpp - segmentation and detection in pce-train ------------===//

#include "runtime/train/DenseTask.h"

#include "runtime/dense/CenterNet.h"

#include <algorithm>
#include <stdexcept>

namespace pce::train {

namespace {

// `x` [B,C,H,W] (or masks [B,H,W] as C = 1) shifted per image by
// (dy, dx) = offsets - pad: out(y, x) = x(y + dy, x + dx), `fill` outside.
torch::Tensor shifted(const torch::Tensor &x, const torch::Tensor &offsets, int64_t pad, const torch::Tensor &fill) {
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  torch::Tensor padded = fill.to(x.dtype()).view({1, -1, 1, 1}).expand({B, C, H + 2 * pad, W + 2 * pad}).contiguous();
  padded.narrow(2, pad, H).narrow(3, pad, W).copy_(x);
  auto off = offsets.accessor<int64_t, 2>();
  torch::Tensor out = torch::empty_like(x);
  for (int64_t b = 0; b < B; ++b)
    out[b].copy_(padded[b].narrow(1, off[b][0], H).narrow(2, off[b][1], W));
  return out;
}

void moveBoxes(std::vector<rt::Box> &boxes, float dy, float dx, bool mirror, int64_t H, int64_t W) {
  std::vector<rt::Box> kept;
  for (rt::Box b : boxes) {
    b.xmin = std::clamp(b.xmin - dx, 0.0f, float(W));
    b.xmax = std::clamp(b.xmax - dx, 0.0f, float(W));
    b.ymin = std::clamp(b.ymin - dy, 0.0f, float(H));
    b.ymax = std::clamp(b.ymax - dy, 0.0f, float(H));
    if (b.xmax <= b.xmin || b.ymax <= b.ymin)
      continue;
    if (mirror) {
      const float xmin = float(W) - b.xmax;
      b.xmax = float(W) - b.xmin;
      b.xmin = xmin;
    }
    kept.push_back(b);
  }
  boxes = std::move(kept);
}

std::vector<rt::TargetBox> targetsOf(const std::vector<rt::Box> &boxes) {
  std::vector<rt::TargetBox> out;
  for (const rt::Box &b : boxes)
    out.push_back({rt::DetectionBox{b.xmin, b.ymin, b.xmax, b.ymax, b.label}, b.difficult});
  return out;
}

} // namespace

void checkLabels(const DataSplit &data, const rt::HeadSpec &head) {
  const int64_t K = head.classes;
  const std::string classes = "the head's " + std::to_string(K) + " classes";
  for (auto [name, d] : {std::pair{"training", &data.train}, std::pair{"validation", &data.validation},
                         std::pair{"test", &data.test}}) {
    if (!d->size())
      continue;
    if (head.kind == rt::HeadKind::Classification) {
      if (d->labels.min().item<int64_t>() < 0)
        throw std::runtime_error(std::string("the ") + name + " split has no class labels for a classification head");
      if (d->labels.max().item<int64_t>() >= K)
        throw std::runtime_error(std::string("a ") + name + " label exceeds " + classes);
    } else if (head.kind == rt::HeadKind::Segmentation) {
      torch::Tensor bad = (d->masks >= K) & (d->masks != int64_t(rt::kVoidLabel));
      if (bad.any().item<bool>()) {
        const int64_t example = bad.flatten(1).any(1).nonzero()[0].item<int64_t>();
        throw std::runtime_error(std::string("the mask of ") + name + " example " + std::to_string(example) +
                                 " holds a class outside " + classes + " and void (255)");
      }
    } else {
      for (size_t e = 0; e < d->dense->boxes.size(); ++e)
        for (const rt::Box &b : d->dense->imageBoxes[e])
          if (b.label < 0 || b.label >= K)
            throw std::runtime_error(std::string("a box of ") + name + " example " + std::to_string(e) +
                                     " has class " + std::to_string(b.label) + ", outside " + classes);
    }
  }
}

DenseBatch denseBatch(const Dataset &data, const torch::Tensor &images, const torch::Tensor &indices) {
  DenseBatch batch;
  batch.images = images;
  if (data.masks.defined())
    batch.masks = data.masks.index_select(0, indices).to(torch::kLong);
  if (data.dense && !data.dense->boxes.empty()) {
    torch::Tensor idx = indices.to(torch::kLong).contiguous();
    for (int64_t k = 0; k < idx.numel(); ++k)
      batch.boxes.push_back(data.dense->boxes.at(size_t(idx.data_ptr<int64_t>()[k])));
  }
  return batch;
}

void augmentDense(DenseBatch &batch, int64_t pad, bool hflip, at::Generator gen, const std::vector<float> &black) {
  torch::NoGradGuard noGrad;
  torch::Tensor &x = batch.images;
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3);
  torch::Tensor offsets = torch::full({B, 2}, pad, torch::kLong);
  if (pad > 0) {
    offsets = torch::randint(2 * pad + 1, {B, 2}, gen, torch::kLong);
    x = shifted(x, offsets, pad, torch::tensor(black));
    if (batch.masks.defined())
      batch.masks = shifted(batch.masks.unsqueeze(1), offsets, pad, torch::tensor({int64_t(rt::kVoidLabel)})).squeeze(1);
  }
  torch::Tensor flip = torch::zeros({B}, torch::kBool);
  if (hflip) {
    flip = torch::rand({B}, gen, torch::kFloat64) < 0.5;
    x = torch::where(flip.view({B, 1, 1, 1}), x.flip({3}), x);
    if (batch.masks.defined())
      batch.masks = torch::where(flip.view({B, 1, 1}), batch.masks.flip({2}), batch.masks);
  }
  x = x.contiguous();
  auto off = offsets.accessor<int64_t, 2>();
  auto mirror = flip.accessor<bool, 1>();
  for (int64_t b = 0; b < int64_t(batch.boxes.size()); ++b)
    moveBoxes(batch.boxes[size_t(b)], float(off[b][0] - pad), float(off[b][1] - pad), mirror[b], H, W);
}

DenseLoss denseLoss(const rt::HeadSpec &head, const torch::Tensor &logits, const DenseBatch &batch) {
  DenseLoss out;
  if (head.kind == rt::HeadKind::Segmentation) {
    torch::Tensor weight;
    if (!head.classWeights.empty())
      weight = torch::tensor(head.classWeights, logits.options().dtype(torch::kFloat64)).to(logits.dtype());
    out.total = torch::nll_loss2d(torch::log_softmax(logits, 1), batch.masks, weight, at::Reduction::Mean,
                                rt::kVoidLabel);
    // A batch of void only: nll_loss's mean is 0/0.
    if (!torch::isfinite(out.total).item<bool>())
      out.total = logits.sum() * 0;
    return out;
  }
  if (head.kind != rt::HeadKind::Detection)
    throw std::runtime_error("internal error: denseLoss of a classification head");
  const int64_t B = logits.size(0), K = head.classes, h = logits.size(2), w = logits.size(3);
  torch::Tensor heat = torch::empty({B, K, h, w}), size = torch::empty({B, 2, h, w}),
                offset = torch::empty({B, 2, h, w}), mask = torch::empty({B, 1, h, w});
  for (int64_t b = 0; b < B; ++b) {
    rt::CenterNetTargets t = rt::centerNetTargets(targetsOf(batch.boxes.at(size_t(b))), K, h, w, head.stride);
    std::copy(t.heatmap.begin(), t.heatmap.end(), heat[b].data_ptr<float>());
    std::copy(t.size.begin(), t.size.end(), size[b].data_ptr<float>());
    std::copy(t.offset.begin(), t.offset.end(), offset[b].data_ptr<float>());
    std::copy(t.mask.begin(), t.mask.end(), mask[b].data_ptr<float>());
  }
  torch::Tensor x = logits.narrow(1, 0, K);
  torch::Tensor p = torch::sigmoid(x);
  torch::Tensor positive = heat.eq(1).to(x.dtype());
  // log p and log(1 - p) as log-sigmoids: finite for any logit.
  torch::Tensor posLoss = (torch::log_sigmoid(x) * (1 - p).pow(2) * positive).sum();
  torch::Tensor negLoss = (torch::log_sigmoid(-x) * p.pow(2) * (1 - heat).pow(4) * (1 - positive)).sum();
  const double objects = mask.sum().item<double>();
  torch::Tensor focal = -(posLoss + negLoss) / std::max(objects, 1.0);
  const double l1Norm = 2 * objects + 1e-4;
  torch::Tensor sizeLoss = ((logits.narrow(1, K, 2) - size).abs() * mask).sum() / l1Norm;
  torch::Tensor offsetLoss = ((logits.narrow(1, K + 2, 2) - offset).abs() * mask).sum() / l1Norm;
  out.total = focal + rt::kSizeLossWeight * sizeLoss + rt::kOffsetLossWeight * offsetLoss;
  out.heatmap = focal.item<double>();
  out.size = sizeLoss.item<double>();
  out.offset = offsetLoss.item<double>();
  return out;
}

EvalResult evaluateDense(Network &net, const Dataset &data, const rt::HeadSpec &head, int64_t batch,
                         int64_t chunks) {
  EvalResult r;
  const std::vector<int64_t> item = data.itemShape();
  rt::DenseEvaluator evaluator(head, item.at(1), item.at(2));
  double lossSum = 0;
  forEachChunk(net, data, batch, chunks, r.routing, [&](int64_t start, int64_t n, const torch::Tensor &logits) {
    DenseBatch labels = denseBatch(data, torch::Tensor(), torch::arange(start, start + n, torch::kLong));
    lossSum += denseLoss(head, logits, labels).total.item<double>() * double(n);
    torch::Tensor result = inferenceOutput(head, logits).contiguous();
    const int64_t perImage = result[0].numel();
    const float *values = result.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i) {
      rt::Status s;
      if (head.kind == rt::HeadKind::Segmentation) {
        torch::Tensor mask = data.masks[start + i].contiguous();
        s = evaluator.addSegmentation(values + i * perImage, mask.data_ptr<uint8_t>());
      } else {
#if PCE_HAVE_DATASETS
        const size_t e = size_t(start + i);
        auto found =
            evaluator.addDetection(values + i * perImage, rt::truthOf(*data.dense, e), rt::toImageOf(*data.dense, e));
        if (!found)
          s = rt::Status::error(found.error());
#else
        s = rt::Status::error("detection data needs the image data-set readers (PCE_HAVE_DATASETS)");
#endif
      }
      if (!s)
        throw std::runtime_error(s.message());
    }
  });
  auto scores = evaluator.finish();
  if (!scores)
    throw std::runtime_error(scores.error());
  r.dense = std::move(*scores);
  r.images = data.size();
  r.loss = r.images ? lossSum / double(r.images) : 0;
  return r;
}

} // namespace pce::train
