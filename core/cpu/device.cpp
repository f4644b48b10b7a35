// The CPU's entries in the backend table's device section: memory from the
// caching CpuAllocator (core/allocator.h). Host memory is the CPU's own, so it
// has no host copies and nothing to wait for.
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
  b.empty_cache = [] { CpuAllocator::instance().empty_cache(); };
  b.synchronize = [](Device) {};
});

}  // namespace
}  // namespace mpq::cpu
