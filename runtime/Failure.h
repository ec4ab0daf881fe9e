//===- Failure.h - Internal exception type and API-boundary guard ---------===//
//
// Inside the runtime, parsers throw Failure at the point where the problem is
// found (it is much shorter than threading Status through every helper). Each
// public function wraps its body in guard()/guardStatus(), which turns
// Failure, std::bad_alloc and any other std::exception into an error value, so
// nothing escapes the API. Not installed / not part of the public API.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_FAILURE_H
#define PCE_RUNTIME_FAILURE_H

#include "runtime/Status.h"

#include <new>
#include <stdexcept>
#include <string>

namespace pce::rt::detail {

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void fail(const std::string &message) { throw Failure(message); }

inline Status statusFromCurrentException() {
  try {
    throw;
  } catch (const Failure &f) {
    return Status::error(f.what());
  } catch (const std::bad_alloc &) {
    return Status::error("out of memory");
  } catch (const std::exception &e) {
    return Status::error(std::string("internal error: ") + e.what());
  } catch (...) {
    return Status::error("internal error: unknown exception");
  }
}

// Runs fn() (returning T) and converts any exception into Expected<T>'s error.
template <typename T, typename Fn> Expected<T> guard(Fn &&fn) {
  try {
    return Expected<T>(fn());
  } catch (...) {
    return Expected<T>(statusFromCurrentException());
  }
}

// Runs fn() (returning void) and converts any exception into a Status.
template <typename Fn> Status guardStatus(Fn &&fn) {
  try {
    fn();
    return Status::success();
  } catch (...) {
    return statusFromCurrentException();
  }
}

} // namespace pce::rt::detail

#endif // PCE_RUNTIME_FAILURE_H
