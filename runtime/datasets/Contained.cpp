//===- Contained.cpp - a library's first look at a file, in a child process ===//

#include "runtime/datasets/Contained.h"

#include <algorithm>
#include <new>
#include <string>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
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

// This process's address space and resident memory in bytes (0 when /proc
// cannot say). A forked child's peak resident size starts from the latter:
// the pages it shares.
struct Footprint {
  size_t virtualBytes = 0, residentBytes = 0;
};
Footprint footprint() {
  FILE *f = std::fopen("/proc/self/statm", "r");
  if (!f)
    return {};
  unsigned long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  return n == 2 ? Footprint{size_t(size) * page, size_t(resident) * page} : Footprint{};
}

// The child's side: run the check with at most `memoryGrowth` more address
// space (so a 4 GiB request fails at once instead of being filled), and send
// what it threw to the parent.
[[noreturn]] void runChild(const std::function<void()> &check, const std::string &what, size_t memoryGrowth,
                           int messageFd) {
  rlimit limit{};
  if (size_t vm = footprint().virtualBytes; vm && getrlimit(RLIMIT_AS, &limit) == 0 &&
                                            (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > vm + memoryGrowth)) {
    limit.rlim_cur = vm + memoryGrowth; // the soft limit only: the hard one is the caller's
    setrlimit(RLIMIT_AS, &limit);
  }
  int code = kReturned;
  std::string message;
  try {
    check();
  } catch (const std::bad_alloc &) {
    code = kThrew;
    message = what + ": reading its metadata needs more than " + std::to_string(memoryGrowth >> 20) +
              " MiB of memory: the file is damaged";
  } catch (const std::exception &e) {
    code = kThrew;
    message = e.what();
  } catch (...) {
    code = kThrew;
    message = "an error that is not a std::exception";
  }
  // Far below the pipe's buffer, so the write never waits for the parent.
  message.resize(std::min<size_t>(message.size(), 4096));
  if (!message.empty() && write(messageFd, message.data(), message.size()) < 0)
    code = kReturned; // the parent's own run of the check reports it
  _exit(code); // no atexit handlers, no stdio flush: the parent owns those
}

std::string readAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0)
      out.append(buf, size_t(n));
  return out;
}

std::string hungMessage(const std::string &what, double seconds) {
  char limit[32];
  std::snprintf(limit, sizeof limit, "%g", seconds);
  return what + ": the library did not finish reading its metadata in " + limit + " s: the file is damaged";
}
} // namespace

Status runContained(const std::function<void()> &check, const std::string &what, double seconds,
                    size_t memoryGrowth) {
  const size_t before = footprint().residentBytes;
  int message[2];
  if (pipe2(message, O_CLOEXEC) != 0)
    return Status::success();
  const pid_t pid = fork();
  if (pid < 0) {
    close(message[0]);
    close(message[1]);
    return Status::success();
  }
  if (pid == 0) {
    close(message[0]);
    runChild(check, what, memoryGrowth, message[1]);
  }
  close(message[1]);
  struct CloseAtEnd {
    int fd;
    ~CloseAtEnd() { close(fd); }
  } closeMessage{message[0]};
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
  if (WIFEXITED(status) && WEXITSTATUS(status) == kReturned)
    return Status::success();
  if (WIFEXITED(status) && WEXITSTATUS(status) == kThrew)
    return Status::error(readAll(message[0]));
  const std::string how = WIFSIGNALED(status) ? std::string("signal ") + strsignal(WTERMSIG(status))
                                              : "exit status " + std::to_string(WEXITSTATUS(status));
  return Status::error(what + ": the library crashed reading its metadata (" + how + "): the file is damaged");
}

} // namespace pce::rt
