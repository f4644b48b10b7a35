#include "core/storage.h"

#include "core/allocator.h"
#include "core/cuda/allocator.h"
#include "core/cuda/pinned.h"
#include "core/error.h"

namespace mpq {

std::string Device::str() const {
  return type == DeviceType::cpu ? std::string("cpu") : "cuda:" + std::to_string(index);
}

Device Device::parse(const std::string& text) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda(0);
  if (text.rfind("cuda:", 0) == 0 && text.size() > 5 && text.size() < 10 &&
      text.find_first_not_of("0123456789", 5) == std::string::npos)
    return cuda(std::stoi(text.substr(5)));
  MPQ_FAIL("unknown device '", text, "' (expected cpu, cuda or cuda:N)");
}

bool cuda_built() {
#ifdef MPQ_WITH_CUDA
  return true;
#else
  return false;
#endif
}

Storage::Storage(std::size_t nbytes, Device device, bool pinned)
    : nbytes_(nbytes), device_(device) {
  if (pinned && device.is_cpu()) {
    data_ = cuda::pinned_allocate(nbytes);
    pinned_ = data_ != nullptr;
    if (pinned_) return;
  }
  // Device memory comes from the caching allocator, which names the reason
  // (no backend in this build, no GPU, an index past the last device).
  data_ = device.is_cpu() ? CpuAllocator::instance().allocate(nbytes)
                          : cuda::Allocator::instance().allocate(nbytes, device);
}

Storage::~Storage() {
  if (pinned_)
    cuda::pinned_deallocate(data_, nbytes_);
  else if (device_.is_cpu())
    CpuAllocator::instance().deallocate(data_, nbytes_);
  else
    cuda::Allocator::instance().deallocate(data_, nbytes_, device_);
}

}  // namespace mpq
