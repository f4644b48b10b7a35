#include "core/cuda/allocator.h"

#include <map>
#include <mutex>
#include <vector>

#include "core/backend.h"
#include "core/cuda/runtime.h"
#include "core/error.h"

#include "core/cuda/check.cuh"

namespace mpq::cuda {

struct Allocator::Impl {
  struct PerDevice {
    std::map<std::size_t, std::vector<void*>> free;  // size class -> cached blocks
    AllocatorStats stats;
  };
  mutable std::mutex mutex;
  std::map<int, PerDevice> devices;
};

namespace {
Allocator::Impl& impl() {
  static auto* i = new Allocator::Impl;  // outlives tensors destroyed during static destruction
  return *i;
}
}  // namespace

Allocator& Allocator::instance() {
  static Allocator a;
  return a;
}

namespace {
// Frees every cached block of one device; the caller holds the mutex.
void release_cached(int index, Allocator::Impl::PerDevice& d) {
  MPQ_CUDA_CHECK(cudaSetDevice(index));
  for (auto& [cls, blocks] : d.free) {
    for (void* p : blocks) MPQ_CUDA_CHECK(cudaFree(p));
    d.stats.bytes_cached -= cls * blocks.size();
    blocks.clear();
  }
}
}  // namespace

void* Allocator::allocate(std::size_t nbytes, Device device) {
  require(device, "cuda::Allocator::allocate");
  const std::size_t cls = CpuAllocator::size_class(nbytes == 0 ? 1 : nbytes);
  Impl& im = impl();
  std::lock_guard<std::mutex> lock(im.mutex);
  Impl::PerDevice& d = im.devices[device.index];
  ++d.stats.allocations;
  void* p = nullptr;
  auto it = d.free.find(cls);
  if (it != d.free.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    d.stats.bytes_cached -= cls;
    ++d.stats.cache_hits;
  } else {
    MPQ_CUDA_CHECK(cudaSetDevice(device.index));
    cudaError_t e = cudaMalloc(&p, cls);
    if (e == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      // Give the cache back and try once more; queued kernels may still read
      // the cached blocks, so they finish first.
      MPQ_CUDA_CHECK(cudaStreamSynchronize(stream(device)));
      release_cached(device.index, d);
      e = cudaMalloc(&p, cls);
    }
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      std::size_t free_b = 0, total_b = 0;
      (void)cudaMemGetInfo(&free_b, &total_b);
      MPQ_FAIL("CUDA out of memory on ", device.str(), ": cannot allocate ", cls, " bytes (",
               cudaGetErrorString(e), "); mpq holds ", d.stats.bytes_in_use,
               " bytes in tensors, the device has ", free_b, " of ", total_b, " bytes free");
    }
    ++d.stats.system_allocations;
  }
  d.stats.bytes_in_use += cls;
  if (d.stats.bytes_in_use > d.stats.peak_bytes_in_use)
    d.stats.peak_bytes_in_use = d.stats.bytes_in_use;
  return p;
}

void Allocator::deallocate(void* ptr, std::size_t nbytes, Device device) {
  if (!ptr) return;
  const std::size_t cls = CpuAllocator::size_class(nbytes == 0 ? 1 : nbytes);
  Impl& im = impl();
  std::lock_guard<std::mutex> lock(im.mutex);
  Impl::PerDevice& d = im.devices[device.index];
  d.free[cls].push_back(ptr);
  d.stats.bytes_in_use -= cls;
  d.stats.bytes_cached += cls;
}

void Allocator::empty_cache() {
  Impl& im = impl();
  std::lock_guard<std::mutex> lock(im.mutex);
  for (auto& [index, d] : im.devices) {
    // Blocks freed by tensors may still be read by queued kernels.
    cuda::synchronize(Device::cuda(index));
    release_cached(index, d);
  }
}

AllocatorStats Allocator::stats(Device device) const {
  Impl& im = impl();
  std::lock_guard<std::mutex> lock(im.mutex);
  auto it = im.devices.find(device.index);
  return it == im.devices.end() ? AllocatorStats{} : it->second.stats;
}

void Allocator::reset_peak(Device device) {
  Impl& im = impl();
  std::lock_guard<std::mutex> lock(im.mutex);
  auto& s = im.devices[device.index].stats;
  s.peak_bytes_in_use = s.bytes_in_use;
}

namespace {
const BackendRegistration registration(DeviceType::cuda, [](Backend& b) {
  b.allocate = [](std::size_t nbytes, Device device) {
    return Allocator::instance().allocate(nbytes, device);
  };
  b.deallocate = [](void* p, std::size_t nbytes, Device device) {
    Allocator::instance().deallocate(p, nbytes, device);
  };
  b.memory_stats = [](Device device) { return Allocator::instance().stats(device); };
  b.empty_cache = [] { Allocator::instance().empty_cache(); };
});
}  // namespace

}  // namespace mpq::cuda
