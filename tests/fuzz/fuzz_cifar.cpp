// CIFAR binary records (data/cifar.h), both layouts: CIFAR-10's
// <label><3072 pixels> and CIFAR-100's <coarse><fine><3072 pixels>.
#include "core/error.h"
#include "data/cifar.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = mpq::fuzz::as_file(data, size, ".bin");
  try {
    mpq::data::read_cifar10_file(path);
  } catch (const mpq::Error&) {
  }
  try {
    mpq::data::read_cifar100_file(path);
  } catch (const mpq::Error&) {
  }
  return 0;
}
