//===- PceRunTest.cpp - pce-run end to end on the fake artifact -----------===//

#include "runtime/Npy.h"
#include "runtime/Safetensors.h"

#include "FakeArtifact.h"
#include "TestSupport.h"

using namespace pce::rt;
using namespace pce::rt::test;

namespace {

class PceRunTest : public ::testing::Test {
protected:
  TempDir dir;
  std::string art, weights, input;
  std::map<std::string, HostTensor> params;
  HostTensor x;

  void SetUp() override {
    art = dir.file("art");
    std::filesystem::create_directory(art);
    writeArtifact(art, fakeManifest());
    params["w"] = randomTensor(DType::F32, {3});
    params["b"] = randomTensor(DType::F32, {3});
    weights = dir.file("w.safetensors");
    ASSERT_TRUE(writeSafetensors(weights, params));
    x = randomTensor(DType::F32, {2, 3});
    input = dir.file("x.npy");
    ASSERT_TRUE(writeNpy(input, x));
  }

  // Runs pce-run with the given (already quoted) arguments.
  int run(const std::string &args, std::string *out) {
    return runCommand(shellQuote(PCE_RUN_EXE) + " " + args, out);
  }
};

TEST_F(PceRunTest, WritesOutputAndRouting) {
  std::string out;
  std::string cmd = shellQuote(art) + " --weights " + shellQuote(weights) + " --input " + shellQuote(input) +
                    " --output " + shellQuote(dir.file("y.npy")) + " --routing " +
                    shellQuote(dir.file("routing/run1"));
  ASSERT_EQ(run(cmd, &out), 0) << out;
  // The fake "routing" (x, y) is almost never a distribution: then no report
  // for it, only a warning (RoutingReportTest covers the report itself).
  EXPECT_EQ(out.find("error"), std::string::npos) << out;
  EXPECT_TRUE(std::filesystem::exists(dir.file("routing/run1/report.json")));
  auto y = readNpy(dir.file("y.npy"));
  ASSERT_TRUE(y) << y.error();
  ASSERT_EQ(y->typeString(), "f32[2,3]");
  auto r = readNpy(dir.file("routing/run1/layer0.routing.npy"));
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->typeString(), "f32[2,3,2]");
  for (int i = 0; i < 6; ++i) {
    float expect = params["w"].f32()[i % 3] * x.f32()[i] + params["b"].f32()[i % 3];
    EXPECT_EQ(y->f32()[i], expect);
    EXPECT_EQ(r->f32()[2 * i], x.f32()[i]);
    EXPECT_EQ(r->f32()[2 * i + 1], expect);
  }
}

TEST_F(PceRunTest, NamedInputsAndEntry) {
  HostTensor xs = randomTensor(DType::F64, {4}), s = randomTensor(DType::F64, {});
  ASSERT_TRUE(writeNpy(dir.file("xs.npy"), xs));
  ASSERT_TRUE(writeNpy(dir.file("s.npy"), s));
  std::string out;
  ASSERT_EQ(run(shellQuote(art) + " --entry=scale --input x=" + shellQuote(dir.file("xs.npy")) +
                    " --input s=" + shellQuote(dir.file("s.npy")) + " --output " + shellQuote(dir.file("y.npy")),
                &out),
            0)
      << out;
  auto y = readNpy(dir.file("y.npy"));
  ASSERT_TRUE(y) << y.error();
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(y->f64()[i], s.f64()[0] * xs.f64()[i]);
  // Several inputs but unnamed: a runtime error that says how to name them.
  EXPECT_EQ(run(shellQuote(art) + " --entry scale --input " + shellQuote(dir.file("xs.npy")) + " --input " +
                    shellQuote(dir.file("s.npy")) + " --output " + shellQuote(dir.file("y.npy")),
                &out),
            1);
  EXPECT_CONTAINS(out, "pass each as --input NAME=FILE.npy");
}

