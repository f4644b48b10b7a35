#include "core/storage.h"

#include "core/allocator.h"
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
  if (!device.is_cpu()) {
    MPQ_CHECK(cuda_built(), "Storage: cannot allocate on ", device.str(),
              ": this build of mpq has no CUDA backend (configure with -DMPQ_CUDA=ON)");
    MPQ_FAIL("Storage: the CUDA backend is not implemented yet; cannot allocate on ", device.str());
  }
  data_ = CpuAllocator::instance().allocate(nbytes);
}

Storage::~Storage() {
  if (device_.is_cpu()) CpuAllocator::instance().deallocate(data_, nbytes_);
}

}  // namespace mpq
