//===- FileIO.cpp - Whole-file reads and atomic writes (internal) ---------===//

#include "runtime/FileIO.h"

#include "runtime/Failure.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace pce::rt::detail {

namespace {
std::string errnoText() { return std::strerror(errno); }

// Closes the descriptor on every path out of the function.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0)
      ::close(fd);
  }
};
} // namespace

std::string readWholeFile(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    fail(path + ": cannot open: " + errnoText());
  FdCloser closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0)
    fail(path + ": cannot stat: " + errnoText());
  if (!S_ISREG(st.st_mode))
    fail(path + ": not a regular file");
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      fail(path + ": read error at byte " + std::to_string(done) + ": " + errnoText());
    }
    if (n == 0) { // file shrank while reading
      bytes.resize(done);
      break;
    }
    done += static_cast<size_t>(n);
  }
  return bytes;
}

void writeFileAtomic(const std::string &path, const std::vector<ByteSpan> &pieces) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    fail(path + ": cannot create: " + errnoText());
  bool ok = true;
  std::string why;
  for (const ByteSpan &piece : pieces) {
    const char *p = static_cast<const char *>(piece.data);
    size_t left = piece.size;
    while (ok && left > 0) {
      ssize_t n = ::write(fd, p, left);
      if (n < 0) {
        if (errno == EINTR)
          continue;
        ok = false;
        why = errnoText();
        break;
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
  }
  if (::close(fd) != 0 && ok) {
    ok = false;
    why = errnoText();
  }
  if (ok && std::rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    why = errnoText();
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    fail(path + ": cannot write: " + why);
  }
}

} // namespace pce::rt::detail
