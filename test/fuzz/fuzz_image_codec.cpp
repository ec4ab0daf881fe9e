//===- fuzz_image_codec.cpp - libFuzzer target: JPEG and PNG decoders -----===//
//
// The same bytes go to decodeJpeg, decodePng and decodePngIndices: each
// returns an image whose pixel count matches its size, or an error naming
// the source, never a crash (libjpeg and libpng longjmp out of errors; the
// codecs must leave nothing behind when they do). Build (clang):
//   clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
//     test/fuzz/fuzz_image_codec.cpp runtime/datasets/JpegCodec.cpp \
//     runtime/datasets/PngCodec.cpp runtime/FileIO.cpp -ljpeg -lpng -lz \
//     -o fuzz_image_codec
//   ./fuzz_image_codec -runs=20000 CORPUS_DIR
// scripts/fuzz-data.sh builds and runs it with the other data targets.
//
//===----------------------------------------------------------------------===//

#include "runtime/datasets/ImageCodec.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

void check(const pce::rt::Expected<pce::rt::Image> &image) {
  if (image) {
    if (image->pixels.size() != size_t(image->height * image->width * image->channels) || image->channels < 1 ||
        image->channels > 4)
      std::abort();
  } else if (image.error().rfind("fuzz", 0) != 0) {
    std::abort();
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char *>(data), size);
  check(pce::rt::decodeJpeg(bytes, "fuzz.jpg"));
  check(pce::rt::decodePng(bytes, "fuzz.png"));
  check(pce::rt::decodePngIndices(bytes, "fuzz.png"));
  return 0;
}
