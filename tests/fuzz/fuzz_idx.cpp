// IDX files, plain or gzipped (data/idx.h): read_idx returns or throws mpq::Error.
#include "core/error.h"
#include "data/idx.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    mpq::data::read_idx(mpq::fuzz::as_file(data, size, "-idx"));
  } catch (const mpq::Error&) {
  }
  return 0;
}
