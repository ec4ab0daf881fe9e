//===- Contained.cpp - a library's first look at a file, in a child process ===//

#include "runtime/datasets/Contained.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <poll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace pce::rt {

namespace {
// Exit codes of the child: its checks returned, or threw (a reported error).
// Anything else (a signal, a sanitizer's exit code) is a crash.
constexpr int kReturned = 0, kThrew = 3;

// Kills the child and reaps it. A signal (libFuzzer's timer, say) may
// interrupt the wait: wait again, or the child stays a zombie.
void killAndReap(pid_t pid, int *status) {
  kill(pid, SIGKILL);
  while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
  }
}

// This process's resident memory in bytes (0 when /proc cannot say). A
// forked child's peak resident size starts from it: the pages it shares.
size_t residentBytes() {
  FILE *f = std::fopen("/proc/self/statm", "r");
  if (!f)
    return 0;
  unsigned long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  return n == 2 ? size_t(resident) * size_t(sysconf(_SC_PAGESIZE)) : 0;
}

std::string hungMessage(const std::string &what, double seconds) {
  char limit[32];
  std::snprintf(limit, sizeof limit, "%g", seconds);
  return what + ": the library did not finish reading its metadata in " + limit + " s: the file is damaged";
}
} // namespace

Status runContained(const std::function<void()> &check, const std::string &what, double seconds,
                    size_t memoryGrowth) {
  const size_t before = residentBytes();
  const pid_t pid = fork();
  if (pid < 0)
    return Status::success();
  if (pid == 0) {
    int code = kReturned;
    try {
      check();
    } catch (...) {
      code = kThrew;
    }
    _exit(code); // no atexit handlers, no stdio flush: the parent owns those
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  // Wait for the child's exit through a pidfd where the kernel has them
  // (Linux 5.3+), else by polling.
#ifdef SYS_pidfd_open
  if (int fd = int(syscall(SYS_pidfd_open, pid, 0)); fd >= 0) {
    pollfd p{fd, POLLIN, 0};
    int ready;
    do {
      // A signal ends the wait early: wait for what is left of the limit.
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      ready = poll(&p, 1, int(std::max<int64_t>(left.count(), 0)));
    } while (ready < 0 && errno == EINTR);
    close(fd);
    if (ready == 0) {
      killAndReap(pid, nullptr);
      return Status::error(hungMessage(what, seconds));
    }
  }
#endif
  auto pause = std::chrono::microseconds(50);
  int status = 0;
  rusage usage{};
  while (true) {
    const pid_t r = wait4(pid, &status, WNOHANG, &usage);
    if (r == pid)
      break;
    if (r < 0 && errno != EINTR)
      return Status::success(); // not ours to reap (someone waited for all children): no verdict
    if (std::chrono::steady_clock::now() > deadline) {
      killAndReap(pid, &status);
      return Status::error(hungMessage(what, seconds));
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(20000));
  }
  const size_t peak = size_t(usage.ru_maxrss) * 1024; // Linux reports KiB
  if (before > 0 && peak > before + memoryGrowth) {
    char grown[32];
    std::snprintf(grown, sizeof grown, "%.0f MiB", double(peak - before) / (1 << 20));
    return Status::error(what + ": reading its metadata took " + grown + " of memory: the file is damaged");
  }
  if (WIFEXITED(status) && (WEXITSTATUS(status) == kReturned || WEXITSTATUS(status) == kThrew))
    return Status::success();
  const std::string how = WIFSIGNALED(status) ? std::string("signal ") + strsignal(WTERMSIG(status))
                                              : "exit status " + std::to_string(WEXITSTATUS(status));
  return Status::error(what + ": the library crashed reading its metadata (" + how + "): the file is damaged");
}

} // namespace pce::rt
