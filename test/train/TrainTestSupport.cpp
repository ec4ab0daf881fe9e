//===- TrainTestSupport.cpp - fixtures for the pce-train tests ------------===//

#include "TrainTestSupport.h"

#include "runtime/Json.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <zlib.h>

namespace pce::traintest {

namespace fs = std::filesystem;

std::string freshDir(const std::string &name) {
  fs::path dir = fs::path(PCE_TRAIN_WORK_DIR) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

std::string idxBytes(const std::vector<uint32_t> &dims, const std::vector<uint8_t> &items) {
  std::string b = {0, 0, 0x08, static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8)
      b += static_cast<char>((d >> shift) & 0xff);
  b.append(items.begin(), items.end());
  return b;
}

void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out)
    throw std::runtime_error("cannot write " + path);
}

void writeGzip(const std::string &path, const std::string &bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  if (!f || gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) != static_cast<int>(bytes.size()))
    throw std::runtime_error("cannot write " + path);
  gzclose(f);
}

void writeDataset(const std::string &dir, int64_t train, int64_t test, int64_t side, uint32_t seed) {
  std::mt19937 rng(seed);
  auto make = [&](const std::string &prefix, int64_t n) {
    std::vector<uint8_t> images, labels;
    std::uniform_int_distribution<int> noise(0, 30), label(0, 9);
    for (int64_t i = 0; i < n; ++i) {
      int c = label(rng);
      labels.push_back(static_cast<uint8_t>(c));
      for (int64_t p = 0; p < side * side; ++p)
        images.push_back(static_cast<uint8_t>(std::min(255, c * 22 + noise(rng))));
    }
    writeGzip(dir + "/" + prefix + "-images-idx3-ubyte.gz",
              idxBytes({static_cast<uint32_t>(n), static_cast<uint32_t>(side), static_cast<uint32_t>(side)}, images));
    writeGzip(dir + "/" + prefix + "-labels-idx1-ubyte.gz", idxBytes({static_cast<uint32_t>(n)}, labels));
  };
  fs::create_directories(dir);
  make("train", train);
  make("t10k", test);
}

std::string tinyPlan(const PlanOptions &o) {
  std::ostringstream p;
  std::string phases;
  for (size_t q = 0; q < o.phaseEpochs.size(); ++q)
    phases += std::string(q ? "," : "") + "{\"epochs\": " + std::to_string(o.phaseEpochs[q]) +
              ", \"artifact\": \"phase" + std::to_string(q + 1) +
              "\", \"layers\": {\"block\": {\"router\": \"cosine\", \"top_k\": 1, \"keys\": \"ema\", \"tau\": 0.5,"
              " \"learnable_tau\": false, \"mix\": \"sum\", \"attention\": \"none\"}}}";
  p << "{\"format\": \"pce-training-plan\", \"version\": 1, \"model\": \"tiny\",\n"
    << " \"input\": {\"batch\": " << o.batch << ", \"channels\": 1, \"height\": 8, \"width\": 8},\n"
    << " \"layers\": [\n"
    << "  {\"kind\": \"conv\", \"name\": \"stem\", \"in\": [1, 8, 8], \"out\": [4, 8, 8], \"kernel\": [3, 3],"
       " \"stride\": [1, 1], \"padding\": [1, 1], \"bias\": true},\n"
    << "  {\"kind\": \"batch_norm\", \"name\": \"stem_bn\", \"in\": [4, 8, 8], \"out\": [4, 8, 8], \"eps\": 1e-05},\n"
    << "  {\"kind\": \"relu\", \"name\": \"act\", \"in\": [4, 8, 8], \"out\": [4, 8, 8]},\n"
    << "  {\"kind\": \"pce\", \"name\": \"block\", \"in\": [4, 8, 8], \"out\": [4, 8, 8], \"patch\": [4, 4],"
       " \"kernel\": [3, 3], \"experts\": 2},\n"
    << "  {\"kind\": \"residual\", \"name\": \"skip\", \"in\": [4, 8, 8], \"out\": [4, 8, 8], \"from\": \"act\"},\n"
    << "  {\"kind\": \"max_pool\", \"name\": \"pool\", \"in\": [4, 8, 8], \"out\": [4, 4, 4], \"kernel\": [2, 2],"
       " \"stride\": [2, 2]},\n"
    << "  {\"kind\": \"avg_pool\", \"name\": \"pool2\", \"in\": [4, 4, 4], \"out\": [4, 2, 2], \"kernel\": [2, 2],"
       " \"stride\": [2, 2]},\n"
    << "  {\"kind\": \"flatten\", \"name\": \"flat\", \"in\": [4, 2, 2], \"out\": [16]},\n"
    << "  {\"kind\": \"linear\", \"name\": \"fc\", \"in\": [16], \"out\": [12], \"bias\": true},\n"
    << "  {\"kind\": \"relu\", \"name\": \"act2\", \"in\": [12], \"out\": [12]}],\n"
    << " \"head\": {\"kind\": \"classification\", \"classes\": 10, \"in\": [12]},\n"
    << " \"training\": {\"data\": \"" << o.data << "\", \"batch\": " << o.batch << ", \"seed\": " << o.seed
    << ", \"threads\": " << o.threads << ", \"validation\": " << o.validation << ",\n"
    << "   \"optimizer\": {\"kind\": \"" << o.optimizer
    << "\", \"lr\": 0.05, \"momentum\": 0.9, \"nesterov\": true, \"weight_decay\": 0.0005,"
       " \"betas\": [0.9, 0.999], \"eps\": 1e-08, \"router_lr_scale\": 1},\n"
    << "   \"schedule\": {\"kind\": \"cosine\", \"warmup_epochs\": 0.5, \"step_epochs\": 0, \"gamma\": 0.1},\n"
    << "   \"augment\": {\"crop_padding\": 1, \"hflip\": true}, \"load_balance\": " << o.loadBalance
    << ", \"ema\": 0.99,\n"
    << "   \"key_init\": {\"images\": 16, \"iterations\": 20}, \"bn_momentum\": 0.1},\n"
    << " \"phases\": [" << phases << "]}\n";
  return p.str();
}

