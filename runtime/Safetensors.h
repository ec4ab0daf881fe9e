//===- Safetensors.h - Weights and checkpoints as safetensors -------------===//
//
// Layout (https://github.com/huggingface/safetensors):
//   u64 little-endian N | N bytes of JSON header | data section
//   header: {"NAME": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]},
//            ..., "__metadata__": {"key": "value"}}
//   offsets are relative to the start of the data section.
// Reading validates: N within the file, the header is a JSON object, every
// tensor has exactly dtype/shape/data_offsets, a dtype the runtime supports
// (F32, F64, I64, I32, U8), 0 <= b <= e <= data size, e - b == numel *
// itemsize, and no two tensors' byte ranges overlap. Gaps between tensors are
// tolerated. Errors read "PATH: byte OFFSET: tensor 'NAME': ...".
// Writing is deterministic: tensors sorted by name, packed back to back, the
// header padded with spaces so the data section starts 8-byte aligned.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_SAFETENSORS_H
#define PCE_RUNTIME_SAFETENSORS_H

#include "runtime/HostTensor.h"
#include "runtime/Status.h"

#include <map>
#include <string>
#include <string_view>

namespace pce::rt {

struct SafetensorsFile {
  std::string path; // where it was read from (used in messages)
  std::map<std::string, HostTensor> tensors;
  std::map<std::string, std::string> metadata;

  const HostTensor *find(const std::string &name) const {
    auto it = tensors.find(name);
    return it == tensors.end() ? nullptr : &it->second;
  }
};

Expected<SafetensorsFile> readSafetensors(const std::string &path);
// Same, from bytes already in memory; source names them in messages.
Expected<SafetensorsFile> parseSafetensors(std::string_view bytes, const std::string &source);

Status writeSafetensors(const std::string &path, const std::map<std::string, HostTensor> &tensors,
                        const std::map<std::string, std::string> &metadata = {});

} // namespace pce::rt

#endif // PCE_RUNTIME_SAFETENSORS_H
