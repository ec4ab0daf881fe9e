//===- PngCodec.cpp - PNG through libpng, and the format dispatch ---------===//
//
// libpng's full API (not png_image) so a palette mask can be read as its
// indices and every error can say how far into the file it happened. As in
// JpegCodec.cpp, state that lives across setjmp is on the heap.
//
//===----------------------------------------------------------------------===//

#include "runtime/datasets/ImageCodec.h"

#include "runtime/FileIO.h"
#include "runtime/Failure.h"

#include <csetjmp>
#include <cstring>
#include <memory>

#include <png.h>

namespace pce::rt {

namespace {

constexpr uint32_t kMaxPngSide = 1u << 20;

struct PngState {
  std::string_view bytes; // reading
  size_t offset = 0;
  std::string out;        // writing
  std::string message;
  Image image;
  std::vector<png_bytep> rows;
};

void onPngError(png_structp png, png_const_charp message) {
  static_cast<PngState *>(png_get_error_ptr(png))->message = message;
  png_longjmp(png, 1);
}
// Warnings concern ancillary chunks (a bad iCCP profile, a damaged tEXt),
// which libpng skips; pixels are still exact, so they are not errors.
void onPngWarning(png_structp, png_const_charp) {}

void readBytes(png_structp png, png_bytep into, png_size_t n) {
  auto *st = static_cast<PngState *>(png_get_io_ptr(png));
  if (st->bytes.size() - st->offset < n)
    png_error(png, "unexpected end of file (truncated)");
  std::memcpy(into, st->bytes.data() + st->offset, n);
  st->offset += n;
}

void writeBytesFn(png_structp png, png_bytep data, png_size_t n) {
  static_cast<PngState *>(png_get_io_ptr(png))->out.append(reinterpret_cast<const char *>(data), n);
}
void flushNothing(png_structp) {}

Expected<Image> decode(std::string_view bytes, const std::string &source, bool indices) {
  auto st = std::make_unique<PngState>();
  st->bytes = bytes;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, st.get(), onPngError, onPngWarning);
  if (!png)
    return Status::error(source + ": libpng could not start");
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    return Status::error(source + ": libpng could not start");
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return Status::error(source + ": byte " + std::to_string(st->offset) + ": not a valid PNG: " + st->message);
  }
  png_set_read_fn(png, st.get(), readBytes);
  png_set_user_limits(png, kMaxPngSide, kMaxPngSide);
  png_read_info(png, info);
  png_uint_32 width = 0, height = 0;
  int depth = 0, colour = 0;
  png_get_IHDR(png, info, &width, &height, &depth, &colour, nullptr, nullptr, nullptr);
  if (int64_t(width) * height > kMaxImagePixels)
    png_error(png, "image larger than the limit");
  if (indices) {
    if (colour != PNG_COLOR_TYPE_PALETTE)
      png_error(png, "expected a palette image (colour type 3) of class indices");
    if (depth < 8)
      png_set_packing(png);
  } else {
    if (colour == PNG_COLOR_TYPE_PALETTE)
      png_set_palette_to_rgb(png);
    if (colour == PNG_COLOR_TYPE_GRAY && depth < 8)
      png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS))
      png_set_tRNS_to_alpha(png);
    if (depth == 16)
      png_set_strip_16(png);
  }
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const int channels = png_get_channels(png, info);
  st->image = Image(height, width, channels);
  if (png_get_rowbytes(png, info) != size_t(width) * size_t(channels))
    png_error(png, "unexpected row size after conversion to 8 bits");
  st->rows.resize(height);
  for (png_uint_32 y = 0; y < height; ++y)
    st->rows[y] = st->image.pixels.data() + size_t(y) * width * channels;
  png_read_image(png, st->rows.data());
  png_read_end(png, nullptr); // checks the chunks after the pixels, IEND included
  png_destroy_read_struct(&png, &info, nullptr);
  return std::move(st->image);
}

Expected<std::string> encode(const Image &image, const std::vector<std::array<uint8_t, 3>> *palette) {
  static const int kColour[] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                PNG_COLOR_TYPE_RGB_ALPHA};
  if (image.channels < 1 || image.channels > 4 || (palette && image.channels != 1))
    return Status::error("PNG: cannot encode " + std::to_string(image.channels) + " channels" +
                         (palette ? " as palette indices (1 channel)" : ""));
  if (image.height <= 0 || image.width <= 0 || image.pixels.size() != size_t(image.height * image.width * image.channels))
    return Status::error("PNG: the image has no pixels or fewer than its size says");
  if (palette) {
    if (palette->empty() || palette->size() > 256)
      return Status::error("PNG: a palette has 1..256 entries, not " + std::to_string(palette->size()));
    for (uint8_t v : image.pixels)
      if (v >= palette->size())
        return Status::error("PNG: index " + std::to_string(v) + " has no palette entry (" +
                             std::to_string(palette->size()) + " entries)");
  }
  auto st = std::make_unique<PngState>();
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, st.get(), onPngError, onPngWarning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!info) {
    png_destroy_write_struct(&png, nullptr);
    return Status::error("PNG: libpng could not start");
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return Status::error("PNG: " + st->message);
  }
  png_set_write_fn(png, st.get(), writeBytesFn, flushNothing);
  png_set_IHDR(png, info, png_uint_32(image.width), png_uint_32(image.height), 8,
               palette ? PNG_COLOR_TYPE_PALETTE : kColour[image.channels], PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (palette) {
    std::vector<png_color> entries;
    for (const auto &c : *palette)
      entries.push_back(png_color{c[0], c[1], c[2]});
    png_set_PLTE(png, info, entries.data(), int(entries.size()));
  }
  png_write_info(png, info);
  st->rows.resize(size_t(image.height));
  for (int64_t y = 0; y < image.height; ++y)
    st->rows[size_t(y)] = const_cast<png_bytep>(image.pixels.data()) + size_t(y * image.width * image.channels);
  png_write_image(png, st->rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return std::move(st->out);
}

} // namespace

Expected<Image> decodePng(std::string_view bytes, const std::string &source) { return decode(bytes, source, false); }
Expected<Image> decodePngIndices(std::string_view bytes, const std::string &source) {
  return decode(bytes, source, true);
}
Expected<std::string> encodePng(const Image &image) { return encode(image, nullptr); }
Expected<std::string> encodePalettePng(const Image &indices, const std::vector<std::array<uint8_t, 3>> &palette) {
  return encode(indices, &palette);
}

Expected<Image> decodeImage(std::string_view bytes, const std::string &source) {
  static const char kPng[] = "\x89PNG\r\n\x1a\n";
  if (bytes.size() >= 3 && uint8_t(bytes[0]) == 0xFF && uint8_t(bytes[1]) == 0xD8 && uint8_t(bytes[2]) == 0xFF)
    return decodeJpeg(bytes, source);
  if (bytes.size() >= 8 && bytes.compare(0, 8, std::string_view(kPng, 8)) == 0)
    return decodePng(bytes, source);
  return Status::error(source + ": byte 0: neither a JPEG (FF D8 FF) nor a PNG signature");
}

Expected<Image> readImageFile(const std::string &path) {
  std::string bytes;
  try {
    bytes = detail::readWholeFile(path);
  } catch (...) {
    return detail::statusFromCurrentException();
  }
  return decodeImage(bytes, path);
}

Status writeBytes(const std::string &path, const std::string &bytes) {
  try {
    detail::writeFileAtomic(path, {{bytes.data(), bytes.size()}});
  } catch (...) {
    return detail::statusFromCurrentException();
  }
  return Status::success();
}

} // namespace pce::rt
