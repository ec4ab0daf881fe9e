//===- RoutingReport.cpp - Routing statistics of a PCE layer --------------===//

#include "runtime/RoutingReport.h"

#include "runtime/Failure.h"
#include "runtime/FileIO.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace pce::rt {

namespace {

using detail::fail;

// A patch's weights may sum to a little more than 1 in float32.
constexpr double kRowSumSlack = 1e-3;

std::string fmt(const char *format, double v) { return detail::formatNumber(format, v); }

std::string numberText(double v) { return fmt("%.9g", v); }

// Weight i of a validated f32 / f64 tensor.
struct WeightView {
  const float *f = nullptr;
  const double *d = nullptr;
  double operator[](int64_t i) const { return f ? double(f[i]) : d[i]; }
};

struct LabelView {
  const int64_t *l64 = nullptr;
  const int32_t *l32 = nullptr;
  const uint8_t *u8 = nullptr;
  int64_t operator[](int64_t i) const { return l64 ? l64[i] : l32 ? int64_t(l32[i]) : int64_t(u8[i]); }
};


JsonValue numbersJson(const std::vector<double> &values, size_t begin, size_t end) {
  JsonValue a = JsonValue::array();
  for (size_t i = begin; i < end; ++i)
    a.push(JsonValue::number(values[i]));
  return a;
}

JsonValue pairJson(const std::optional<std::pair<int64_t, int64_t>> &p) {
  if (!p)
    return JsonValue();
  JsonValue a = JsonValue::array();
  a.push(JsonValue::integer(p->first));
  a.push(JsonValue::integer(p->second));
  return a;
}

} // namespace

// I(a; b) of a joint histogram counts[a*nb + b] with n samples, normalised by
// min(log na, log nb).
NatsStat mutualInformation(const std::vector<int64_t> &counts, int64_t na, int64_t nb) {
  std::vector<int64_t> ca(na, 0), cb(nb, 0);
  int64_t n = 0;
  for (int64_t i = 0; i < na; ++i)
    for (int64_t j = 0; j < nb; ++j) {
      int64_t c = counts[i * nb + j];
      ca[i] += c;
      cb[j] += c;
      n += c;
    }
  NatsStat mi;
  if (n == 0)
    return mi;
  const double dn = double(n);
  for (int64_t i = 0; i < na; ++i)
    for (int64_t j = 0; j < nb; ++j) {
      int64_t c = counts[i * nb + j];
      if (c > 0)
        mi.nats += double(c) / dn * std::log(double(c) * dn / (double(ca[i]) * double(cb[j])));
    }
  mi.nats = std::max(mi.nats, 0.0); // rounding can leave -1e-17 for independent variables
  const double bound = std::min(std::log(double(na)), std::log(double(nb)));
  mi.normalized = bound > 0 ? mi.nats / bound : 0.0;
  return mi;
}

JsonValue natsJson(const NatsStat &s) {
  JsonValue o = JsonValue::object();
  o.set("nats", JsonValue::number(s.nats));
  o.set("normalized", JsonValue::number(s.normalized));
  return o;
}

//===----------------------------------------------------------------------===//
// Accumulation
//===----------------------------------------------------------------------===//

RoutingAccumulator::RoutingAccumulator(std::string name, int64_t numClasses)
    : name_(std::move(name)), fixedClasses_(std::max<int64_t>(numClasses, 0)) {}

