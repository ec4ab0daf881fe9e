//===- Evaluate.h - loss, top-1/top-5 and routing statistics on a data set ===//
//
// Eval mode, no gradients, in chunks of k compiled batches (the runtime runs
// the chunks of a PCE layer's entry point on its threads); the last chunk is
// padded with zero images to a whole compiled batch and the padding ignored.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_TRAIN_EVALUATE_H
#define PCE_RUNTIME_TRAIN_EVALUATE_H

#include "runtime/Json.h"
#include "runtime/dense/DenseEvaluation.h"
#include "runtime/torch/RouterStats.h"
#include "runtime/train/Data.h"
#include "runtime/train/Network.h"

#include <functional>
#include <map>
#include <optional>
#include <vector>
#include <string>

namespace pce::train {

struct EvalResult {
  int64_t images = 0;
  double loss = 0; // mean cross-entropy (a dense head: its training loss, mean per image)
  double top1 = 0, top5 = 0; // classification
  std::optional<rt::DenseScores> dense; // segmentation / detection

  std::map<std::string, torchrt::RoutingStats> routing; // per PCE layer
};

// Top-k of logits [N,C] against labels [N]: count of rows whose label is
// among the k largest logits (ties: lower class first, as pce-run).
int64_t topKCorrect(const torch::Tensor &logits, const torch::Tensor &labels, int64_t k);

// The evaluation loop both heads share: `net` in eval mode without
// gradients over `data` in chunks of `chunks` compiled batches (the last
// padded with zero images); visit(start, n, logits) sees the n real images'
// logits, and every PCE layer's routing of them goes into `routing`.
// visitRouting, if given, sees each PCE layer's routing of the n images
// ([n, P, E]).
void forEachChunk(Network &net, const Dataset &data, int64_t batch, int64_t chunks,
                  std::map<std::string, torchrt::RoutingStats> &routing,
                  const std::function<void(int64_t start, int64_t n, const torch::Tensor &logits)> &visit,
                  const std::function<void(const std::string &layer, const torch::Tensor &w)> &visitRouting = {});

EvalResult evaluate(Network &net, const Dataset &data, int64_t batch, int64_t chunks);
// The head's evaluation: evaluate() for a classifier, else evaluateDense()
// (DenseTask.h).
EvalResult evaluateSplit(Network &net, const Dataset &data, const rt::HeadSpec &head, int64_t batch, int64_t chunks);
// "val top-1 91.20%  top-5 99.80%" or "val mIoU 61.20%  pixel acc ..." (prefix "val").
std::string metricLine(const std::string &prefix, const EvalResult &r);
// The metric's JSON members with `prefix` ("val_top1", "test_miou", ...).
void setMetrics(rt::JsonValue &object, const std::string &prefix, const EvalResult &r,
                const std::vector<std::string> &classNames);

// {"entropy": nats, "entropy_normalized": .., "usage": [..],
//  "mi_position": {"nats", "normalized"}} per layer.
rt::JsonValue routingJson(const std::map<std::string, torchrt::RoutingStats> &routing);
// "  H(block) 0.255  I(block;pos) 1.386": per layer the normalised entropy
// and I(expert; position) in nats.
std::string routingLine(const std::map<std::string, torchrt::RoutingStats> &routing);

} // namespace pce::train

#endif // PCE_RUNTIME_TRAIN_EVALUATE_H