// --repeat times more calls on the same inputs after the one whose results
// are written (the written results are that first call's).
TEST_F(PceRunTest, RepeatTimesTheCall) {
  std::string out;
  std::string cmd = shellQuote(art) + " --weights " + shellQuote(weights) + " --input " + shellQuote(input) +
                    " --output " + shellQuote(dir.file("y.npy")) + " --repeat 5";
  ASSERT_EQ(run(cmd, &out), 0) << out;
  EXPECT_CONTAINS(out, "time: entry point 'forward', cpu target: median ");
  EXPECT_CONTAINS(out, " ms over 5 calls (after 1 untimed)");
  auto y = readNpy(dir.file("y.npy"));
  ASSERT_TRUE(y) << y.error();
  EXPECT_EQ(y->f32()[4], params["w"].f32()[1] * x.f32()[4] + params["b"].f32()[1]);
  EXPECT_EQ(run(cmd + " --repeat 2", &out), 2);
  EXPECT_CONTAINS(out, "option '--repeat' given twice");
  EXPECT_EQ(run(shellQuote(art) + " --input a.npy --output b.npy --repeat 0", &out), 2);
  EXPECT_CONTAINS(out, "option '--repeat' needs a count in [1, 100000], found '0'");
  EXPECT_EQ(run(shellQuote(art) + " --idx-images i.gz --repeat 3", &out), 2);
  EXPECT_CONTAINS(out, "option '--repeat' needs --input");
}

TEST_F(PceRunTest, UsageErrorsExitWith2) {
  std::string out;
  EXPECT_EQ(run("", &out), 2);
  EXPECT_CONTAINS(out, "missing the artifact directory");
  EXPECT_EQ(run(shellQuote(art) + " --input a.npy --output b.npy --frobnicate 3", &out), 2);
  EXPECT_CONTAINS(out, "unknown option '--frobnicate'");
  EXPECT_EQ(run(shellQuote(art) + " --input a.npy", &out), 2);
  EXPECT_CONTAINS(out, "missing --output");
  EXPECT_EQ(run(shellQuote(art) + " --output b.npy --input", &out), 2);
  EXPECT_CONTAINS(out, "option '--input' needs a value");
  EXPECT_EQ(run(shellQuote(art) + " --input a.npy --output b.npy --output c.npy", &out), 2);
  EXPECT_CONTAINS(out, "option '--output' given twice");
  EXPECT_EQ(run(shellQuote(art) + " other --input a.npy --output b.npy", &out), 2);
  EXPECT_CONTAINS(out, "pce-run: unexpected argument 'other'\n(run 'pce-run --help' for usage)");
  EXPECT_EQ(run("--help", &out), 0);
  EXPECT_CONTAINS(out, "usage: pce-run DIR");
}

// The rules every MLIR-free tool shares (tools/support/CommandLine.h).
TEST_F(PceRunTest, CommandLineRules) {
  std::string out;
  std::string y = " --output " + shellQuote(dir.file("y.npy"));
  std::string base = shellQuote(art) + " --weights " + shellQuote(weights) + y;
  // --opt=value and --opt value are the same.
  ASSERT_EQ(run(base + " --input=" + shellQuote(input) + " --threads=1", &out), 0) << out;
  ASSERT_EQ(run(base + " --input " + shellQuote(input) + " --threads 1", &out), 0) << out;
  // A misspelt option: the closest one is suggested.
  EXPECT_EQ(run(base + " --input " + shellQuote(input) + " --weigths w", &out), 2);
  EXPECT_CONTAINS(out, "pce-run: unknown option '--weigths' (did you mean '--weights'?)");
  EXPECT_EQ(run(base + " --inptu=" + shellQuote(input), &out), 2);
  EXPECT_CONTAINS(out, "unknown option '--inptu' (did you mean '--input'?)");
  // Single-valued options may not repeat; --input may.
  EXPECT_EQ(run(base + " --input " + shellQuote(input) + " --entry forward --entry=forward", &out), 2);
  EXPECT_CONTAINS(out, "option '--entry' given twice");
  EXPECT_EQ(run(base + " --input " + shellQuote(input) + " --threads 1 --threads 2", &out), 2);
  EXPECT_CONTAINS(out, "option '--threads' given twice");
  EXPECT_EQ(run(base + " --input " + shellQuote(input) + " --threads 0", &out), 2);
  EXPECT_CONTAINS(out, "option '--threads' needs a count in [1, 1024], found '0'");
  EXPECT_EQ(run(base + " --input x=" + shellQuote(input) + " --input=x=" + shellQuote(input), &out), 1);
  EXPECT_CONTAINS(out, "input 'x' given twice");
  EXPECT_EQ(run("--version", &out), 0);
  EXPECT_CONTAINS(out, "pce-run 0.");
  EXPECT_CONTAINS(out, " (git ");
}

