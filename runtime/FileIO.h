//===- FileIO.h - Whole-file reads and atomic writes (internal) -----------===//
//
// Shared by the .npy, safetensors and manifest code. Errors are thrown as
// detail::Failure with the path in the message; public callers guard them.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_FILEIO_H
#define PCE_RUNTIME_FILEIO_H

#include <cstddef>
#include <string>
#include <vector>

namespace pce::rt::detail {

// The whole regular file at path.
std::string readWholeFile(const std::string &path);

struct ByteSpan {
  const void *data;
  size_t size;
};

// Writes the concatenation of pieces to path via a temporary file in the
// same directory and rename(), so readers never see a half-written file.
void writeFileAtomic(const std::string &path, const std::vector<ByteSpan> &pieces);

} // namespace pce::rt::detail

#endif // PCE_RUNTIME_FILEIO_H