Status RoutingAccumulator::add(const HostTensor &weights, const HostTensor *labels, int64_t items) {
  return detail::guardStatus([&] {
    const std::string &who = name_;
    if (!weights.consistent())
      fail(who + ": routing tensor " + weights.typeString() + " does not hold numel x itemsize bytes");
    if ((weights.dtype != DType::F32 && weights.dtype != DType::F64) || weights.shape.size() != 3 ||
        weights.shape[1] < 1 || weights.shape[2] < 1)
      fail(who + ": routing weights must be f32 or f64 [images, patches, experts] with at least one "
                 "patch and one expert, found " +
           weights.typeString());
    const int64_t B = weights.shape[0], P = weights.shape[1], E = weights.shape[2];
    if (items < 0)
      items = B;
    if (items > B)
      fail(who + ": asked for the first " + std::to_string(items) + " images of routing weights " +
           weights.typeString());
    if (P_ != 0 && (P != P_ || E != E_))
      fail(who + ": routing weights " + weights.typeString() + " do not match the earlier batches' " +
           std::to_string(P_) + " patches and " + std::to_string(E_) + " experts");
    if (labelled_ && *labelled_ != (labels != nullptr))
      fail(who + (labels ? ": labels given for this batch but not for the earlier ones"
                         : ": no labels given for this batch but for the earlier ones"));

    LabelView lv;
    const bool perPatch = labels && labels->shape.size() == 2;
    if (labels) {
      if (!labels->consistent() || (labels->shape.size() != 1 && !(perPatch && labels->shape[1] == P)) ||
          !(labels->i64() || labels->i32() || labels->u8()))
        fail(who + ": labels must be integer (i64, i32 or u8) [images] or [images, " + std::to_string(P) +
             " patches], found " + labels->typeString());
      if (labels->shape[0] != B && labels->shape[0] != items)
        fail(who + ": " + std::to_string(labels->shape[0]) + " labels for routing weights " +
             weights.typeString() + (items != B ? " (first " + std::to_string(items) + " images)" : ""));
      lv = LabelView{labels->i64(), labels->i32(), labels->u8()};
    }

    WeightView w{weights.f32(), weights.f64()};
    // Validate everything first, so that an error adds nothing.
    int64_t maxLabel = -1;
    // The class of patch p of image b; -1: none (per-patch labels only).
    auto labelOf = [&](int64_t b, int64_t p) { return perPatch ? lv[b * P + p] : lv[b]; };
    for (int64_t b = 0; b < items; ++b) {
      for (int64_t p = 0; labels && p < (perPatch ? P : 1); ++p) {
        int64_t l = labelOf(b, p);
        if ((l < 0 && !(perPatch && l == -1)) || (fixedClasses_ > 0 && l >= fixedClasses_))
          fail(who + ": label " + std::to_string(l) + " of image " + std::to_string(b) +
               (perPatch ? ", patch " + std::to_string(p) : std::string()) + " is not one of " +
               (fixedClasses_ > 0 ? "the " + std::to_string(fixedClasses_) + " classes"
                                  : std::string("the classes (labels are >= 0)")));
        maxLabel = std::max(maxLabel, l);
      }
      for (int64_t p = 0; p < P; ++p) {
        const int64_t row = (b * P + p) * E;
        double sum = 0;
        for (int64_t e = 0; e < E; ++e) {
          double v = w[row + e];
          if (!std::isfinite(v) || v < 0)
            fail(who + ": image " + std::to_string(b) + ", patch " + std::to_string(p) + ", expert " +
                 std::to_string(e) + ": weight " + numberText(v) +
                 " is not a routing weight (a finite number >= 0)");
          sum += v;
        }
        if (sum > 1 + kRowSumSlack)
          fail(who + ": image " + std::to_string(b) + ", patch " + std::to_string(p) + ": the " +
               std::to_string(E) + " weights sum to " + numberText(sum) +
               ", more than 1 (routing weights are a distribution, possibly cut by top-k)");
      }
    }

    // Accumulate.
    if (P_ == 0) {
      P_ = P;
      E_ = E;
      weightSum_.assign(E, 0.0);
      positionCount_.assign(P * E, 0);
      expertEntropySum_.assign(E, 0.0);
      entropyCount_.assign(kEntropyBins, 0);
    }
    labelled_ = labels != nullptr;
    if (labels) {
      int64_t classes = fixedClasses_ > 0 ? fixedClasses_ : std::max<int64_t>(maxLabel + 1, 1);
      if (int64_t(classCount_.size()) < classes * E)
        classCount_.resize(classes * E, 0);
    }
    for (int64_t b = 0; b < items; ++b) {
      for (int64_t p = 0; p < P; ++p) {
        const int64_t row = (b * P + p) * E;
        int64_t best = 0;
        double bestValue = w[row], h = 0;
        for (int64_t e = 0; e < E; ++e) {
          double v = w[row + e];
          if (v > 0)
            h -= v * std::log(v); // 0 log 0 = 0
          weightSum_[e] += v;
          if (v > bestValue) { // strict: ties go to the lower expert
            best = e;
            bestValue = v;
          }
        }
        entropySum_ += h;
        expertEntropySum_[best] += h;
        const double level = E > 1 ? h / std::log(double(E)) : 0.0;
        ++entropyCount_[std::clamp<int64_t>(int64_t(level * double(kEntropyBins)), 0, kEntropyBins - 1)];
        ++positionCount_[p * E + best];
        if (labels && labelOf(b, p) >= 0)
          ++classCount_[labelOf(b, p) * E + best];
      }
    }
    items_ += items;
  });
}

