// Caching allocator for CUDA device memory (plain cudaMalloc, no managed
// memory).
//
// cudaMalloc and cudaFree are slow and synchronise the device, so a training
// step must not call them: a freed block goes to a free list of its size class
// (the CPU allocator's classes, CpuAllocator::size_class) on its device and is
// handed to the next request of that class. Reuse right after the free is
// safe because every kernel and copy of a device runs on its one stream
// (core/cuda/runtime.h): work queued after the new allocation runs after the
// work that used the block before.
//
// When cudaMalloc runs out of memory, the cache is returned to the driver and
// the request is tried once more; a second failure is an mpq::Error giving
// the request, the bytes in use and what the device has free.
#pragma once

#include <cstddef>

#include "core/allocator.h"
#include "core/device.h"

namespace mpq::cuda {

class Allocator {
 public:
  static Allocator& instance();

  void* allocate(std::size_t nbytes, Device device);
  void deallocate(void* ptr, std::size_t nbytes, Device device);

  AllocatorStats stats(Device device) const;
  void reset_peak(Device device);
  // Returns every cached block of every device to the driver.
  void empty_cache();

  Allocator(const Allocator&) = delete;
  Allocator& operator=(const Allocator&) = delete;

  struct Impl;

 private:
  Allocator() = default;
};

}  // namespace mpq::cuda
