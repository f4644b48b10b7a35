#include "core/backend.h"
#include "core/cuda/check.cuh"
#include "core/cuda/copy.h"
#include "core/cuda/grid_stride.cuh"
#include "core/cuda/indexer.cuh"
#include "core/cuda/runtime.h"

namespace mpq::cuda {

namespace {

template <class D, class S>
__global__ void copy_kernel(D* __restrict__ dst, const S* __restrict__ src, std::int64_t n,
                            Indexer<2> ix) {
  for (const std::int64_t i : grid_stride(n)) {
    std::int64_t off[2];
    ix.offsets(i, off);
    dst[off[0]] = static_cast<D>(src[off[1]]);
  }
}

template <class T>
__global__ void fill_kernel(T* __restrict__ dst, T value, std::int64_t n, Indexer<1> ix) {
  for (const std::int64_t i : grid_stride(n)) {
    std::int64_t off[1];
    ix.offsets(i, off);
    dst[off[0]] = value;
  }
}

}  // namespace

void copy_elements(const Tensor& dst, const Tensor& src) {
  MPQ_CHECK(dst.device() == src.device(), "cuda::copy_elements: tensors on ", dst.device().str(),
            " and ", src.device().str());
  const std::int64_t n = dst.numel();
  if (n == 0) return;
  if (dst.dtype() == src.dtype() && is_dense(dst) && same_layout(dst, src)) {
    copy_on_device(dst.device_data(), src.device_data(),
                   static_cast<std::size_t>(n) * dtype_size(dst.dtype()), dst.device());
    return;
  }
  const Indexer<2> ix = make_indexer<2>(dst.shape(), {&dst, &src});
  cudaStream_t s = stream(dst.device());
  dispatch_all(dst.dtype(), [&]<class D>() {
    dispatch_all(src.dtype(), [&]<class S>() {
      copy_kernel<D, S><<<grid_for(n), kThreads, 0, s>>>(
          static_cast<D*>(dst.device_data()), static_cast<const S*>(src.device_data()), n, ix);
    });
  });
  check_launch("copy");
}

void fill(const Tensor& dst, double value) {
  const std::int64_t n = dst.numel();
  if (n == 0) return;
  const Indexer<1> ix = make_indexer<1>(dst.shape(), {&dst});
  cudaStream_t s = stream(dst.device());
  dispatch_all(dst.dtype(), [&]<class T>() {
    fill_kernel<T><<<grid_for(n), kThreads, 0, s>>>(static_cast<T*>(dst.device_data()),
                                                    static_cast<T>(value), n, ix);
  });
  check_launch("fill");
}

namespace {
const BackendRegistration registration(DeviceType::cuda, [](Backend& b) {
  b.copy_elements = copy_elements;
  b.fill = fill;
});
}  // namespace

}  // namespace mpq::cuda
