//===- fuzz_pcam.cpp - libFuzzer target: PatchCamelyon's HDF5 files -------===//
//
// The bytes are opened from memory (HDF5's core driver with a file image, no
// temporary file) as a PCam _x file, then as a _y file: each must come back
// as validated counts or an error naming the source. Build (clang):
//   clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
//     -I/usr/include/hdf5/serial test/fuzz/fuzz_pcam.cpp \
//     runtime/datasets/PCam.cpp -L/usr/lib/x86_64-linux-gnu/hdf5/serial \
//     -lhdf5 -o fuzz_pcam
//   ./fuzz_pcam -runs=20000 -rss_limit_mb=4096 CORPUS_DIR
// Known findings inside libhdf5 1.10.8 that no caller can prevent (each
// reproduces with a plain C H5Fopen + H5Lexists on the same bytes): a
// damaged root-group local heap makes H5HL_protect read through a null
// buffer (SEGV), ask malloc for 4 GiB, or build a free list of tens of
// millions of nodes. Also, libhdf5 leaks a few hundred bytes when H5Fopen
// fails on some damaged superblocks, so LeakSanitizer ignores leaks
// allocated inside libhdf5 (ours are still reported), and ASan returns null
// for a petabyte malloc as a release build does instead of stopping.
//
//===----------------------------------------------------------------------===//

#include "runtime/datasets/PCam.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" const char *__asan_default_options() { return "allocator_may_return_null=1"; }
extern "C" const char *__lsan_default_suppressions() { return "leak:libhdf5_serial.so\n"; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char *>(data), size);
  // One file kind per input (each check forks a probe): by the input's
  // length, which mutations change all the time.
  for (char which : {size % 2 == 0 ? 'x' : 'y'}) {
    // A probe of 3 s, inside libFuzzer's -timeout=10: libhdf5 loops forever
    // on some damaged metadata (test/datasets/data/hdf5-hangs-libhdf5.h5).
    auto info = pce::rt::inspectPCamFile(bytes, "fuzz.h5", which, 3);
    if (!info.ok()) {
      if (info.error().rfind("fuzz.h5", 0) != 0)
        std::abort(); // every message names the source
    } else if (info->count <= 0 || info->tumour < 0 || info->tumour > info->count) {
      std::abort(); // what a validated file promises
    }
  }
  return 0;
}
