#include "core/storage.h"

#include "core/allocator.h"
#include "core/cuda/allocator.h"
#include "core/error.h"

namespace mpq {

std::string Device::str() const {
  return type == DeviceType::cpu ? std::string("cpu") : "cuda:" + std::to_string(index);
}

bool cuda_built() {
#ifdef MPQ_WITH_CUDA
  return true;
#else
  return false;
#endif
}

Storage::Storage(std::size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  // Device memory comes from the caching allocator, which names the reason
  // (no backend in this build, no GPU, an index past the last device).
  data_ = device.is_cpu() ? CpuAllocator::instance().allocate(nbytes)
                          : cuda::Allocator::instance().allocate(nbytes, device);
}

Storage::~Storage() {
  if (device_.is_cpu())
    CpuAllocator::instance().deallocate(data_, nbytes_);
  else
    cuda::Allocator::instance().deallocate(data_, nbytes_, device_);
}

}  // namespace mpq
