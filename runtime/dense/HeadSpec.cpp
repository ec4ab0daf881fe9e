//===- HeadSpec.cpp - what a model's head computes and how it is decoded --===//

#include "runtime/dense/HeadSpec.h"

#include <cmath>

namespace pce::rt {

const char *headKindName(HeadKind kind) {
  switch (kind) {
  case HeadKind::Classification: return "classification";
  case HeadKind::Segmentation: return "segmentation";
  case HeadKind::Detection: return "detection";
  }
  return "?";
}

std::optional<HeadKind> parseHeadKind(const std::string &name) {
  for (HeadKind k : {HeadKind::Classification, HeadKind::Segmentation, HeadKind::Detection})
    if (name == headKindName(k))
      return k;
  return std::nullopt;
}

const char *HeadSpec::outputName() const { return kind == HeadKind::Detection ? "detections" : "logits"; }

std::vector<int64_t> HeadSpec::outputShape(int64_t height, int64_t width) const {
  switch (kind) {
  case HeadKind::Classification: return {classes};
  case HeadKind::Segmentation: return {classes, height, width};
  case HeadKind::Detection: return {classes + 4, height / stride, width / stride};
  }
  return {};
}

JsonValue headSpecJson(const HeadSpec &head) {
  JsonValue j = JsonValue::object();
  j.set("kind", JsonValue::string(headKindName(head.kind)));
  j.set("classes", JsonValue::integer(head.classes));
  JsonValue in = JsonValue::array();
  for (int64_t d : head.in)
    in.push(JsonValue::integer(d));
  j.set("in", std::move(in));
  if (head.kind == HeadKind::Detection) {
    j.set("stride", JsonValue::integer(head.stride));
    j.set("max_detections", JsonValue::integer(head.maxDetections));
    j.set("score_threshold", JsonValue::number(head.scoreThreshold));
  }
  if (!head.classWeights.empty()) {
    JsonValue w = JsonValue::array();
    for (double x : head.classWeights)
      w.push(JsonValue::number(x));
    j.set("class_weights", std::move(w));
  }
  return j;
}

HeadSpec readHeadSpec(const JsonReader &r, const JsonValue &v, const std::string &path) {
  r.onlyKeys(v, path, {"kind", "classes", "in", "stride", "max_detections", "score_threshold", "class_weights"});
  HeadSpec h;
  std::string kind = r.string(v, path, "kind");
  auto k = parseHeadKind(kind);
  if (!k)
    r.fail(r.member(v, path, "kind"), r.sub(path, "kind"),
           "unknown head kind '" + kind + "' (expected classification, segmentation or detection)");
  h.kind = *k;
  h.classes = r.integer(v, path, "classes");
  if (h.classes < 1)
    r.fail(r.member(v, path, "classes"), r.sub(path, "classes"), "expected at least 1 class");
  h.in = r.ints(v, path, "in");
  if (h.kind == HeadKind::Detection) {
    h.stride = r.integer(v, path, "stride");
    if (h.stride < 1)
      r.fail(r.member(v, path, "stride"), r.sub(path, "stride"), "expected a stride >= 1");
    h.maxDetections = r.integer(v, path, "max_detections");
    if (h.maxDetections < 1)
      r.fail(r.member(v, path, "max_detections"), r.sub(path, "max_detections"), "expected at least 1");
    h.scoreThreshold = r.number(v, path, "score_threshold");
    if (!(h.scoreThreshold >= 0 && h.scoreThreshold < 1))
      r.fail(r.member(v, path, "score_threshold"), r.sub(path, "score_threshold"), "expected a number in [0, 1)");
  }
  if (const JsonValue *w = v.find("class_weights")) {
    if (!w->isArray())
      r.fail(*w, r.sub(path, "class_weights"), "expected an array of numbers");
    for (const JsonValue &x : *w->getArray()) {
      if (!x.isNumber() || !(x.numberValue() >= 0) || !std::isfinite(x.numberValue()))
        r.fail(x, r.sub(path, "class_weights"), "expected finite numbers >= 0");
      h.classWeights.push_back(x.numberValue());
    }
    if (int64_t(h.classWeights.size()) != h.classes)
      r.fail(*w, r.sub(path, "class_weights"),
             "expected one weight per class (" + std::to_string(h.classes) + "), found " +
                 std::to_string(h.classWeights.size()));
  }
  return h;
}

Expected<HeadSpec> parseHeadSpec(const std::string &text, const std::string &source) {
  return parseJsonDocument<HeadSpec>(text, source, [](const JsonValue &doc, const std::string &src) {
    return readHeadSpec(JsonReader(src), doc, "head");
  });
}

} // namespace pce::rt
