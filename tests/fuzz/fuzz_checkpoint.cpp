// safetensors checkpoints (train/checkpoint.h): header, offsets, dtypes,
// metadata and the CRC. parse_checkpoint returns or throws mpq::Error.
#include "core/error.h"
#include "train/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    mpq::train::parse_checkpoint(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const mpq::Error&) {
  }
  return 0;
}
