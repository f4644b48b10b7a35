// The CPU's entries in the backend table's device section: memory from the
// caching CpuAllocator (core/allocator.h). Host memory is the CPU's own, so
// its copies are plain memcpy and there is nothing to wait for.
#include <cstring>

#include "core/allocator.h"
#include "core/backend.h"

namespace mpq::cpu {
namespace {

const BackendRegistration registration(DeviceType::cpu, [](Backend& b) {
  b.name = "cpu";
  b.device_count = [](std::string* why_none) {
    if (why_none) why_none->clear();
    return 1;
  };
  b.allocate = [](std::size_t nbytes, Device) { return CpuAllocator::instance().allocate(nbytes); };
  b.deallocate = [](void* p, std::size_t nbytes, Device) {
    CpuAllocator::instance().deallocate(p, nbytes);
  };
  b.memory_stats = [](Device) { return CpuAllocator::instance().stats(); };
  b.reset_peak_memory = [](Device) { CpuAllocator::instance().reset_peak(); };
  b.empty_cache = [] { CpuAllocator::instance().empty_cache(); };
  b.copy_from_host = [](void* dst, const void* src, std::size_t nbytes, Device, bool) {
    if (nbytes > 0) std::memcpy(dst, src, nbytes);
  };
  b.copy_to_host = [](void* dst, const void* src, std::size_t nbytes, Device) {
    if (nbytes > 0) std::memcpy(dst, src, nbytes);
  };
  b.synchronize = [](Device) {};
});

}  // namespace
}  // namespace mpq::cpu
