//===- fuzz_asap_xml.cpp - libFuzzer target: ASAP annotation XML ----------===//
//
// Any bytes given to parseAsapXml must come back as annotations or an error
// naming the source, never a crash or a leak; the polygons of a success
// rasterise without fault. Build (clang):
//   clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
//     test/fuzz/fuzz_asap_xml.cpp runtime/datasets/AsapXml.cpp \
//     $(pkg-config --cflags --libs libxml-2.0) -o fuzz_asap_xml
//   ./fuzz_asap_xml -runs=20000 CORPUS_DIR
//
//===----------------------------------------------------------------------===//

#include "runtime/datasets/Camelyon.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char *>(data), size);
  auto parsed = pce::rt::parseAsapXml(bytes, "fuzz.xml");
  if (!parsed.ok()) {
    if (parsed.error().rfind("fuzz.xml", 0) != 0)
      std::abort(); // every message names the source
    return 0;
  }
  for (const pce::rt::AnnotationPolygon &p : parsed->polygons)
    if (p.x.size() < 3 || p.x.size() != p.y.size() || p.minX > p.maxX || p.minY > p.maxY)
      std::abort(); // what the parser promises about an area
  // A small window at two levels over whatever the polygons cover.
  for (double downsample : {1.0, 3.5})
    (void)pce::rt::rasteriseAnnotations(*parsed, downsample, -8, -8, 24, 24);
  return 0;
}
