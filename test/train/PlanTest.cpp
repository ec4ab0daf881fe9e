//===- PlanTest.cpp - training.json, the command line, plan extraction ----===//

#include "TrainTestSupport.h"

#include "tools/pce-train/CommandLine.h"
#include "runtime/TrainingPlan.h"

#include <gtest/gtest.h>

using namespace pce::rt;
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
  ASSERT_TRUE(plan->head);
  EXPECT_EQ(plan->head->classes, 10);
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

// The rules of every MLIR-free tool (tools/support/CommandLine.h).
namespace {
Options parse(const std::vector<std::string> &args) {
  Options o;
  EXPECT_EQ(parseOptions(args, o), pce::tool::Request::Run);
  return o;
}

std::string usageError(const std::vector<std::string> &args) {
  Options o;
  try {
    parseOptions(args, o);
  } catch (const UsageError &e) {
    return e.what();
  }
  return "(accepted)";
}
} // namespace

TEST(Options, ParsesAndRejects) {
  Options o = parse({"m.yaml", "-o", "run", "--dense", "--epochs=2", "--threads", "3"});
  EXPECT_EQ(o.model, "m.yaml");
  EXPECT_EQ(o.runDir, "run");
  EXPECT_TRUE(o.dense);
  EXPECT_EQ(*o.epochs, 2);
  EXPECT_EQ(*o.threads, 3);
  // --seed=2 and --seed 2 are the same.
  EXPECT_EQ(*parse({"m.yaml", "-o", "r", "--seed=2"}).seed, 2);
  EXPECT_EQ(*parse({"m.yaml", "-o", "r", "--seed", "2"}).seed, 2);
  EXPECT_EQ(usageError({"m.yaml"}), "missing -o RUN_DIR");
  EXPECT_EQ(usageError({"-o", "r"}), "missing MODEL.yaml");
  EXPECT_EQ(usageError({"m.yaml", "-o", "r", "--bogus"}), "unknown option '--bogus'");
  EXPECT_EQ(usageError({"m.yaml", "-o", "r", "--thread", "2"}),
            "unknown option '--thread' (did you mean '--threads'?)");
  EXPECT_EQ(usageError({"m.yaml", "-o", "r", "--threads", "0"}), "option '--threads' needs an integer >= 1, found '0'");
  EXPECT_EQ(usageError({"m.yaml", "-o", "r", "--seed=x"}), "option '--seed' needs an integer >= 0, found 'x'");
  EXPECT_EQ(usageError({"m.yaml", "-o", "r", "--resume", "--force"}), "--resume and --force exclude each other");
  EXPECT_EQ(usageError({"m.yaml", "-o", "r", "-o", "s"}), "option '-o' given twice");
  EXPECT_EQ(usageError({"m.yaml", "-o", "r", "--seed=1", "--seed", "1"}), "option '--seed' given twice");
  EXPECT_EQ(usageError({"m.yaml", "-o", "r", "--dense", "--dense"}), "option '--dense' given twice");
  EXPECT_EQ(usageError({"m.yaml", "-o", "r", "--dense=yes"}), "option '--dense' takes no value");
  EXPECT_EQ(usageError({"m.yaml", "n.yaml", "-o", "r"}), "unexpected argument 'n.yaml'");
  EXPECT_EQ(usageError({"m.yaml", "-o", "r", "--data"}), "option '--data' needs a value");
  Options o2;
  EXPECT_EQ(parseOptions({"--help"}, o2), pce::tool::Request::Help);
  EXPECT_EQ(parseOptions({"--version"}, o2), pce::tool::Request::Version);
}

TEST(Options, UsageErrorsExit2) {
  ProcessResult r = runTrain({"m.yaml"});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("pce-train: missing -o RUN_DIR\n(run 'pce-train --help' for usage)"), std::string::npos)
      << r.output;
  r = runTrain({"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("usage: pce-train MODEL.yaml"), std::string::npos) << r.output;
  r = runTrain({"--version"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.output.rfind("pce-train ", 0), 0u) << r.output;
  EXPECT_NE(r.output.find(" (git "), std::string::npos) << r.output;
}
