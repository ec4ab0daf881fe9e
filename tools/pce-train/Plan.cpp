//===- Plan.cpp - the training plan (DIR/training.json) -------------------===//

#include "tools/pce-train/Plan.h"

#include "runtime/Failure.h"
#include "runtime/FileIO.h"

namespace pce::train {

using rt::JsonValue;

namespace {

// Typed access to one JSON document with messages "SOURCE: byte N: PATH: ...".
class Reader {
public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const JsonValue &v, const std::string &path, const std::string &what) const {
    rt::detail::fail(source_ + ": byte " + std::to_string(v.offset()) + ": " + path + ": " + what);
  }
  const JsonValue &object(const JsonValue &v, const std::string &path) const {
    if (!v.isObject())
      fail(v, path, std::string("expected an object, found ") + rt::jsonKindName(v.kind()));
    return v;
  }
  const JsonValue &member(const JsonValue &obj, const std::string &path, const char *key) const {
    const JsonValue *m = object(obj, path).find(key);
    if (!m)
      fail(obj, path, std::string("missing key '") + key + "'");
    return *m;
  }
  std::string sub(const std::string &path, const std::string &key) const {
    return path.empty() ? key : path + "." + key;
  }
  int64_t integer(const JsonValue &obj, const std::string &path, const char *key) const {
    const JsonValue &v = member(obj, path, key);
    if (!v.isInt())
      fail(v, sub(path, key), std::string("expected an integer, found ") + rt::jsonKindName(v.kind()));
    return v.intValue();
  }
  double number(const JsonValue &obj, const std::string &path, const char *key) const {
    const JsonValue &v = member(obj, path, key);
    if (!v.isNumber())
      fail(v, sub(path, key), std::string("expected a number, found ") + rt::jsonKindName(v.kind()));
    return v.numberValue();
  }
  bool boolean(const JsonValue &obj, const std::string &path, const char *key) const {
    const JsonValue &v = member(obj, path, key);
    if (!v.isBool())
      fail(v, sub(path, key), std::string("expected true or false, found ") + rt::jsonKindName(v.kind()));
    return v.boolValue();
  }
  std::string string(const JsonValue &obj, const std::string &path, const char *key) const {
    const JsonValue &v = member(obj, path, key);
    if (!v.isString())
      fail(v, sub(path, key), std::string("expected a string, found ") + rt::jsonKindName(v.kind()));
    return *v.getString();
  }
  std::vector<int64_t> ints(const JsonValue &obj, const std::string &path, const char *key) const {
    const JsonValue &v = member(obj, path, key);
    if (!v.isArray())
      fail(v, sub(path, key), std::string("expected an array of integers, found ") + rt::jsonKindName(v.kind()));
    std::vector<int64_t> out;
    for (const JsonValue &item : *v.getArray()) {
      if (!item.isInt())
        fail(item, sub(path, key), "expected an array of integers");
      out.push_back(item.intValue());
    }
    return out;
  }

private:
  std::string source_;
};

PlanLayer readLayer(const Reader &r, const JsonValue &v, const std::string &path) {
  PlanLayer l;
  l.kind = r.string(v, path, "kind");
  l.name = r.string(v, path, "name");
  l.in = r.ints(v, path, "in");
  l.out = r.ints(v, path, "out");
  auto pair = [&](const char *key) {
    std::vector<int64_t> p = r.ints(v, path, key);
    if (p.size() != 2)
      r.fail(r.member(v, path, key), r.sub(path, key), "expected [h, w]");
    return p;
  };
  if (l.kind == "conv") {
    l.kernel = pair("kernel");
    l.stride = pair("stride");
    l.padding = pair("padding");
    l.bias = r.boolean(v, path, "bias");
  } else if (l.kind == "batch_norm") {
    l.eps = r.number(v, path, "eps");
  } else if (l.kind == "max_pool" || l.kind == "avg_pool") {
    l.kernel = pair("kernel");
    l.stride = pair("stride");
  } else if (l.kind == "linear") {
    l.bias = r.boolean(v, path, "bias");
  } else if (l.kind == "residual") {
    l.from = r.string(v, path, "from");
  } else if (l.kind != "relu" && l.kind != "global_avg_pool" && l.kind != "flatten" && l.kind != "pce") {
    r.fail(r.member(v, path, "kind"), r.sub(path, "kind"), "unknown layer kind '" + l.kind + "'");
  }
  return l;
}

TrainingConfig readTraining(const Reader &r, const JsonValue &t) {
  const std::string p = "training";
  TrainingConfig c;
  c.data = r.string(t, p, "data");
  c.batch = r.integer(t, p, "batch");
  c.seed = r.integer(t, p, "seed");
  c.threads = r.integer(t, p, "threads");
  c.validation = r.integer(t, p, "validation");
  const JsonValue &o = r.member(t, p, "optimizer");
  const std::string op = p + ".optimizer";
  c.optimizer.kind = r.string(o, op, "kind");
  if (c.optimizer.kind != "sgd" && c.optimizer.kind != "adamw")
    r.fail(r.member(o, op, "kind"), op + ".kind", "expected sgd or adamw, found '" + c.optimizer.kind + "'");
  c.optimizer.lr = r.number(o, op, "lr");
  c.optimizer.momentum = r.number(o, op, "momentum");
  c.optimizer.nesterov = r.boolean(o, op, "nesterov");
  c.optimizer.weightDecay = r.number(o, op, "weight_decay");
  const JsonValue &betas = r.member(o, op, "betas");
  const JsonValue::Array *b = betas.getArray();
  if (!b || b->size() != 2 || !(*b)[0].isNumber() || !(*b)[1].isNumber())
    r.fail(betas, op + ".betas", "expected two numbers");
  c.optimizer.beta1 = (*b)[0].numberValue();
  c.optimizer.beta2 = (*b)[1].numberValue();
  c.optimizer.eps = r.number(o, op, "eps");
  const JsonValue &s = r.member(t, p, "schedule");
  const std::string sp = p + ".schedule";
  c.schedule.kind = r.string(s, sp, "kind");
  if (c.schedule.kind != "constant" && c.schedule.kind != "cosine" && c.schedule.kind != "step")
    r.fail(r.member(s, sp, "kind"), sp + ".kind", "expected constant, cosine or step, found '" + c.schedule.kind + "'");
  c.schedule.warmupEpochs = r.number(s, sp, "warmup_epochs");
  c.schedule.stepEpochs = r.integer(s, sp, "step_epochs");
  c.schedule.gamma = r.number(s, sp, "gamma");
  const JsonValue &a = r.member(t, p, "augment");
  c.cropPadding = r.integer(a, p + ".augment", "crop_padding");
  c.hflip = r.boolean(a, p + ".augment", "hflip");
  c.loadBalance = r.number(t, p, "load_balance");
  c.ema = r.number(t, p, "ema");
  const JsonValue &k = r.member(t, p, "key_init");
  c.keyInitImages = r.integer(k, p + ".key_init", "images");
  c.keyInitIterations = r.integer(k, p + ".key_init", "iterations");
  c.bnMomentum = r.number(t, p, "bn_momentum");
  if (c.batch < 1)
    r.fail(r.member(t, p, "batch"), p + ".batch", "must be at least 1");
  if (c.validation < 0)
    r.fail(r.member(t, p, "validation"), p + ".validation", "must not be negative");
  return c;
}

Phase readPhase(const Reader &r, const JsonValue &v, const std::string &path) {
  Phase ph;
  ph.epochs = r.integer(v, path, "epochs");
  if (ph.epochs < 0)
    r.fail(r.member(v, path, "epochs"), path + ".epochs", "must not be negative");
  ph.artifact = r.string(v, path, "artifact");
  const JsonValue &layers = r.object(r.member(v, path, "layers"), path + ".layers");
  for (const auto &[name, l] : *layers.getObject()) {
    std::string lp = path + ".layers." + name;
    PhaseLayer pl;
    pl.router = r.string(l, lp, "router");
    pl.topK = r.integer(l, lp, "top_k");
    pl.keys = r.string(l, lp, "keys");
    if (pl.keys != "none" && pl.keys != "ema" && pl.keys != "learnable" && pl.keys != "learnable_ema")
      r.fail(r.member(l, lp, "keys"), lp + ".keys", "expected none, ema, learnable or learnable_ema");
    pl.tau = l.find("tau") ? r.number(l, lp, "tau") : 1.0;
    pl.learnableTau = l.find("learnable_tau") ? r.boolean(l, lp, "learnable_tau") : false;
    pl.mix = r.string(l, lp, "mix");
    pl.attention = r.string(l, lp, "attention");
    ph.layers[name] = pl;
  }
  return ph;
}

Plan readDocument(const JsonValue &doc, const std::string &source) {
  Reader r(source);
  Plan plan;
  plan.path = source;
  if (r.string(doc, "", "format") != "pce-training-plan")
    r.fail(r.member(doc, "", "format"), "format", "expected \"pce-training-plan\"");
  if (r.integer(doc, "", "version") != 1)
    r.fail(r.member(doc, "", "version"), "version", "this pce-train reads version 1");
  plan.model = r.string(doc, "", "model");
  const JsonValue &in = r.member(doc, "", "input");
  plan.batch = r.integer(in, "input", "batch");
  plan.channels = r.integer(in, "input", "channels");
  plan.height = r.integer(in, "input", "height");
  plan.width = r.integer(in, "input", "width");
  const JsonValue &layers = r.member(doc, "", "layers");
  if (!layers.isArray())
    r.fail(layers, "layers", "expected an array");
  for (size_t i = 0; i < layers.getArray()->size(); ++i)
    plan.layers.push_back(readLayer(r, (*layers.getArray())[i], "layers[" + std::to_string(i) + "]"));
  const JsonValue &head = r.member(doc, "", "head");
  if (!head.isNull()) {
    std::string kind = r.string(head, "head", "kind");
    if (kind != "classification")
      r.fail(r.member(head, "head", "kind"), "head.kind", "pce-train supports only classification heads");
    plan.headClasses = r.integer(head, "head", "classes");
    plan.headIn = r.ints(head, "head", "in");
  }
  plan.training = readTraining(r, r.member(doc, "", "training"));
  if (plan.training.batch != plan.batch)
    r.fail(r.member(doc, "", "input"), "input.batch",
           "the compiled batch " + std::to_string(plan.batch) + " differs from training.batch " +
               std::to_string(plan.training.batch));
  const JsonValue &phases = r.member(doc, "", "phases");
  if (!phases.isArray() || phases.getArray()->empty())
    r.fail(phases, "phases", "expected a non-empty array");
  for (size_t q = 0; q < phases.getArray()->size(); ++q)
    plan.phases.push_back(readPhase(r, (*phases.getArray())[q], "phases[" + std::to_string(q) + "]"));
  return plan;
}

} // namespace

int64_t Plan::totalEpochs() const {
  int64_t n = 0;
  for (const Phase &p : phases)
    n += p.epochs;
  return n;
}

size_t Plan::phaseOfEpoch(int64_t epoch) const {
  int64_t end = 0;
  for (size_t q = 0; q < phases.size(); ++q) {
    end += phases[q].epochs;
    if (epoch < end)
      return q;
  }
  return phases.empty() ? 0 : phases.size() - 1;
}

int64_t Plan::firstEpochOf(size_t q) const {
  int64_t start = 0;
  for (size_t i = 0; i < q && i < phases.size(); ++i)
    start += phases[i].epochs;
  return start;
}

rt::Expected<Plan> parsePlan(const std::string &text, const std::string &source) {
  auto doc = rt::parseJson(text, source);
  if (!doc)
    return doc.status();
  try {
    return readDocument(*doc, source);
  } catch (...) {
    return rt::detail::statusFromCurrentException();
  }
}

rt::Expected<Plan> readPlan(const std::string &path) {
  std::string text;
  try {
    text = rt::detail::readWholeFile(path);
  } catch (...) {
    return rt::detail::statusFromCurrentException();
  }
  return parsePlan(text, path);
}

} // namespace pce::train
