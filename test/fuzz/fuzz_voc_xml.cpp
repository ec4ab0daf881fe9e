//===- fuzz_voc_xml.cpp - libFuzzer target: VOC annotation parser ---------===//
//
// Any bytes given to parseVocAnnotation must come back as an annotation or
// an error message, never a crash, a leak or a read of another file. Build
// (clang):
//   clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
//     test/fuzz/fuzz_voc_xml.cpp runtime/datasets/VocXml.cpp \
//     $(pkg-config --cflags --libs libxml-2.0) -o fuzz_voc_xml
//   ./fuzz_voc_xml -runs=20000 CORPUS_DIR
// (VocXml.cpp needs ImageCodec.h's kMaxImagePixels only; link nothing else.)
// scripts/fuzz-data.sh builds and runs it with the other data targets.
//
//===----------------------------------------------------------------------===//

#include "runtime/datasets/Voc.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view xml(reinterpret_cast<const char *>(data), size);
  auto a = pce::rt::parseVocAnnotation(xml, "fuzz.xml", pce::rt::vocClassNames());
  if (a) {
    // What the parser promises about a valid annotation.
    for (const pce::rt::Box &b : a->boxes)
      if (b.label < 0 || b.label >= 20 || b.xmin < 0 || b.xmin >= b.xmax || b.xmax > float(a->width) ||
          b.ymin < 0 || b.ymin >= b.ymax || b.ymax > float(a->height))
        std::abort();
  } else if (a.error().rfind("fuzz.xml", 0) != 0) {
    std::abort(); // every message names the source
  }
  return 0;
}
