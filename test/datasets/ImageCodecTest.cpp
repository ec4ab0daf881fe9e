//===- ImageCodecTest.cpp - JPEG and PNG through libjpeg-turbo and libpng -===//
//
// Round trips through the encoders; truncated, damaged and lying files are
// errors naming the source and a byte offset, never a crash or a grey image.
//
//===----------------------------------------------------------------------===//

#include "runtime/datasets/ImageCodec.h"

#include "TestSupport.h"

#include <gtest/gtest.h>

#include <zlib.h>

#include <cmath>

using namespace pce::rt;
using namespace pce::rt::test;

namespace {

// A smooth random image (JPEG is exact only to a few levels on smooth content).
Image smoothImage(int64_t h, int64_t w, int64_t c) {
  std::uniform_real_distribution<double> u(0, 1);
  double fy[4], fx[4], ph[4];
  for (int k = 0; k < 4; ++k)
    fy[k] = u(rng()) * 0.1, fx[k] = u(rng()) * 0.1, ph[k] = u(rng()) * 6;
  Image img(h, w, c);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t ch = 0; ch < c; ++ch)
        img.at(y, x, ch) = uint8_t(127.5 + 120 * std::sin(fy[ch] * y + fx[ch] * x + ph[ch]));
  return img;
}

Image randomImage(int64_t h, int64_t w, int64_t c) {
  std::uniform_int_distribution<int> byte(0, 255);
  Image img(h, w, c);
  for (uint8_t &p : img.pixels)
    p = uint8_t(byte(rng()));
  return img;
}

double meanAbsDiff(const Image &a, const Image &b) {
  double s = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i)
    s += std::abs(int(a.pixels[i]) - int(b.pixels[i]));
  return s / double(a.pixels.size());
}

std::string decodeError(const std::string &bytes) {
  auto img = decodeImage(bytes, "f.img");
  return img ? std::string() : img.error();
}

// A PNG chunk with its CRC, for hand-made headers.
std::string chunk(const std::string &type, const std::string &data) {
  auto be32 = [](uint32_t v) {
    return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  };
  std::string body = type + data;
  uint32_t crc = uint32_t(crc32(0, reinterpret_cast<const Bytef *>(body.data()), uInt(body.size())));
  return be32(uint32_t(data.size())) + body + be32(crc);
}

} // namespace

TEST(ImageCodec, JpegRoundTripsRgbAndGrayOfSeveralSizes) {
  for (auto [h, w, c] : {std::tuple{64, 64, 3}, {17, 33, 3}, {40, 9, 1}, {1, 1, 3}}) {
    Image img = smoothImage(h, w, c);
    auto bytes = encodeJpeg(img, 95);
    ASSERT_TRUE(bytes) << bytes.error();
    auto back = decodeJpeg(*bytes, "x.jpg");
    ASSERT_TRUE(back) << back.error();
    EXPECT_EQ(back->height, h);
    EXPECT_EQ(back->width, w);
    EXPECT_EQ(back->channels, c);
    EXPECT_LT(meanAbsDiff(img, *back), 3.0) << h << "x" << w << "x" << c;
    auto viaDispatch = decodeImage(*bytes, "x.jpg");
    ASSERT_TRUE(viaDispatch);
    EXPECT_EQ(viaDispatch->pixels, back->pixels);
  }
}

TEST(ImageCodec, PngRoundTripsExactlyForEveryChannelCount) {
  for (int64_t c = 1; c <= 4; ++c) {
    Image img = randomImage(13, 21, c);
    auto bytes = encodePng(img);
    ASSERT_TRUE(bytes) << bytes.error();
    auto back = decodePng(*bytes, "x.png");
    ASSERT_TRUE(back) << back.error();
    EXPECT_EQ(back->channels, c);
    EXPECT_EQ(back->pixels, img.pixels);
  }
}

TEST(ImageCodec, PalettePngKeepsIndicesAndExpandsToItsColours) {
  std::vector<std::array<uint8_t, 3>> palette(256);
  for (int i = 0; i < 256; ++i)
    palette[size_t(i)] = {uint8_t(i), uint8_t(255 - i), uint8_t(i * 7)};
  Image indices = randomImage(19, 11, 1);
  auto bytes = encodePalettePng(indices, palette);
  ASSERT_TRUE(bytes) << bytes.error();
  auto back = decodePngIndices(*bytes, "m.png");
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->pixels, indices.pixels);
  auto rgb = decodePng(*bytes, "m.png");
  ASSERT_TRUE(rgb);
  ASSERT_EQ(rgb->channels, 3);
  for (size_t p = 0; p < indices.pixels.size(); ++p)
    for (int c = 0; c < 3; ++c)
      ASSERT_EQ(rgb->pixels[3 * p + size_t(c)], palette[indices.pixels[p]][size_t(c)]);
  // A small palette packs indices below 8 bits; they still come back as bytes.
  Image small(5, 7, 1);
  for (size_t i = 0; i < small.pixels.size(); ++i)
    small.pixels[i] = uint8_t(i % 3);
  auto packed = encodePalettePng(small, {{0, 0, 0}, {1, 1, 1}, {2, 2, 2}});
  ASSERT_TRUE(packed);
  auto unpacked = decodePngIndices(*packed, "s.png");
  ASSERT_TRUE(unpacked) << unpacked.error();
  EXPECT_EQ(unpacked->pixels, small.pixels);
}