Expected<RoutingLayerReport> RoutingAccumulator::finish() const {
  return detail::guard<RoutingLayerReport>([&] {
    if (items_ == 0)
      fail(name_ + ": no images to report on");
    const int64_t P = P_, E = E_;
    const double patches = double(items_) * double(P);
    RoutingLayerReport r;
    r.name = name_;
    r.items = items_;
    r.patches = P;
    r.experts = E;
    r.grid = inferPatchGrid(P);

    r.entropy.nats = entropySum_ / patches;
    r.entropy.normalized = E > 1 ? r.entropy.nats / std::log(double(E)) : 0.0;

    std::vector<int64_t> expertCount(E, 0);
    for (int64_t p = 0; p < P; ++p)
      for (int64_t e = 0; e < E; ++e)
        expertCount[e] += positionCount_[p * E + e];
    r.usage.resize(E);
    r.meanWeight.resize(E);
    r.expertEntropy.assign(E, 0.0);
    for (int64_t e = 0; e < E; ++e) {
      if (expertCount[e] > 0 && E > 1)
        r.expertEntropy[e] = expertEntropySum_[e] / double(expertCount[e]) / std::log(double(E));
      r.usage[e] = double(expertCount[e]) / patches;
      r.meanWeight[e] = weightSum_[e] / patches;
      r.loadBalance += r.usage[e] * r.meanWeight[e];
    }
    r.loadBalance *= double(E);

    r.routingMap.resize(P * E);
    r.dominant.resize(P);
    for (int64_t p = 0; p < P; ++p) {
      int64_t best = 0;
      for (int64_t e = 0; e < E; ++e) {
        r.routingMap[p * E + e] = double(positionCount_[p * E + e]) / double(items_);
        if (positionCount_[p * E + e] > positionCount_[p * E + best])
          best = e;
      }
      r.dominant[p] = best;
    }

    // Joint histograms as [expert, other] for mutualInformation(a = expert).
    std::vector<int64_t> byExpert(E * P);
    for (int64_t p = 0; p < P; ++p)
      for (int64_t e = 0; e < E; ++e)
        byExpert[e * P + p] = positionCount_[p * E + e];
    r.positionMI = mutualInformation(byExpert, E, P);

    if (labelled_ && *labelled_) {
      const int64_t C = int64_t(classCount_.size()) / E;
      std::vector<int64_t> joint(E * C);
      for (int64_t c = 0; c < C; ++c)
        for (int64_t e = 0; e < E; ++e)
          joint[e * C + c] = classCount_[c * E + e];
      r.classMI = mutualInformation(joint, E, C);
      r.classes = C;
      r.classExpert.assign(C * E, 0.0);
      for (int64_t c = 0; c < C; ++c) {
        int64_t n = 0;
        for (int64_t e = 0; e < E; ++e)
          n += classCount_[c * E + e];
        for (int64_t e = 0; n > 0 && e < E; ++e)
          r.classExpert[c * E + e] = double(classCount_[c * E + e]) / double(n);
      }
    }
    r.entropyHistogram.resize(kEntropyBins);
    for (int64_t i = 0; i < kEntropyBins; ++i)
      r.entropyHistogram[i] = double(entropyCount_[i]) / patches;
    r.warnings = routingWarnings(r.usage);
    return r;
  });
}

