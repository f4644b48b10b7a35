// Caching CPU allocator.
//
// Every block is 64-byte aligned (one cache line, the widest AVX-512 load).
// Freed blocks are kept in a free list per size class and handed out again to
// the next request of the same class, so a training loop that allocates the
// same activation shapes every step stops calling the system allocator after
// its first step.
//
// Size classes: a request is rounded up to a multiple of 64 bytes below 4 KiB,
// and above that to a multiple of 1/8 of its power-of-two bracket (at most
// 12.5% waste), so shapes that differ slightly still share a class.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mpq {

struct AllocatorStats {
  std::size_t bytes_in_use = 0;  // handed out and not yet freed (size-class bytes)
  std::size_t peak_bytes_in_use = 0;
  std::size_t bytes_cached = 0;   // freed blocks held for reuse
  std::uint64_t allocations = 0;  // calls to allocate()
  std::uint64_t cache_hits = 0;   // allocations served from the cache
  std::uint64_t system_allocations = 0;
};

class CpuAllocator {
 public:
  static CpuAllocator& instance();

  void* allocate(std::size_t nbytes);
  void deallocate(void* ptr, std::size_t nbytes);

  AllocatorStats stats() const;
  void reset_peak();
  // Returns every cached block to the system.
  void empty_cache();

  static std::size_t size_class(std::size_t nbytes);
  static constexpr std::size_t kAlignment = 64;

  CpuAllocator(const CpuAllocator&) = delete;
  CpuAllocator& operator=(const CpuAllocator&) = delete;
  ~CpuAllocator();

  struct Impl;  // defined in allocator.cpp

 private:
  CpuAllocator() = default;
  Impl* impl();
  const Impl* impl() const;
};

}  // namespace mpq