TEST_F(PceRunTest, RuntimeErrorsExitWith1) {
  std::string out;
  std::string y = " --output " + shellQuote(dir.file("y.npy"));
  // Missing input file.
  EXPECT_EQ(run(shellQuote(art) + " --weights " + shellQuote(weights) + " --input " +
                    shellQuote(dir.file("missing.npy")) + y, &out), 1);
  EXPECT_CONTAINS(out, "pce-run: error: " + dir.file("missing.npy") + ": cannot open");
  // Missing weights file.
  EXPECT_EQ(run(shellQuote(art) + " --weights " + shellQuote(dir.file("nope.safetensors")) + " --input " +
                    shellQuote(input) + y, &out), 1);
  EXPECT_CONTAINS(out, dir.file("nope.safetensors") + ": cannot open");
  // Weights needed but not given.
  EXPECT_EQ(run(shellQuote(art) + " --input " + shellQuote(input) + y, &out), 1);
  EXPECT_CONTAINS(out, "entry point 'forward' takes parameters: pass --weights");
  // Wrong input shape.
  ASSERT_TRUE(writeNpy(dir.file("bad.npy"), randomTensor(DType::F32, {3, 3})));
  EXPECT_EQ(run(shellQuote(art) + " --weights " + shellQuote(weights) + " --input " +
                    shellQuote(dir.file("bad.npy")) + y, &out), 1);
  EXPECT_CONTAINS(out, "input 'x' expects f32[2,3], found f32[3,3]");
  // A corrupt input file.
  writeBytes(dir.file("corrupt.npy"), readBytes(input).substr(0, 130));
  EXPECT_EQ(run(shellQuote(art) + " --weights " + shellQuote(weights) + " --input " +
                    shellQuote(dir.file("corrupt.npy")) + y, &out), 1);
  EXPECT_CONTAINS(out, dir.file("corrupt.npy") + ": byte 130: unexpected end of file");
  // Not an artifact; unknown entry point.
  EXPECT_EQ(run(shellQuote(dir.file("nowhere")) + " --input " + shellQuote(input) + y, &out), 1);
  EXPECT_CONTAINS(out, "not a directory");
  EXPECT_EQ(run(shellQuote(art) + " --entry backward --input " + shellQuote(input) + y, &out), 1);
  EXPECT_CONTAINS(out, "has no entry point 'backward' (available: forward, scale)");
  EXPECT_FALSE(std::filesystem::exists(dir.file("y.npy")));
}

TEST_F(PceRunTest, WarnsAboutUnusedWeights) {
  params["extra"] = randomTensor(DType::F32, {5});
  ASSERT_TRUE(writeSafetensors(weights, params));
  std::string out;
  ASSERT_EQ(run(shellQuote(art) + " --weights " + shellQuote(weights) + " --input " + shellQuote(input) +
                    " --output " + shellQuote(dir.file("y.npy")),
                &out),
            0)
      << out;
  EXPECT_CONTAINS(out, "pce-run: warning: weights file " + weights + " has tensor 'extra' f32[5]");
}

} // namespace