Expected<RoutingLayerReport> computeRoutingReport(const std::string &name, const HostTensor &weights,
                                                  const HostTensor *labels, int64_t numClasses) {
  RoutingAccumulator acc(name, numClasses);
  if (Status s = acc.add(weights, labels); !s)
    return s;
  return acc.finish();
}

std::optional<std::pair<int64_t, int64_t>> inferPatchGrid(int64_t P, int64_t H, int64_t W) {
  if (P < 1)
    return std::nullopt;
  if (H <= 0 || W <= 0) {
    auto s = static_cast<int64_t>(std::llround(std::sqrt(double(P))));
    if (s * s == P)
      return std::make_pair(s, s);
    return std::nullopt;
  }
  std::vector<std::pair<int64_t, int64_t>> candidates;
  for (int64_t nph = 1; nph <= P; ++nph)
    if (P % nph == 0 && H % nph == 0 && W % (P / nph) == 0)
      candidates.emplace_back(nph, P / nph);
  if (candidates.size() == 1)
    return candidates[0];
  std::optional<std::pair<int64_t, int64_t>> square;
  for (const auto &c : candidates)
    if (H / c.first == W / c.second) {
      if (square)
        return std::nullopt;
      square = c;
    }
  return square;
}

//===----------------------------------------------------------------------===//
// Output
//===----------------------------------------------------------------------===//

JsonValue routingLayerToJson(const RoutingLayerReport &r) {
  JsonValue o = JsonValue::object();
  o.set("name", JsonValue::string(r.name));
  o.set("items", JsonValue::integer(r.items));
  o.set("patches", JsonValue::integer(r.patches));
  o.set("experts", JsonValue::integer(r.experts));
  o.set("grid", pairJson(r.grid));
  o.set("entropy", natsJson(r.entropy));
  o.set("expert_usage", numbersJson(r.usage, 0, r.usage.size()));
  o.set("mean_weight", numbersJson(r.meanWeight, 0, r.meanWeight.size()));
  o.set("load_balance", JsonValue::number(r.loadBalance));
  JsonValue map = JsonValue::array();
  for (int64_t p = 0; p < r.patches; ++p)
    map.push(numbersJson(r.routingMap, size_t(p * r.experts), size_t((p + 1) * r.experts)));
  o.set("routing_map", std::move(map));
  JsonValue dominant = JsonValue::array();
  for (int64_t e : r.dominant)
    dominant.push(JsonValue::integer(e));
  o.set("dominant_expert", std::move(dominant));
  o.set("mi_position", natsJson(r.positionMI));
  if (r.classMI) {
    JsonValue c = natsJson(*r.classMI);
    c.set("classes", JsonValue::integer(r.classes));
    o.set("mi_class", std::move(c));
  } else {
    o.set("mi_class", JsonValue());
  }
  if (r.classExpert.empty()) {
    o.set("class_expert", JsonValue());
  } else {
    JsonValue rows = JsonValue::array();
    for (int64_t c = 0; c < r.classes; ++c)
      rows.push(numbersJson(r.classExpert, size_t(c * r.experts), size_t((c + 1) * r.experts)));
    o.set("class_expert", std::move(rows));
  }
  o.set("entropy_histogram", numbersJson(r.entropyHistogram, 0, r.entropyHistogram.size()));
  o.set("expert_entropy", numbersJson(r.expertEntropy, 0, r.expertEntropy.size()));
  JsonValue warnings = JsonValue::array();
  for (const std::string &w : r.warnings)
    warnings.push(JsonValue::string(w));
  o.set("warnings", std::move(warnings));
  return o;
}

