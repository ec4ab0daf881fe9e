//===- SlideFixtures.h - a pyramidal slide for the Camelyon16 tests -------===//
//
// A tiled TIFF written through libtiff (1024x768 level 0, then 512x384 and
// 256x192 reduced-resolution directories, deflate, so pixels read back
// exactly): textured pink "tissue" in the left half, white-grey "glass" in
// the right. The reader's tests and pce-train's Camelyon test share it.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_TEST_DATASETS_SLIDEFIXTURES_H
#define PCE_TEST_DATASETS_SLIDEFIXTURES_H

#include "runtime/datasets/Image.h"

#include <gtest/gtest.h>
#include <tiffio.h>

#include <string>
#include <vector>

namespace pce::rt::test {

// Level 0 of the painted slide: textured pink left of x = 512, near-white
// grey right of it.
inline void paint(int64_t x, int64_t y, uint8_t rgb[3]) {
  if (x < 512) {
    rgb[0] = static_cast<uint8_t>(200 + (x * 7 + y * 3) % 40);
    rgb[1] = static_cast<uint8_t>(90 + (x * 5 + y * 11) % 40);
    rgb[2] = static_cast<uint8_t>(150 + (x * 3 + y * 7) % 40);
  } else {
    uint8_t v = static_cast<uint8_t>(235 + (x + 2 * y) % 16);
    rgb[0] = rgb[1] = v;
    rgb[2] = static_cast<uint8_t>(v - (x + y) % 3);
  }
}

// The three levels: painted, then 2x2 box averages.
inline std::vector<Image> pyramid() {
  std::vector<Image> levels{Image(768, 1024, 3)};
  for (int64_t y = 0; y < 768; ++y)
    for (int64_t x = 0; x < 1024; ++x)
      paint(x, y, &levels[0].at(y, x));
  for (int l = 1; l < 3; ++l) {
    const Image &up = levels.back();
    Image down(up.height / 2, up.width / 2, 3);
    for (int64_t y = 0; y < down.height; ++y)
      for (int64_t x = 0; x < down.width; ++x)
        for (int c = 0; c < 3; ++c)
          down.at(y, x, c) = static_cast<uint8_t>((up.at(2 * y, 2 * x, c) + up.at(2 * y, 2 * x + 1, c) +
                                                   up.at(2 * y + 1, 2 * x, c) + up.at(2 * y + 1, 2 * x + 1, c) + 2) /
                                                  4);
    levels.push_back(std::move(down));
  }
  return levels;
}

inline const std::vector<Image> &slidePixels() {
  static const std::vector<Image> levels = pyramid();
  return levels;
}

// A tiled TIFF with one directory per level, the later ones marked as
// reduced-resolution images (what OpenSlide's generic-tiff reader takes).
inline void writeSlide(const std::string &path, uint32_t tile = 128) {
  TIFF *t = TIFFOpen(path.c_str(), "w");
  ASSERT_TRUE(t);
  for (size_t l = 0; l < slidePixels().size(); ++l) {
    const Image &im = slidePixels()[l];
    TIFFSetField(t, TIFFTAG_SUBFILETYPE, l == 0 ? 0 : FILETYPE_REDUCEDIMAGE);
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, static_cast<uint32_t>(im.width));
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, static_cast<uint32_t>(im.height));
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 3);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
    TIFFSetField(t, TIFFTAG_TILEWIDTH, tile);
    TIFFSetField(t, TIFFTAG_TILELENGTH, tile);
    std::vector<uint8_t> buf(tile * tile * 3);
    for (uint32_t ty = 0; ty < im.height; ty += tile)
      for (uint32_t tx = 0; tx < im.width; tx += tile) {
        std::fill(buf.begin(), buf.end(), 0);
        for (uint32_t y = 0; y < tile && ty + y < im.height; ++y)
          for (uint32_t x = 0; x < tile && tx + x < im.width; ++x)
            for (int c = 0; c < 3; ++c)
              buf[(y * tile + x) * 3 + c] = im.at(ty + y, tx + x, c);
        ASSERT_GE(TIFFWriteTile(t, buf.data(), tx, ty, 0, 0), 0);
      }
    ASSERT_TRUE(TIFFWriteDirectory(t));
  }
  TIFFClose(t);
}

} // namespace pce::rt::test

#endif // PCE_TEST_DATASETS_SLIDEFIXTURES_H
