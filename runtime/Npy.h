//===- Npy.h - NumPy .npy files in and out --------------------------------===//
//
// Tensors cross tool boundaries as .npy so anyone can check them with NumPy.
// Reading accepts format versions 1.0 and 2.0, little-endian '<f4', '<f8',
// '<i8', '<i4' and '|u1', fortran_order False, any rank (including 0-d).
// Validation is strict: a bad magic/version, a header length past the end of
// the file, a malformed or incomplete header dict, or a data section whose
// size is not exactly numel * itemsize is an error
// "PATH: byte OFFSET: expected ...". Writing produces version 1.0 (2.0 only if
// the header would not fit), padded like NumPy so the data starts 64-aligned.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_NPY_H
#define PCE_RUNTIME_NPY_H

#include "runtime/HostTensor.h"
#include "runtime/Status.h"

#include <string>
#include <string_view>

namespace pce::rt {

Expected<HostTensor> readNpy(const std::string &path);
// Same, from bytes already in memory; source names them in messages.
Expected<HostTensor> parseNpy(std::string_view bytes, const std::string &source);

Status writeNpy(const std::string &path, const HostTensor &tensor);
// The complete file contents writeNpy would write.
Expected<std::string> encodeNpy(const HostTensor &tensor);

} // namespace pce::rt

#endif // PCE_RUNTIME_NPY_H
