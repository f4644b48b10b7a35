#include "core/cuda/pinned.h"

#include <map>
#include <mutex>
#include <vector>

#include "core/allocator.h"
#include "core/cuda/runtime.h"

#ifdef MPQ_WITH_CUDA
#include "core/cuda/check.cuh"
#endif

namespace mpq::cuda {

#ifdef MPQ_WITH_CUDA

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
    for (cudaEvent_t e : b.events) {
      MPQ_CUDA_CHECK(cudaEventSynchronize(e));  // copies that read the block have finished
      MPQ_CUDA_CHECK(cudaEventDestroy(e));
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

void pinned_deallocate(void* ptr, std::size_t nbytes) {
  if (!ptr) return;
  const std::size_t cls = CpuAllocator::size_class(nbytes == 0 ? 1 : nbytes);
  Block b{ptr, {}};
  for (int d = 0; d < device_count(); ++d) {
    cudaEvent_t e;
    MPQ_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    MPQ_CUDA_CHECK(cudaEventRecord(e, stream(Device::cuda(d))));
    b.events.push_back(e);
  }
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.free[cls].push_back(std::move(b));
}

#else

void* pinned_allocate(std::size_t) { return nullptr; }
void pinned_deallocate(void*, std::size_t) {}

#endif

Tensor empty_pinned(const Shape& shape, DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(numel_of(shape) * dtype_size(dtype), Device::cpu(),
                                            /*pinned=*/true);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

}  // namespace mpq::cuda
