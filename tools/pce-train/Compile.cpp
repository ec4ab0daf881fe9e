//===- Compile.cpp - the compiled side of a run ---------------------------===//

#include "tools/pce-train/Compile.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <spawn.h>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace pce::train {

namespace fs = std::filesystem;

std::string siblingTool(const std::string &name) {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec)
    throw std::runtime_error("cannot locate pce-train's own executable (/proc/self/exe): " + ec.message());
  fs::path tool = self.parent_path() / name;
  if (!fs::exists(tool))
    throw std::runtime_error(name + " not found next to pce-train (" + tool.string() +
                             "); build it, or pass --compiled DIR");
  return tool.string();
}

int runProcess(const std::vector<std::string> &argv, const std::string &stdoutPath) {
  std::vector<char *> cargs;
  for (const std::string &a : argv)
    cargs.push_back(const_cast<char *>(a.c_str()));
  cargs.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!stdoutPath.empty())
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdoutPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, cargs[0], &actions, nullptr, cargs.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    throw std::runtime_error("cannot run " + argv[0] + ": " + std::strerror(rc));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      throw std::runtime_error("waiting for " + argv[0] + ": " + std::strerror(errno));
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

void compileForTraining(const std::string &model, const std::string &outDir) {
  std::string tool = siblingTool("pce-compile");
  int rc = runProcess({tool, model, "--training", "-o", outDir});
  if (rc != 0)
    throw std::runtime_error("pce-compile " + model + " --training -o " + outDir + " failed (exit status " +
                             std::to_string(rc) + ")");
}

std::string decodeMlirString(const std::string &s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    if (i + 1 < s.size() && (s[i + 1] == '\\' || s[i + 1] == '"')) {
      out += s[++i];
    } else if (i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      throw std::runtime_error("malformed escape in an MLIR string attribute");
    }
  }
  return out;
}

void writePlanOnly(const std::string &model, const std::string &outDir) {
  std::string tool = siblingTool("pce-translate");
  fs::create_directories(outDir);
  std::string ir = (fs::path(outDir) / "import-training.mlir").string();
  int rc = runProcess({tool, "--import-training", model}, ir);
  if (rc != 0)
    throw std::runtime_error("pce-translate --import-training " + model + " failed (exit status " +
                             std::to_string(rc) + ")");
  std::ifstream in(ir);
  std::stringstream text;
  text << in.rdbuf();
  std::string all = text.str();
  const std::string key = "pce.training_plan = \"";
  size_t start = all.find(key);
  if (start == std::string::npos)
    throw std::runtime_error(ir + ": no pce.training_plan attribute in pce-translate's output");
  start += key.size();
  size_t end = start;
  while (end < all.size() && all[end] != '"')
    end += all[end] == '\\' ? 2 : 1;
  std::string plan = decodeMlirString(all.substr(start, end - start));
  fs::remove(ir);
  std::string path = (fs::path(outDir) / "training.json").string();
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << plan << "\n";
    if (!out)
      throw std::runtime_error("cannot write " + tmp);
  }
  fs::rename(tmp, path);
}

} // namespace pce::train
