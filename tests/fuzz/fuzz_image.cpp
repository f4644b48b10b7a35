// Images as the ImageFolder reads them (data/image_folder.h: PNG chunk CRCs,
// the pixel cap read from the header, then stb_image for PNG and
// libjpeg-turbo for JPEG; Debian's libjpeg is not instrumented, so ASan sees
// its allocations but not its memory accesses). The cap is 64 K pixels
// here: a header claiming more must be refused before stb allocates, and small
// images keep the executions fast (decoding is the slow part).
#include "core/error.h"
#include "data/image_folder.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    mpq::data::decode_image_bytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz",
                                  1 << 16);
  } catch (const mpq::Error&) {
  }
  return 0;
}
