#include "core/cuda/pinned.h"

#include <map>
#include <mutex>
#include <vector>

#include "core/allocator.h"
#include "core/backend.h"
#include "core/cuda/runtime.h"

#include "core/cuda/check.cuh"

namespace mpq::cuda {

namespace {

struct Block {
  void* ptr;
  std::vector<cudaEvent_t> events;  // recorded at the free, one per device stream
};

struct Cache {
  std::mutex mutex;
  std::map<std::size_t, std::vector<Block>> free;  // size class -> blocks
};

Cache& cache() {
  static auto* c = new Cache;  // outlives tensors freed during static destruction
  return *c;
}

}  // namespace

void* pinned_allocate(std::size_t nbytes) {
  if (!available()) return nullptr;
  const std::size_t cls = CpuAllocator::size_class(nbytes == 0 ? 1 : nbytes);
  Cache& c = cache();
  Block b{nullptr, {}};
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.free.find(cls);
    if (it != c.free.end() && !it->second.empty()) {
      b = std::move(it->second.back());
      it->second.pop_back();
    }
  }
  if (b.ptr) {
    // Copies that read the block must have finished before it is refilled.
    for (cudaEvent_t e : b.events) {
      const cudaError_t err = cudaEventSynchronize(e);
      (void)cudaEventDestroy(e);
      MPQ_CHECK(err == cudaSuccess,
                "pinned memory: waiting for earlier copies failed: ", cudaGetErrorString(err));
    }
    return b.ptr;
  }
  void* p = nullptr;
  if (cudaHostAlloc(&p, cls, cudaHostAllocDefault) != cudaSuccess) {
    (void)cudaGetLastError();
    return nullptr;  // out of pinnable memory: the caller uses ordinary memory
  }
  return p;
}

// Called from ~Storage: never throws. An event that cannot be recorded (a
// device in an error state, a runtime shutting down) makes the block wait for
// that whole device instead, or leaves it unused when even that fails.
void pinned_deallocate(void* ptr, std::size_t nbytes) noexcept {
  if (!ptr) return;
  const std::size_t cls = CpuAllocator::size_class(nbytes == 0 ? 1 : nbytes);
  Block b{ptr, {}};
  for (int d = 0; d < device_count(); ++d) {
    if (!has_stream(d)) continue;  // nothing was ever queued there
    cudaStream_t s = nullptr;
    try {
      s = stream(Device::cuda(d));  // also makes device d current, before the event is made
    } catch (...) {
      return;
    }
    cudaEvent_t e;
    if (cudaEventCreateWithFlags(&e, cudaEventDisableTiming) != cudaSuccess) {
      (void)cudaGetLastError();
      if (cudaStreamSynchronize(s) != cudaSuccess) return;  // unusable: never reuse it
      continue;
    }
    if (cudaEventRecord(e, s) != cudaSuccess) {
      (void)cudaGetLastError();
      (void)cudaEventDestroy(e);
      if (cudaStreamSynchronize(s) != cudaSuccess) return;
      continue;
    }
    b.events.push_back(e);
  }
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.free[cls].push_back(std::move(b));
}

namespace {
const BackendRegistration registration(DeviceType::cuda, [](Backend& b) {
  b.pinned_allocate = pinned_allocate;
  b.pinned_deallocate = pinned_deallocate;
});
}  // namespace

}  // namespace mpq::cuda