JsonValue routingReportToJson(const RoutingReport &report) {
  JsonValue o = JsonValue::object();
  o.set("format", JsonValue::string("pce-routing-report"));
  o.set("version", JsonValue::integer(1));
  o.set("items", JsonValue::integer(report.items));
  o.set("image_size", pairJson(report.imageSize));
  o.set("classes", report.classes > 0 ? JsonValue::integer(report.classes) : JsonValue());
  JsonValue layers = JsonValue::array();
  for (const auto &l : report.layers)
    layers.push(routingLayerToJson(l));
  o.set("layers", std::move(layers));
  JsonValue skipped = JsonValue::array();
  for (const auto &[name, error] : report.skipped) {
    JsonValue s = JsonValue::object();
    s.set("name", JsonValue::string(name));
    s.set("error", JsonValue::string(error));
    skipped.push(std::move(s));
  }
  o.set("skipped", std::move(skipped));
  if (report.clusters) {
    const RouteClusters &k = *report.clusters;
    JsonValue c = JsonValue::object();
    c.set("k", JsonValue::integer(k.k));
    JsonValue sizes = JsonValue::array(), exemplars = JsonValue::array();
    for (int64_t i = 0; i < k.k; ++i) {
      sizes.push(JsonValue::integer(k.sizes[size_t(i)]));
      exemplars.push(k.exemplars[size_t(i)] >= 0 ? JsonValue::integer(k.exemplars[size_t(i)]) : JsonValue());
    }
    c.set("sizes", std::move(sizes));
    c.set("exemplars", std::move(exemplars));
    c.set("silhouette", JsonValue::number(k.silhouette));
    c.set("silhouette_images", JsonValue::integer(k.silhouetteImages));
    c.set("iterations", JsonValue::integer(k.iterations));
    o.set("clusters", std::move(c));
  } else {
    o.set("clusters", JsonValue());
  }
  if (report.paths) {
    auto pathsJson = [](const std::vector<RoutingPath> &paths) {
      JsonValue a = JsonValue::array();
      for (const RoutingPath &p : paths) {
        JsonValue one = JsonValue::object(), experts = JsonValue::array();
        for (int64_t e : p.experts)
          experts.push(JsonValue::integer(e));
        one.set("experts", std::move(experts));
        one.set("share", JsonValue::number(p.share));
        a.push(std::move(one));
      }
      return a;
    };
    JsonValue p = JsonValue::object(), names = JsonValue::array();
    for (const auto &l : report.layers)
      names.push(JsonValue::string(l.name));
    p.set("layers", std::move(names));
    p.set("positions", JsonValue::integer(report.paths->positions));
    p.set("distinct", JsonValue::integer(report.paths->distinct));
    p.set("top", pathsJson(report.paths->top));
    p.set("per_position", pathsJson(report.paths->perPosition));
    o.set("paths", std::move(p));
  } else {
    o.set("paths", JsonValue());
  }
  auto examplesJson = [](const std::vector<RoutingExample> &examples) {
    JsonValue a = JsonValue::array();
    for (const RoutingExample &ex : examples) {
      JsonValue e = JsonValue::object(), experts = JsonValue::array(), weights = JsonValue::array();
      e.set("item", JsonValue::integer(ex.item));
      e.set("label", ex.label >= 0 ? JsonValue::integer(ex.label) : JsonValue());
      for (size_t l = 0; l < ex.expert.size(); ++l) {
        JsonValue row = JsonValue::array();
        for (int64_t x : ex.expert[l])
          row.push(JsonValue::integer(x));
        experts.push(std::move(row));
        weights.push(numbersJson(ex.weight[l], 0, ex.weight[l].size()));
      }
      e.set("experts", std::move(experts));
      e.set("weights", std::move(weights));
      a.push(std::move(e));
    }
    return a;
  };
  o.set("examples", examplesJson(report.examples));
  o.set("cluster_exemplars", examplesJson(report.clusterExemplars));
  JsonValue training = JsonValue::array();
  for (const JsonValue &line : report.trainingLog)
    if (const JsonValue *event = line.find("event"); event && event->getString() && *event->getString() == "epoch")
      training.push(line);
  o.set("training", std::move(training));
  return o;
}

std::string detail::formatNumber(const char *format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

Status writeRoutingReport(const RoutingReport &report, const std::string &dir) {
  return detail::guardStatus([&] {
    std::string json = writeJson(routingReportToJson(report), 2) + "\n";
    std::string md = routingReportMarkdown(report);
    detail::writeFileAtomic(dir + "/report.json", {{json.data(), json.size()}});
    detail::writeFileAtomic(dir + "/report.md", {{md.data(), md.size()}});
    std::string html = routingReportHtml(report);
    detail::writeFileAtomic(dir + "/report.html", {{html.data(), html.size()}});
  });
}

} // namespace pce::rt
