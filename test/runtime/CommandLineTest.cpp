//===- CommandLineTest.cpp - the runtime tools' command-line rules --------===//
//
// tools/support/CommandLine.h on a made-up tool: the rules pce-run, pce-init,
// pce-train and pce-bench share (their own tests cover their options).
//
//===----------------------------------------------------------------------===//

#include "tools/support/CommandLine.h"
#include "tools/support/Version.h"
#include "runtime/Version.h"

#include <gtest/gtest.h>

using namespace pce::tool;

namespace {

struct Tool {
  std::string dir, out;
  std::vector<std::string> inputs;
  bool fast = false;
  int64_t seed = -1;
  CommandLine cl{"pce-demo", "usage: pce-demo DIR -o OUT\n"};

  Tool() {
    cl.app().add_option("DIR", dir);
    cl.app().add_option("-o,--output", out);
    cl.app().add_option("--input", inputs);
    cl.app().add_flag("--fast", fast);
    cl.addInteger("--seed", "an integer in [0, 99]", 0, 99, [this](int64_t n) { seed = n; });
  }
};

std::string error(const std::vector<std::string> &args) {
  Tool t;
  try {
    t.cl.parse(args);
  } catch (const UsageError &e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(CommandLine, BothValueSpellingsAndLists) {
  Tool t;
  ASSERT_EQ(t.cl.parse({"d", "--output=x", "--seed", "7", "--input", "a", "--input=b", "--fast"}), Request::Run);
  EXPECT_EQ(t.dir, "d");
  EXPECT_EQ(t.out, "x");
  EXPECT_EQ(t.seed, 7);
  EXPECT_EQ(t.inputs, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(t.fast);
  Tool u;
  ASSERT_EQ(u.cl.parse({"-o", "y", "--seed=7"}), Request::Run);
  EXPECT_EQ(u.out, "y");
  EXPECT_EQ(u.seed, 7);
}

TEST(CommandLine, Mistakes) {
  EXPECT_EQ(error({"d", "-o", "x", "--output", "y"}), "option '--output' given twice");
  EXPECT_EQ(error({"d", "--fast", "--fast"}), "option '--fast' given twice");
  EXPECT_EQ(error({"d", "--seed=1", "--seed=1"}), "option '--seed' given twice");
  EXPECT_EQ(error({"d", "--seed", "100"}), "option '--seed' needs an integer in [0, 99], found '100'");
  EXPECT_EQ(error({"d", "--seed", "1x"}), "option '--seed' needs an integer in [0, 99], found '1x'");
  EXPECT_EQ(error({"d", "--output"}), "option '--output' needs a value");
  EXPECT_EQ(error({"d", "--input", ""}), "option '--input' needs a non-empty value");
  EXPECT_EQ(error({"d", "e"}), "unexpected argument 'e'");
  EXPECT_EQ(error({"d", "--ouptut=x"}), "unknown option '--ouptut' (did you mean '--output'?)");
  EXPECT_EQ(error({"d", "--sed", "1"}), "unknown option '--sed' (did you mean '--seed'?)");
  EXPECT_EQ(error({"d", "--frobnicate"}), "unknown option '--frobnicate'");
  EXPECT_EQ(error({"d", "-q"}), "unknown option '-q'");
}

TEST(CommandLine, HelpAndVersion) {
  Tool t;
  EXPECT_EQ(t.cl.parse({"--help"}), Request::Help);
  Tool u;
  EXPECT_EQ(u.cl.parse({"d", "--version"}), Request::Version);
  EXPECT_EQ(versionLine("pce-demo"),
            std::string("pce-demo ") + pce::rt::pceVersion() + " (git " + pce::rt::pceGitCommit() + ")");
  std::string commit = pce::rt::pceGitCommit();
  const std::string hash = commit.substr(0, commit.find("-dirty"));
  EXPECT_TRUE(commit == "unknown" ||
              (!hash.empty() && hash.find_first_not_of("0123456789abcdef") == std::string::npos &&
               (hash == commit || commit == hash + "-dirty")))
      << commit;
}

TEST(CommandLine, ClosestOption) {
  std::vector<std::string> known = {"--weights", "--input", "--output", "--idx-images", "--idx-labels", "-o"};
  EXPECT_EQ(closestOption("--weigths", known), "--weights");
  EXPECT_EQ(closestOption("--wieghts=x", known), "--weights");
  EXPECT_EQ(closestOption("--idx-label", known), "--idx-labels");
  EXPECT_EQ(closestOption("--zzz", known), std::nullopt);
  EXPECT_EQ(closestOption("-q", known), std::nullopt);
}

} // namespace
