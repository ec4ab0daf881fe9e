//===- Status.h - Errors as values for the PCE runtime's public API -------===//
//
// Every public runtime function reports failure through Status or Expected<T>
// rather than throwing or aborting, so callers (pce-run, the LibTorch adapter,
// a GPU box with only a C++ compiler) never crash on bad files. The message is
// meant to be shown to a user as is: it names the file and byte offset, the
// parameter, the entry point, or the expected vs found shape/dtype.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_STATUS_H
#define PCE_RUNTIME_STATUS_H

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace pce::rt {

class [[nodiscard]] Status {
public:
  Status() = default; // success
  static Status success() { return Status(); }
  static Status error(std::string message) {
    Status s;
    s.failed_ = true;
    s.message_ = std::move(message);
    if (s.message_.empty())
      s.message_ = "unknown error";
    return s;
  }

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const std::string &message() const { return message_; }

private:
  bool failed_ = false;
  std::string message_;
};

// A value or the Status explaining why there is none.
template <typename T> class [[nodiscard]] Expected {
public:
  Expected(T value) : value_(std::move(value)) {}
  Expected(Status status) : status_(std::move(status)) {
    // An OK status carries no value; treat it as a programming error that is
    // still reported as a value rather than a crash.
    if (status_.ok())
      status_ = Status::error("internal error: Expected<T> built from a success Status");
  }

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Status &status() const { return status_; }
  const std::string &error() const { return status_.message(); }

  // Accessing the value of a failed Expected is API misuse (not bad input):
  // it throws std::logic_error carrying the original message.
  T &value() & { check(); return *value_; }
  const T &value() const & { check(); return *value_; }
  T &&value() && { check(); return std::move(*value_); }
  T &operator*() & { return value(); }
  const T &operator*() const & { return value(); }
  T *operator->() { return &value(); }
  const T *operator->() const { return &value(); }

private:
  void check() const {
    if (!value_)
      throw std::logic_error("pce::rt::Expected: value() on error: " + status_.message());
  }
  std::optional<T> value_;
  Status status_;
};

} // namespace pce::rt

#endif // PCE_RUNTIME_STATUS_H
