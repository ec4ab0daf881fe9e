//===- Plan.cpp - the training plan (DIR/training.json) -------------------===//

#include "runtime/TrainingPlan.h"

#include "runtime/JsonReader.h"

#include <stdexcept>

namespace pce::rt {

namespace {

using Reader = JsonReader;

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
  } else if (l.kind == "residual" || l.kind == "concat") {
    l.from = r.string(v, path, "from");
  } else if (l.kind == "upsample") {
    l.mode = r.string(v, path, "mode");
    if (l.mode != "nearest" && l.mode != "bilinear")
      r.fail(r.member(v, path, "mode"), r.sub(path, "mode"), "expected nearest or bilinear, found '" + l.mode + "'");
  } else if (l.kind == "pce") {
    // Optional: plans written before the CoordConv twin have neither.
    if (v.find("patch"))
      l.patch = pair("patch");
    if (v.find("kernel"))
      l.kernel = pair("kernel");
    if (v.find("experts"))
      l.experts = r.integer(v, path, "experts");
  } else if (l.kind != "relu" && l.kind != "sigmoid" && l.kind != "global_avg_pool" && l.kind != "flatten") {
    r.fail(r.member(v, path, "kind"), r.sub(path, "kind"), "unknown layer kind '" + l.kind + "'");
  }
  return l;
}

