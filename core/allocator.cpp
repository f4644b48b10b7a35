#include "core/allocator.h"

#include <bit>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "core/error.h"

namespace mpq {

struct CpuAllocator::Impl {
  mutable std::mutex mutex;
  std::unordered_map<std::size_t, std::vector<void*>> free_blocks;
  AllocatorStats stats;
};

namespace {
CpuAllocator::Impl& global_impl() {
  // Leaked on purpose: tensors held by static objects may be freed after main
  // returns, and must still find the allocator alive.
  static auto* impl = new CpuAllocator::Impl();
  return *impl;
}
}  // namespace

CpuAllocator::Impl* CpuAllocator::impl() {
  return &global_impl();
}
const CpuAllocator::Impl* CpuAllocator::impl() const {
  return &global_impl();
}

CpuAllocator& CpuAllocator::instance() {
  static CpuAllocator allocator;
  return allocator;
}

CpuAllocator::~CpuAllocator() = default;

std::size_t CpuAllocator::size_class(std::size_t nbytes) {
  if (nbytes == 0) nbytes = 1;
  if (nbytes <= 4096) return (nbytes + kAlignment - 1) / kAlignment * kAlignment;
  // Bracket [2^k, 2^(k+1)) split into 8 steps of 2^(k-3).
  const std::size_t top = std::bit_floor(nbytes);
  const std::size_t step = top / 8;
  return (nbytes + step - 1) / step * step;
}

void* CpuAllocator::allocate(std::size_t nbytes) {
  const std::size_t cls = size_class(nbytes);
  Impl& s = *impl();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    ++s.stats.allocations;
    auto it = s.free_blocks.find(cls);
    if (it != s.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      ++s.stats.cache_hits;
      s.stats.bytes_cached -= cls;
      s.stats.bytes_in_use += cls;
      if (s.stats.bytes_in_use > s.stats.peak_bytes_in_use)
        s.stats.peak_bytes_in_use = s.stats.bytes_in_use;
      return p;
    }
  }
  void* p = std::aligned_alloc(kAlignment, cls);
  if (p == nullptr) {
    // Out of memory: give the cache back to the system and try once more.
    empty_cache();
    p = std::aligned_alloc(kAlignment, cls);
  }
  MPQ_CHECK(p != nullptr, "CpuAllocator: out of memory allocating ", nbytes, " bytes");
  std::lock_guard<std::mutex> lock(s.mutex);
  ++s.stats.system_allocations;
  s.stats.bytes_in_use += cls;
  if (s.stats.bytes_in_use > s.stats.peak_bytes_in_use)
    s.stats.peak_bytes_in_use = s.stats.bytes_in_use;
  return p;
}

void CpuAllocator::deallocate(void* ptr, std::size_t nbytes) {
  if (ptr == nullptr) return;
  const std::size_t cls = size_class(nbytes);
  Impl& s = *impl();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.free_blocks[cls].push_back(ptr);
  s.stats.bytes_in_use -= cls;
  s.stats.bytes_cached += cls;
}

AllocatorStats CpuAllocator::stats() const {
  const Impl& s = *impl();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.stats;
}

void CpuAllocator::reset_peak() {
  Impl& s = *impl();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.stats.peak_bytes_in_use = s.stats.bytes_in_use;
}

void CpuAllocator::empty_cache() {
  Impl& s = *impl();
  std::lock_guard<std::mutex> lock(s.mutex);
  for (auto& [cls, blocks] : s.free_blocks) {
    for (void* p : blocks) std::free(p);
  }
  s.free_blocks.clear();
  s.stats.bytes_cached = 0;
}

}  // namespace mpq
