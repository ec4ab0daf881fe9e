//===- PlanTest.cpp - training.json, the command line, plan extraction ----===//

#include "TrainTestSupport.h"

#include "tools/pce-train/Compile.h"
#include "tools/pce-train/Options.h"
#include "tools/pce-train/Plan.h"

#include <gtest/gtest.h>

using namespace pce::train;
using namespace pce::traintest;

TEST(Plan, ReadsTheTinyPlan) {
  PlanOptions po;
  po.data = "/data";
  po.phaseEpochs = {2, 0, 3};
  auto plan = parsePlan(tinyPlan(po), "training.json");
  ASSERT_TRUE(plan.ok()) << plan.error();
  EXPECT_EQ(plan->model, "tiny");
  EXPECT_EQ(plan->batch, 8);
  ASSERT_EQ(plan->layers.size(), 10u);
  EXPECT_EQ(plan->layers[0].kind, "conv");
  EXPECT_EQ(plan->layers[0].padding, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(plan->layers[4].from, "act");
  EXPECT_EQ(*plan->headClasses, 10);
  EXPECT_EQ(plan->training.data, "/data");
  EXPECT_EQ(plan->phases[0].layers.at("block").keys, "ema");
  EXPECT_EQ(plan->totalEpochs(), 5);
  EXPECT_EQ(plan->phaseOfEpoch(0), 0u);
  EXPECT_EQ(plan->phaseOfEpoch(1), 0u);
  EXPECT_EQ(plan->phaseOfEpoch(2), 2u); // phase 2 has no epochs
  EXPECT_EQ(plan->firstEpochOf(2), 2);
}

TEST(Plan, ErrorsNameByteOffsetAndKey) {
  PlanOptions po;
  std::string text = tinyPlan(po);
  std::string bad = text;
  bad.replace(bad.find("\"lr\": 0.05"), 10, "\"lr\": \"x\"");
  auto plan = parsePlan(bad, "c/training.json");
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().find("c/training.json: byte "), std::string::npos) << plan.error();
  EXPECT_NE(plan.error().find("training.optimizer.lr: expected a number, found a string"), std::string::npos)
      << plan.error();
  std::string noPhases = text;
  noPhases.replace(noPhases.find("\"phases\""), 8, "\"phasez\"");
  plan = parsePlan(noPhases, "p.json");
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().find("missing key 'phases'"), std::string::npos) << plan.error();
  EXPECT_FALSE(parsePlan("{", "p.json").ok());
}

TEST(Options, ParsesAndRejects) {
  Options o = parseOptions({"m.yaml", "-o", "run", "--dense", "--epochs=2", "--threads", "3"});
  EXPECT_EQ(o.model, "m.yaml");
  EXPECT_EQ(o.runDir, "run");
  EXPECT_TRUE(o.dense);
  EXPECT_EQ(*o.epochs, 2);
  EXPECT_EQ(*o.threads, 3);
  EXPECT_THROW(parseOptions({"m.yaml"}), UsageError);
  EXPECT_THROW(parseOptions({"m.yaml", "-o", "r", "--bogus"}), UsageError);
  EXPECT_THROW(parseOptions({"m.yaml", "-o", "r", "--threads", "0"}), UsageError);
  EXPECT_THROW(parseOptions({"m.yaml", "-o", "r", "--resume", "--force"}), UsageError);
  EXPECT_THROW(parseOptions({"m.yaml", "-o", "r", "-o", "s"}), UsageError);
}

TEST(Options, UsageErrorsExit2) {
  ProcessResult r = runTrain({"m.yaml"});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("missing -o RUN_DIR"), std::string::npos) << r.output;
  EXPECT_EQ(runTrain({"--help"}).status, 0);
}

TEST(Compile, DecodesMlirStringAttributes) {
  EXPECT_EQ(decodeMlirString("{\\0A \\22a\\22: \\\\x}"), "{\n \"a\": \\x}");
  EXPECT_THROW(decodeMlirString("\\zz"), std::runtime_error);
}
