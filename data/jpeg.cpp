#include "data/jpeg.h"

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

// jpeglib.h needs FILE and size_t declared first.
#include <jerror.h>
#include <jpeglib.h>

#include "core/error.h"

namespace mpq::data {

namespace {

// libjpeg reports errors through error_exit, which must not return: it
// longjmps back to decode_raw. Between setjmp and longjmp decode_raw holds
// nothing with a destructor (the pixels are a malloc'ed buffer it frees on
// both paths), so no C++ object's destructor is skipped.
struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_error(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}

// Warnings (level -1) about corrupt data are tolerated as libjpeg does,
// except a premature end of file: its missing rows would be decoded as grey.
void on_message(j_common_ptr cinfo, int level) {
  if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) on_error(cinfo);
}

enum class Outcome { ok, error, too_large };

struct Raw {
  unsigned char* pixels = nullptr;  // malloc'ed, H x W x components
  int width = 0, height = 0, components = 0;
  bool cmyk = false, inverted = false;
};

Outcome decode_raw(const unsigned char* data, std::size_t size, std::int64_t max_pixels, Raw* out,
                   char* message) {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.emit_message = on_message;
  unsigned char* volatile pixels = nullptr;
  if (setjmp(err.jump)) {
    std::free(pixels);
    jpeg_destroy_decompress(&cinfo);
    std::memcpy(message, err.message, JMSG_LENGTH_MAX);
    return Outcome::error;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  out->width = static_cast<int>(cinfo.image_width);
  out->height = static_cast<int>(cinfo.image_height);
  if (static_cast<std::int64_t>(cinfo.image_width) * cinfo.image_height > max_pixels) {
    jpeg_destroy_decompress(&cinfo);
    return Outcome::too_large;
  }
  out->cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  out->inverted = out->cmyk && cinfo.saw_Adobe_marker;
  cinfo.out_color_space = out->cmyk ? JCS_CMYK : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  out->components = cinfo.output_components;
  const std::size_t row = static_cast<std::size_t>(cinfo.output_width) * out->components;
  pixels = static_cast<unsigned char*>(std::malloc(row * cinfo.output_height));
  if (pixels == nullptr) {
    jpeg_destroy_decompress(&cinfo);
    std::snprintf(message, JMSG_LENGTH_MAX, "out of memory");
    return Outcome::error;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW rowp = pixels + row * cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &rowp, 1);
  }
  jpeg_finish_decompress(&cinfo);
  out->width = static_cast<int>(cinfo.output_width);
  out->height = static_cast<int>(cinfo.output_height);
  jpeg_destroy_decompress(&cinfo);
  out->pixels = pixels;
  return Outcome::ok;
}

}  // namespace

Tensor decode_jpeg(const std::string& bytes, const std::string& name, std::int64_t max_pixels) {
  Raw raw;
  char message[JMSG_LENGTH_MAX] = {0};
  const Outcome outcome = decode_raw(reinterpret_cast<const unsigned char*>(bytes.data()),
                                     bytes.size(), max_pixels, &raw, message);
  MPQ_CHECK(outcome != Outcome::error, "decode_image: cannot decode '", name,
            "' (libjpeg: ", message, ")");
  MPQ_CHECK(outcome != Outcome::too_large, "decode_image: '", name, "' is ", raw.width, "x",
            raw.height, " pixels, more than the limit of ", max_pixels,
            " (imagenet's --max-image-pixels raises it)");
  std::unique_ptr<unsigned char, void (*)(void*)> owned(raw.pixels, std::free);
  const std::int64_t h = raw.height, w = raw.width, n = h * w;
  MPQ_CHECK(n > 0, "decode_image: '", name, "' has an empty image ", w, "x", h);
  Tensor out = empty({3, h, w}, DType::u8);
  std::uint8_t* o = out.data<std::uint8_t>();
  const unsigned char* p = raw.pixels;
  if (raw.cmyk) {
    // RGB = (1 - C)(1 - K) etc. in [0, 1]; Adobe files store C, M, Y, K
    // inverted (255 - value), so their bytes are already 1 - C and 1 - K.
    for (std::int64_t k = 0; k < n; ++k) {
      const unsigned char* q = p + 4 * k;
      const int kk = raw.inverted ? q[3] : 255 - q[3];
      for (int c = 0; c < 3; ++c) {
        const int v = raw.inverted ? q[c] : 255 - q[c];
        o[c * n + k] = static_cast<std::uint8_t>((v * kk + 127) / 255);
      }
    }
  } else {
    // (H, W, 3) interleaved to planar [3, H, W].
    for (std::int64_t k = 0; k < n; ++k)
      for (int c = 0; c < 3; ++c) o[c * n + k] = p[3 * k + c];
  }
  return out;
}

}  // namespace mpq::data
