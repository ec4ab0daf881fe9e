//===- ImageCodec.h - JPEG and PNG through libjpeg-turbo and libpng -------===//
//
// Decoding is strict: a warning from the library (a truncated JPEG, a bad
// CRC, extraneous bytes) is an error, as is an image larger than
// kMaxImagePixels, so a damaged file is reported rather than padded with grey.
// Every message names the source and the byte offset the decoder had reached.
// Encoders exist for tests and for pce-make-scenes.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_DATASETS_IMAGECODEC_H
#define PCE_RUNTIME_DATASETS_IMAGECODEC_H

#include "runtime/Status.h"
#include "runtime/datasets/Image.h"

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace pce::rt {

// No data set of the proposal comes near this (a Camelyon tile is read
// through OpenSlide, not decoded whole); a header claiming more is lying.
constexpr int64_t kMaxImagePixels = int64_t(1) << 28;

// A JPEG as 1 (grayscale) or 3 (RGB; CMYK/YCCK refused) channels.
Expected<Image> decodeJpeg(std::string_view bytes, const std::string &source);
// A PNG of any colour type and depth as 8-bit pixels: gray 1, gray+alpha 2,
// RGB 3, RGBA 4; a palette image is expanded to RGB(A) (see decodePngIndices).
Expected<Image> decodePng(std::string_view bytes, const std::string &source);
// A palette PNG's indices, unexpanded (1 channel): what a VOC
// SegmentationClass mask stores. Any other colour type is an error.
Expected<Image> decodePngIndices(std::string_view bytes, const std::string &source);
// By signature: JPEG (FF D8 FF) or PNG; anything else is an error.
Expected<Image> decodeImage(std::string_view bytes, const std::string &source);
// decodeImage of the file at `path`.
Expected<Image> readImageFile(const std::string &path);

// 1 or 3 channels; quality 1..100.
Expected<std::string> encodeJpeg(const Image &image, int quality = 90);
// 1..4 channels, 8-bit.
Expected<std::string> encodePng(const Image &image);
// A palette PNG of the indices in `indices` (1 channel) with `palette`
// (RGB triples; every index must have an entry).
Expected<std::string> encodePalettePng(const Image &indices, const std::vector<std::array<uint8_t, 3>> &palette);

// Writes `bytes` to `path` (atomically: a reader never sees half a file).
Status writeBytes(const std::string &path, const std::string &bytes);

} // namespace pce::rt

#endif // PCE_RUNTIME_DATASETS_IMAGECODEC_H
