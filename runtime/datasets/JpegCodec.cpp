//===- JpegCodec.cpp - JPEG through libjpeg-turbo -------------------------===//
//
// libjpeg reports errors by calling error_exit, which must not return: we
// longjmp back to the entry point. Everything that lives across the setjmp
// is on the heap behind a pointer that is not modified after it (the rule
// for automatic objects and longjmp), and holds no resource that needs a
// destructor to run at the jump.
//
//===----------------------------------------------------------------------===//

#include "runtime/datasets/ImageCodec.h"

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <jpeglib.h>

namespace pce::rt {

namespace {

struct JpegState {
  jpeg_error_mgr mgr; // first: libjpeg's err pointer is cast back to JpegState
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = "";
  Image image;
  unsigned char *buffer = nullptr; // the encoder's output (malloc'ed by libjpeg)
  unsigned long size = 0;
};

[[noreturn]] void jumpWith(JpegState *st, const char *message) {
  std::snprintf(st->message, sizeof st->message, "%s", message);
  std::longjmp(st->jump, 1);
}

void onError(j_common_ptr cinfo) {
  auto *st = reinterpret_cast<JpegState *>(cinfo->err);
  char text[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, text);
  jumpWith(st, text);
}

// Warnings (level -1) are data errors: "Premature end of JPEG file",
// "Corrupt JPEG data: N extraneous bytes". Trace messages are ignored.
void onMessage(j_common_ptr cinfo, int level) {
  if (level < 0)
    onError(cinfo);
}

} // namespace

Expected<Image> decodeJpeg(std::string_view bytes, const std::string &source) {
  auto st = std::make_unique<JpegState>();
  jpeg_decompress_struct cinfo;
  std::memset(&cinfo, 0, sizeof cinfo);
  cinfo.err = jpeg_std_error(&st->mgr);
  st->mgr.error_exit = onError;
  st->mgr.emit_message = onMessage;
  if (setjmp(st->jump)) {
    const size_t offset = cinfo.src ? bytes.size() - cinfo.src->bytes_in_buffer : 0;
    jpeg_destroy_decompress(&cinfo);
    return Status::error(source + ": byte " + std::to_string(offset) + ": not a valid JPEG: " + st->message);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char *>(bytes.data()), bytes.size());
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK)
    jumpWith(st.get(), "CMYK JPEGs are not supported (convert the image to RGB)");
  if (int64_t(cinfo.image_width) * cinfo.image_height > kMaxImagePixels) {
    // Formatted in place: a std::string temporary would be alive at the
    // longjmp and never destroyed (a leak the codec fuzzer found).
    std::snprintf(st->message, sizeof st->message, "image of %ux%u pixels is larger than the limit",
                  unsigned(cinfo.image_width), unsigned(cinfo.image_height));
    std::longjmp(st->jump, 1);
  }
  cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  Image &image = st->image;
  image = Image(cinfo.output_height, cinfo.output_width, cinfo.output_components);
  const size_t stride = size_t(image.width) * size_t(image.channels);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = image.pixels.data() + size_t(cinfo.output_scanline) * stride;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return std::move(st->image);
}

Expected<std::string> encodeJpeg(const Image &image, int quality) {
  if (image.channels != 1 && image.channels != 3)
    return Status::error("JPEG: " + std::to_string(image.channels) + " channels (1 or 3 can be encoded)");
  if (image.height <= 0 || image.width <= 0 || image.pixels.size() != size_t(image.height * image.width * image.channels))
    return Status::error("JPEG: the image has no pixels or fewer than its size says");
  if (quality < 1 || quality > 100)
    return Status::error("JPEG: quality " + std::to_string(quality) + " is not in 1..100");
  auto st = std::make_unique<JpegState>();
  jpeg_compress_struct cinfo;
  std::memset(&cinfo, 0, sizeof cinfo);
  cinfo.err = jpeg_std_error(&st->mgr);
  st->mgr.error_exit = onError;
  st->mgr.emit_message = onMessage;
  if (setjmp(st->jump)) {
    jpeg_destroy_compress(&cinfo);
    std::free(st->buffer);
    return Status::error(std::string("JPEG: ") + st->message);
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, &st->buffer, &st->size);
  cinfo.image_width = JDIMENSION(image.width);
  cinfo.image_height = JDIMENSION(image.height);
  cinfo.input_components = int(image.channels);
  cinfo.in_color_space = image.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  const size_t stride = size_t(image.width) * size_t(image.channels);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<uint8_t *>(image.pixels.data()) + size_t(cinfo.next_scanline) * stride;
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  std::string out(reinterpret_cast<const char *>(st->buffer), st->size);
  jpeg_destroy_compress(&cinfo);
  std::free(st->buffer);
  return out;
}

} // namespace pce::rt