TEST(ImageCodec, IndicesOfANonPaletteImageAreAnError) {
  auto bytes = encodePng(randomImage(4, 4, 3));
  ASSERT_TRUE(bytes);
  auto back = decodePngIndices(*bytes, "rgb.png");
  ASSERT_FALSE(back);
  EXPECT_CONTAINS(back.error(), "rgb.png");
  EXPECT_CONTAINS(back.error(), "palette");
}

TEST(ImageCodec, TruncatedFilesAreErrorsWithAnOffset) {
  auto jpeg = encodeJpeg(smoothImage(48, 48, 3));
  auto png = encodePng(randomImage(48, 48, 3));
  ASSERT_TRUE(jpeg && png);
  for (size_t keep : {size_t(0), size_t(2), size_t(40), jpeg->size() / 2, jpeg->size() - 2}) {
    std::string e = decodeJpeg(jpeg->substr(0, keep), "cut.jpg").error();
    EXPECT_CONTAINS(e, "cut.jpg: byte ");
    EXPECT_CONTAINS(e, "not a valid JPEG");
  }
  for (size_t keep : {size_t(8), size_t(30), png->size() / 2, png->size() - 4}) {
    std::string e = decodePng(png->substr(0, keep), "cut.png").error();
    EXPECT_CONTAINS(e, "cut.png: byte ");
    EXPECT_CONTAINS(e, "not a valid PNG");
  }
}

TEST(ImageCodec, DamagedPixelDataIsAnError) {
  auto png = encodePng(randomImage(32, 32, 3));
  ASSERT_TRUE(png);
  std::string bad = *png;
  size_t idat = bad.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  bad[idat + 20] = char(bad[idat + 20] ^ 0x5A); // the CRC no longer matches
  EXPECT_CONTAINS(decodePng(bad, "crc.png").error(), "crc.png: byte ");
  // A JPEG whose scan ends half way in an end-of-image marker (JPEG has no
  // checksum: overwritten entropy-coded bytes can decode to other pixels
  // without any sign, so only a structural break is certain to be caught).
  auto jpeg = encodeJpeg(smoothImage(64, 64, 3));
  ASSERT_TRUE(jpeg);
  std::string j = jpeg->substr(0, jpeg->size() / 2) + "\xFF\xD9";
  EXPECT_CONTAINS(decodeJpeg(j, "eoi.jpg").error(), "eoi.jpg: byte ");
}

TEST(ImageCodec, LyingSizesAreRefusedBeforeAllocating) {
  // IHDR claiming 2^20 x 2^20 pixels, with a valid CRC.
  std::string ihdr{"\x00\x10\x00\x00\x00\x10\x00\x00\x08\x02\x00\x00\x00", 13};
  std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr);
  std::string e = decodePng(png, "big.png").error();
  EXPECT_CONTAINS(e, "big.png: byte ");
  // A JPEG whose frame header says 65000 x 65000.
  auto jpeg = encodeJpeg(smoothImage(16, 16, 3));
  ASSERT_TRUE(jpeg);
  std::string j = *jpeg;
  size_t sof = j.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  j[sof + 5] = char(0xFD), j[sof + 6] = char(0xE8), j[sof + 7] = char(0xFD), j[sof + 8] = char(0xE8);
  e = decodeJpeg(j, "big.jpg").error();
  EXPECT_CONTAINS(e, "big.jpg");
  EXPECT_CONTAINS(e, "larger than the limit");
}

TEST(ImageCodec, UnknownBytesAreNamed) {
  EXPECT_CONTAINS(decodeError(""), "f.img: byte 0: neither a JPEG");
  EXPECT_CONTAINS(decodeError("GIF89a......"), "neither a JPEG (FF D8 FF) nor a PNG");
  auto missing = readImageFile("/nonexistent/dir/a.jpg");
  ASSERT_FALSE(missing);
  EXPECT_CONTAINS(missing.error(), "/nonexistent/dir/a.jpg");
}

TEST(ImageCodec, EncodersRefuseWhatTheyCannotWrite) {
  EXPECT_FALSE(encodeJpeg(randomImage(4, 4, 4)));
  EXPECT_FALSE(encodeJpeg(randomImage(4, 4, 3), 0));
  EXPECT_FALSE(encodePng(Image()));
  Image idx(2, 2, 1, 5);
  auto e = encodePalettePng(idx, {{0, 0, 0}});
  ASSERT_FALSE(e);
  EXPECT_CONTAINS(e.error(), "index 5 has no palette entry");
}