void writePlan(const std::string &compiledDir, const PlanOptions &options) {
  fs::create_directories(compiledDir);
  writeFile(compiledDir + "/training.json", tinyPlan(options));
}

PlanFixture::PlanFixture(const std::string &name) {
  dir = freshDir(name);
  PlanOptions po;
  po.data = dir + "/data";
  writeDataset(po.data, 96, 24);
  compiled = dir + "/compiled";
  writePlan(compiled, po);
}

std::vector<std::string> PlanFixture::args(const std::string &run, std::vector<std::string> extra) const {
  std::vector<std::string> a = {"unused.yaml", "-o", dir + "/" + run, "--compiled", compiled};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

ProcessResult runCommand(const std::vector<std::string> &argv) {
  auto quote = [](const std::string &s) {
    std::string q = "'";
    for (char c : s)
      q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  };
  std::string cmd;
  for (const std::string &a : argv)
    cmd += (cmd.empty() ? "" : " ") + quote(a);
  cmd += " 2>&1";
  ProcessResult r;
  FILE *pipe = ::popen(cmd.c_str(), "r");
  if (!pipe)
    return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0)
    r.output.append(buf, n);
  int status = ::pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

ProcessResult runTrain(const std::vector<std::string> &args) {
  std::vector<std::string> argv{PCE_TRAIN_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return runCommand(argv);
}

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string compiledRgbModel(const std::string &name, int64_t height, int64_t width, int64_t classes,
                             const std::string &format, const std::string &path, int64_t validation) {
  return "model: " + name + "\n" +
         "input: {channels: 3, height: " + std::to_string(height) + ", width: " + std::to_string(width) + "}\n" +
         "layers:\n"
         "  - conv: {name: stem, out_channels: 8, kernel: 3, padding: 1}\n"
         "  - relu:\n"
         "  - pce: {name: block, patch: 8, experts: 2, out_channels: 8, router: {kind: cosine, top_k: 1}}\n"
         "head: {kind: classification, classes: " + std::to_string(classes) + "}\n" +
         "training:\n"
         "  data: {format: " + format + ", path: " + path + "}\n" +
         "  batch: 8\n"
         "  validation: " + std::to_string(validation) + "\n" +
         "  epochs: 1\n";
}

void expectPceRunAgrees(const std::string &runDir, const std::string &data, const std::vector<std::string> &extra) {
  auto summary = rt::parseJson(readFile(runDir + "/summary.json"));
  ASSERT_TRUE(summary.ok()) << summary.error();
  ASSERT_NE(summary->find("artifact"), nullptr) << "the run used no compiled layer";
  std::vector<std::string> argv = {PCE_RUN_BIN, *summary->find("artifact")->getString(), "--weights",
                                   runDir + "/weights.safetensors", "--data", data};
  argv.insert(argv.end(), extra.begin(), extra.end());
  ProcessResult run = runCommand(argv);
  ASSERT_EQ(run.status, 0) << run.output;
  double top1 = -1, top5 = -1;
  const int read = std::sscanf(run.output.c_str(), "accuracy: top-1 %lf%%  top-5 %lf%%", &top1, &top5);
  ASSERT_GE(read, 1) << run.output;
  EXPECT_NEAR(top1, 100 * summary->find("test_top1")->numberValue(), 0.005) << run.output;
  if (read == 2) {
    EXPECT_NEAR(top5, 100 * summary->find("test_top5")->numberValue(), 0.005) << run.output;
  }
}

} // namespace pce::traintest
