#include "test_util.h"

#include "core/allocator.h"

using namespace mpq;

TEST_CASE("allocator: size classes", "[allocator]") {
  CHECK(CpuAllocator::size_class(1) == 64);
  CHECK(CpuAllocator::size_class(64) == 64);
  CHECK(CpuAllocator::size_class(65) == 128);
  CHECK(CpuAllocator::size_class(4096) == 4096);
  CHECK(CpuAllocator::size_class(4097) == 4096 + 512);
  CHECK(CpuAllocator::size_class(1000000) % 65536 == 0);
  // Never more than 12.5% waste above 4 KiB.
  for (std::size_t n : {5000u, 70000u, 1234567u, 99999999u}) {
    CHECK(CpuAllocator::size_class(n) >= n);
    CHECK(CpuAllocator::size_class(n) <= n + n / 8 + 1);
  }
}

TEST_CASE("allocator: freed blocks are reused and statistics add up", "[allocator]") {
  auto& a = CpuAllocator::instance();
  const AllocatorStats s0 = a.stats();
  void* p = a.allocate(100000);
  CHECK(reinterpret_cast<std::uintptr_t>(p) % 64 == 0);
  const AllocatorStats s1 = a.stats();
  CHECK(s1.bytes_in_use == s0.bytes_in_use + CpuAllocator::size_class(100000));
  CHECK(s1.peak_bytes_in_use >= s1.bytes_in_use);
  a.deallocate(p, 100000);
  CHECK(a.stats().bytes_in_use == s0.bytes_in_use);
  // Same size class (100000 and 99000 share one) comes back from the cache.
  const auto hits = a.stats().cache_hits;
  void* q = a.allocate(99000);
  CHECK(q == p);
  CHECK(a.stats().cache_hits == hits + 1);
  a.deallocate(q, 99000);

  // Tensors go through the allocator: a training-like loop stops allocating
  // from the system after its first iteration.
  const auto sys0 = a.stats().system_allocations;
  for (int i = 0; i < 5; ++i) {
    Tensor x = ones({64, 100});
    Tensor y = mul(add(x, x), 3.0);
    CHECK(y.to_vector<float>()[0] == 6.0f);
  }
  CHECK(a.stats().system_allocations - sys0 <= 3);

  a.reset_peak();
  CHECK(a.stats().peak_bytes_in_use == a.stats().bytes_in_use);
  a.empty_cache();
  CHECK(a.stats().bytes_cached == 0);
}
