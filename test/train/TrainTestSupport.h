//===- TrainTestSupport.h - fixtures for the pce-train tests --------------===//
//
// Temporary directories, IDX files written in the exact format of the real
// Fashion-MNIST files (gzip-compressed, big-endian header), a small
// learnable data set, a hand-written training plan, and running the
// pce-train binary.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_TEST_TRAIN_TRAINTESTSUPPORT_H
#define PCE_TEST_TRAIN_TRAINTESTSUPPORT_H

#include <cstdint>
#include <string>
#include <vector>

// Skips a test that needs pce-train to compile a description, in a build
// without the compiler (a runtime-only build says so rather than failing).
#define PCE_SKIP_WITHOUT_COMPILER()                                                                              \
  if (std::string(PCE_COMPILE_BIN).empty())                                                                      \
  GTEST_SKIP() << "a build without the compiler: pce-train cannot compile the description"

namespace pce::traintest {

// A fresh directory under the build tree's work dir, removed by the fixture
// owner when it wishes (kept on failure for inspection).
std::string freshDir(const std::string &name);

// IDX bytes: magic 00 00 08 NDIMS, big-endian sizes, then the u8 items.
std::string idxBytes(const std::vector<uint32_t> &dims, const std::vector<uint8_t> &items);
void writeFile(const std::string &path, const std::string &bytes);
void writeGzip(const std::string &path, const std::string &bytes);

// DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz: images of side `side`
// whose mean brightness gives the class (learnable through global pooling).
void writeDataset(const std::string &dir, int64_t train, int64_t test, int64_t side = 8, uint32_t seed = 7);

struct PlanOptions {
  std::string data;
  int64_t batch = 8, validation = 16, seed = 3, threads = 2;
  std::vector<int64_t> phaseEpochs{1, 1};
  std::string optimizer = "sgd";
  double loadBalance = 0.01;
};
// A training.json (docs/Training.md §3) of a small network with every kind
// of ordinary layer pce-train knows and one PCE layer `block` [4,8,8]: it
// trains with --dense without any artifact.
std::string tinyPlan(const PlanOptions &options);
void writePlan(const std::string &compiledDir, const PlanOptions &options);

// A work directory with a small data set (96 training, 24 test images) and
// the two-phase tinyPlan compiled-dir beside it, for runs of the LibTorch
// baselines, which need no artifact.
struct PlanFixture {
  std::string dir, compiled;
  explicit PlanFixture(const std::string &name);
  // pce-train arguments for run dir DIR/run with the plan, then `extra`.
  std::vector<std::string> args(const std::string &run, std::vector<std::string> extra) const;
};

struct ProcessResult {
  int status = -1;
  std::string output; // stdout and stderr together
};
// Runs argv (argv[0] the program; arguments shell-quoted).
ProcessResult runCommand(const std::vector<std::string> &argv);
// Runs `PCE_TRAIN_BIN args...`.
ProcessResult runTrain(const std::vector<std::string> &args);

std::string readFile(const std::string &path);

// The small RGB model the data-format tests train through compiled layers:
// a 3x3 conv stem (8 channels), ReLU, one PCE layer (patch 8, 2 experts,
// cosine top-1), a classification head; one epoch of batch 8 on
// `format` data at `path`.
std::string compiledRgbModel(const std::string &name, int64_t height, int64_t width, int64_t classes,
                             const std::string &format, const std::string &path, int64_t validation);

// pce-run on a finished run's artifact and weights (RUN_DIR/summary.json
// names them) with `--data DATA` and `extra` arguments: it succeeds and its
// top-1 (and top-5 when the model has 5 classes or more) equal the test
// accuracy pce-train reported. Failures are GoogleTest failures.
void expectPceRunAgrees(const std::string &runDir, const std::string &data,
                        const std::vector<std::string> &extra = {});

} // namespace pce::traintest

#endif // PCE_TEST_TRAIN_TRAINTESTSUPPORT_H