TrainingConfig readTraining(const Reader &r, const JsonValue &t) {
  const std::string p = "training";
  TrainingConfig c;
  c.data = r.string(t, p, "data");
  // Optional: plans written before other formats existed read Fashion-MNIST's IDX files.
  if (t.find("data_format")) {
    c.dataFormat = r.string(t, p, "data_format");
    bool known = false;
    for (const std::string &f : kDataFormats)
      known = known || f == c.dataFormat;
    if (!known)
      r.fail(r.member(t, p, "data_format"), p + ".data_format", "unknown data format '" + c.dataFormat + "'");
  }
  for (auto [key, values] : {std::pair{"data_mean", &c.dataMean}, std::pair{"data_std", &c.dataStd}}) {
    if (!t.find(key))
      continue;
    const JsonValue &v = r.member(t, p, key);
    if (!v.isArray())
      r.fail(v, p + "." + key, "expected an array of numbers");
    for (const JsonValue &x : *v.getArray()) {
      if (!x.isNumber())
        r.fail(x, p + "." + key, "expected an array of numbers");
      values->push_back(x.numberValue());
    }
  }
  if (const JsonValue *options = t.find("data_options")) {
    if (!options->isObject())
      r.fail(*options, p + ".data_options", "expected an object of numbers");
    for (const auto &[name, value] : *options->getObject()) {
      if (!value.isNumber())
        r.fail(value, p + ".data_options." + name, "expected a number");
      c.dataOptions[name] = value.numberValue();
    }
    if (Status s = checkDataOptions(c.dataFormat, c.dataOptions); !s)
      r.fail(*options, p + ".data_options", s.message());
  }
  if (c.dataMean.size() != c.dataStd.size())
    r.fail(r.member(t, p, "data_std"), p + ".data_std", "expected as many values as training.data_mean");
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
  c.optimizer.routerLrScale = r.number(o, op, "router_lr_scale");
  if (!(c.optimizer.routerLrScale > 0))
    r.fail(r.member(o, op, "router_lr_scale"), op + ".router_lr_scale", "must be positive");
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
    // Optional: plans written before learnable temperatures lack them.
    if (l.find("tau"))
      pl.tau = r.number(l, lp, "tau");
    if (l.find("learnable_tau"))
      pl.learnableTau = r.boolean(l, lp, "learnable_tau");
    if (l.find("normalize_input"))
      pl.normalizeInput = r.boolean(l, lp, "normalize_input");
    if (l.find("linear_hidden"))
      pl.linearHidden = r.boolean(l, lp, "linear_hidden");
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
  if (r.string(doc, "", "format") != kTrainingPlanFormat)
    r.fail(r.member(doc, "", "format"), "format", std::string("expected \"") + kTrainingPlanFormat + "\"");
  if (r.integer(doc, "", "version") != kTrainingPlanVersion)
    r.fail(r.member(doc, "", "version"), "version",
           "this PCE reads version " + std::to_string(kTrainingPlanVersion));
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
  if (!head.isNull())
    plan.head = readHeadSpec(r, head, "head");
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

namespace {

JsonValue writeLayer(const PlanLayer &l) {
  JsonValue j = JsonValue::object();
  j.set("kind", JsonValue::string(l.kind));
  j.set("name", JsonValue::string(l.name));
  j.set("in", JsonValue::integers(l.in));
  j.set("out", JsonValue::integers(l.out));
  if (l.kind == "conv") {
    j.set("kernel", JsonValue::integers(l.kernel));
    j.set("stride", JsonValue::integers(l.stride));
    j.set("padding", JsonValue::integers(l.padding));
    j.set("bias", JsonValue::boolean(l.bias));
  } else if (l.kind == "batch_norm") {
    j.set("eps", JsonValue::number(l.eps));
  } else if (l.kind == "max_pool" || l.kind == "avg_pool") {
    j.set("kernel", JsonValue::integers(l.kernel));
    j.set("stride", JsonValue::integers(l.stride));
  } else if (l.kind == "linear") {
    j.set("bias", JsonValue::boolean(l.bias));
  } else if (l.kind == "residual" || l.kind == "concat") {
    j.set("from", JsonValue::string(l.from));
  } else if (l.kind == "upsample") {
    j.set("mode", JsonValue::string(l.mode));
  } else if (l.kind == "pce" && !l.patch.empty()) {
    j.set("patch", JsonValue::integers(l.patch));
    j.set("kernel", JsonValue::integers(l.kernel));
    j.set("experts", JsonValue::integer(l.experts));
  }
  return j;
}

JsonValue writePhase(const Phase &p, const std::vector<PlanLayer> &order) {
  JsonValue j = JsonValue::object();
  j.set("epochs", JsonValue::integer(p.epochs));
  j.set("artifact", JsonValue::string(p.artifact));
  JsonValue layers = JsonValue::object();
  auto add = [&](const std::string &name, const PhaseLayer &l) {
    JsonValue o = JsonValue::object();
    o.set("router", JsonValue::string(l.router));
    o.set("top_k", JsonValue::integer(l.topK));
    o.set("keys", JsonValue::string(l.keys));
    o.set("tau", JsonValue::number(l.tau));
    o.set("learnable_tau", JsonValue::boolean(l.learnableTau));
    if (l.router == "mlp") {
      o.set("normalize_input", JsonValue::boolean(l.normalizeInput));
      o.set("linear_hidden", JsonValue::boolean(l.linearHidden));
    }
    o.set("mix", JsonValue::string(l.mix));
    o.set("attention", JsonValue::string(l.attention));
    layers.set(name, std::move(o));
  };
  // The network's order first (what a reader of the file expects), then any
  // layer the plan's layer list does not name.
  for (const PlanLayer &l : order)
    if (auto it = p.layers.find(l.name); it != p.layers.end())
      add(it->first, it->second);
  for (const auto &[name, l] : p.layers)
    if (!layers.find(name))
      add(name, l);
  j.set("layers", std::move(layers));
  return j;
}

JsonValue writeTraining(const TrainingConfig &c) {
  JsonValue t = JsonValue::object();
  t.set("data", JsonValue::string(c.data));
  t.set("data_format", JsonValue::string(c.dataFormat));
  if (!c.dataOptions.empty()) {
    JsonValue options = JsonValue::object();
    for (const auto &[name, value] : c.dataOptions)
      options.set(name, JsonValue::number(value));
    t.set("data_options", std::move(options));
  }
  JsonValue mean = JsonValue::array(), std = JsonValue::array();
  for (double m : c.dataMean)
    mean.push(JsonValue::number(m));
  for (double s : c.dataStd)
    std.push(JsonValue::number(s));
  t.set("data_mean", std::move(mean));
  t.set("data_std", std::move(std));
  t.set("batch", JsonValue::integer(c.batch));
  t.set("seed", JsonValue::integer(c.seed));
  t.set("threads", JsonValue::integer(c.threads));
  t.set("validation", JsonValue::integer(c.validation));
  JsonValue o = JsonValue::object();
  o.set("kind", JsonValue::string(c.optimizer.kind));
  o.set("lr", JsonValue::number(c.optimizer.lr));
  o.set("momentum", JsonValue::number(c.optimizer.momentum));
  o.set("nesterov", JsonValue::boolean(c.optimizer.nesterov));
  o.set("weight_decay", JsonValue::number(c.optimizer.weightDecay));
  JsonValue betas = JsonValue::array();
  betas.push(JsonValue::number(c.optimizer.beta1));
  betas.push(JsonValue::number(c.optimizer.beta2));
  o.set("betas", std::move(betas));
  o.set("eps", JsonValue::number(c.optimizer.eps));
  o.set("router_lr_scale", JsonValue::number(c.optimizer.routerLrScale));
  t.set("optimizer", std::move(o));
  JsonValue s = JsonValue::object();
  s.set("kind", JsonValue::string(c.schedule.kind));
  s.set("warmup_epochs", JsonValue::number(c.schedule.warmupEpochs));
  s.set("step_epochs", JsonValue::integer(c.schedule.stepEpochs));
  s.set("gamma", JsonValue::number(c.schedule.gamma));
  t.set("schedule", std::move(s));
  JsonValue a = JsonValue::object();
  a.set("crop_padding", JsonValue::integer(c.cropPadding));
  a.set("hflip", JsonValue::boolean(c.hflip));
  t.set("augment", std::move(a));
  t.set("load_balance", JsonValue::number(c.loadBalance));
  t.set("ema", JsonValue::number(c.ema));
  JsonValue k = JsonValue::object();
  k.set("images", JsonValue::integer(c.keyInitImages));
  k.set("iterations", JsonValue::integer(c.keyInitIterations));
  t.set("key_init", std::move(k));
  t.set("bn_momentum", JsonValue::number(c.bnMomentum));
  return t;
}

} // namespace

std::string writePlanText(const Plan &plan) {
  JsonValue doc = JsonValue::object();
  doc.set("format", JsonValue::string(kTrainingPlanFormat));
  doc.set("version", JsonValue::integer(kTrainingPlanVersion));
  doc.set("model", JsonValue::string(plan.model));
  JsonValue phases = JsonValue::array();
  for (const Phase &p : plan.phases)
    phases.push(writePhase(p, plan.layers));
  doc.set("phases", std::move(phases));
  JsonValue in = JsonValue::object();
  in.set("batch", JsonValue::integer(plan.batch));
  in.set("channels", JsonValue::integer(plan.channels));
  in.set("height", JsonValue::integer(plan.height));
  in.set("width", JsonValue::integer(plan.width));
  doc.set("input", std::move(in));
  JsonValue layers = JsonValue::array();
  for (const PlanLayer &l : plan.layers)
    layers.push(writeLayer(l));
  doc.set("layers", std::move(layers));
  if (plan.head) {
    doc.set("head", headSpecJson(*plan.head));
  } else {
    doc.set("head", JsonValue());
  }
  doc.set("training", writeTraining(plan.training));
  return writeJson(doc, 1) + "\n";
}

OptimizerConfig OptimizerConfig::defaults(const std::string &kind) {
  OptimizerConfig c;
  if (kind == "sgd")
    return c;
  if (kind != "adamw")
    throw std::invalid_argument("unknown optimizer '" + kind + "' (expected sgd or adamw)");
  c.kind = kind;
  c.lr = 0.001;
  c.momentum = 0;
  c.nesterov = false;
  c.weightDecay = 0.01;
  return c;
}

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

Expected<Plan> parsePlan(const std::string &text, const std::string &source) {
  return parseJsonDocument<Plan>(text, source, readDocument);
}

Expected<Plan> readPlan(const std::string &path) { return readJsonDocument<Plan>(path, readDocument); }

} // namespace pce::rt
