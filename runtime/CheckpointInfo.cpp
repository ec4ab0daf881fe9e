//===- CheckpointInfo.cpp - RUN_DIR/checkpoint.json of a training run -----===//

#include "runtime/CheckpointInfo.h"

#include "runtime/JsonReader.h"

namespace pce::rt {

namespace {
const std::vector<std::string> kKeys = {"format",      "version",      "model", "epoch", "phase",
                                        "optimizer_steps", "global_step", "wall_seconds",
                                        "dense",       "seed",         "rng", "baseline"};
const char *kRngNote = "rng.state in checkpoint.safetensors (the CPU generator's state)";

CheckpointInfo readDocument(const JsonValue &doc, const std::string &source) {
  JsonReader r(source);
  r.onlyKeys(doc, "", kKeys);
  if (r.string(doc, "", "format") != kCheckpointFormat)
    r.fail(r.member(doc, "", "format"), "format",
           std::string("expected \"") + kCheckpointFormat + "\" (not a training checkpoint)");
  if (r.integer(doc, "", "version") != kCheckpointVersion)
    r.fail(r.member(doc, "", "version"), "version",
           "this PCE reads version " + std::to_string(kCheckpointVersion));
  CheckpointInfo c;
  c.model = r.string(doc, "", "model");
  c.epoch = r.integer(doc, "", "epoch");
  c.phase = r.integer(doc, "", "phase") - 1;
  c.optimizerSteps = r.integer(doc, "", "optimizer_steps");
  c.globalStep = r.integer(doc, "", "global_step");
  c.wallSeconds = r.number(doc, "", "wall_seconds");
  c.dense = r.boolean(doc, "", "dense");
  c.baseline = doc.find("baseline") ? r.string(doc, "", "baseline") : c.dense ? "dense" : "";
  c.seed = r.integer(doc, "", "seed");
  r.string(doc, "", "rng");
  auto atLeast = [&](const char *key, int64_t value, int64_t least) {
    if (value < least)
      r.fail(r.member(doc, "", key), key, "must be at least " + std::to_string(least));
  };
  atLeast("epoch", c.epoch, 0);
  atLeast("phase", c.phase + 1, 1);
  atLeast("optimizer_steps", c.optimizerSteps, 0);
  atLeast("global_step", c.globalStep, c.optimizerSteps);
  if (!(c.wallSeconds >= 0))
    r.fail(r.member(doc, "", "wall_seconds"), "wall_seconds", "must not be negative");
  return c;
}
} // namespace

std::string writeCheckpointInfoText(const CheckpointInfo &i) {
  JsonValue j = JsonValue::object();
  j.set("format", JsonValue::string(kCheckpointFormat));
  j.set("version", JsonValue::integer(kCheckpointVersion));
  j.set("model", JsonValue::string(i.model));
  j.set("epoch", JsonValue::integer(i.epoch));
  j.set("phase", JsonValue::integer(i.phase + 1));
  j.set("optimizer_steps", JsonValue::integer(i.optimizerSteps));
  j.set("global_step", JsonValue::integer(i.globalStep));
  j.set("wall_seconds", JsonValue::number(i.wallSeconds));
  j.set("dense", JsonValue::boolean(i.dense));
  if (i.dense)
    j.set("baseline", JsonValue::string(i.baseline));
  j.set("seed", JsonValue::integer(i.seed));
  j.set("rng", JsonValue::string(kRngNote));
  return writeJson(j, 1) + "\n";
}

Expected<CheckpointInfo> parseCheckpointInfo(const std::string &text, const std::string &source) {
  return parseJsonDocument<CheckpointInfo>(text, source, readDocument);
}

Expected<CheckpointInfo> readCheckpointInfo(const std::string &path) { return readJsonDocument<CheckpointInfo>(path, readDocument); }

} // namespace pce::rt
