// Integer model files (deploy/model_file.h): magic, version, CRC, the JSON
// graph and the packed data; a file that parses must also be accepted by the
// engine's constructor or refused with mpq::Error. Every input is tried as
// it is and with its trailing CRC-32 recomputed, so that mutations reach the
// header and data parsers instead of stopping at the checksum.
#include <zlib.h>

#include <string>

#include "core/error.h"
#include "deploy/engine.h"
#include "deploy/model_file.h"

namespace {
void try_parse(const std::string& bytes) {
  try {
    mpq::deploy::IntegerModel m = mpq::deploy::parse_model_file(bytes, "fuzz");
    mpq::deploy::Engine engine(std::move(m));
  } catch (const mpq::Error&) {
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  try_parse(bytes);
  if (size >= 4) {
    const auto crc = static_cast<std::uint32_t>(crc32(
        crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(data), static_cast<uInt>(size - 4)));
    for (int k = 0; k < 4; ++k)
      bytes[size - 4 + static_cast<std::size_t>(k)] = static_cast<char>((crc >> (8 * k)) & 0xff);
    try_parse(bytes);
  }
  return 0;
}
