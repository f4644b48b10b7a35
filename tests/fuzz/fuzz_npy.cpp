// .npy files (core/npy.h): whatever the bytes, load_npy returns a tensor or
// throws mpq::Error; any other exception, a crash, a leak, undefined
// behaviour or an allocation past libFuzzer's -malloc_limit_mb is a finding.
// A tensor that loads is written back and must load to the same bytes.
#include <cstring>

#include "core/error.h"
#include "core/npy.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mpq;
  Tensor t;
  try {
    t = load_npy(fuzz::as_file(data, size, ".npy"));
  } catch (const Error&) {
    return 0;
  }
  const std::string again = npy_bytes(t);
  const std::string& path =
      fuzz::as_file(reinterpret_cast<const std::uint8_t*>(again.data()), again.size(), ".npy");
  const Tensor back = load_npy(path);  // what mpq writes it must read
  if (back.shape() != t.shape() || back.dtype() != t.dtype() ||
      std::memcmp(back.raw_data(), t.raw_data(),
                  static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype())) != 0)
    __builtin_trap();
  return 0;
}
