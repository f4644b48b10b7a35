// JPEG decoding through libjpeg-turbo (data/image_folder.h's decode_image
// uses it for every JPEG). Not stb_image: Debian's stb_image 2.27 has
// undefined behaviour on corrupt JPEGs that fuzzing found (an out-of-bounds
// write in its Huffman table builder, oversized shifts in its bit reader);
// libjpeg-turbo is fuzzed continuously upstream, and faster.
#pragma once

#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace mpq::data {

// Decodes JPEG bytes into uint8 [3, H, W] (greyscale replicated, CMYK and
// YCCK converted, Adobe's inverted CMYK included). Throws mpq::Error naming
// `name` and libjpeg's reason for a corrupt or truncated file (a truncated
// file is an error, not grey rows), or when the header's W x H exceeds
// max_pixels, checked before anything is decoded.
Tensor decode_jpeg(const std::string& bytes, const std::string& name, std::int64_t max_pixels);

}  // namespace mpq::data
