// CUDA reduction kernels over the last axis of a contiguous [outer, inner]
// matrix, the counterparts of ops/cpu/reduce.cpp. Sums accumulate in double in
// a fixed order (fixed chunks, fixed tree), so results repeat exactly from
// run to run.
#include "core/backend.h"
#include "core/cuda/check.cuh"
#include "core/cuda/grid_stride.cuh"
#include "core/tensor.h"

namespace mpq::cuda {

namespace {

constexpr int kReduceThreads = 256;
constexpr std::int64_t kChunk = 16384;  // elements of a row per block (the last chunk may be short)

// Sum of one chunk of one row into partial[row * chunks + chunk]: each thread
// adds its strided elements in order, then a fixed shared-memory tree.
template <class T>
__global__ void sum_partial_kernel(const T* __restrict__ x, std::int64_t inner, int chunks,
                                   double* __restrict__ partial) {
  __shared__ double buf[kReduceThreads];
  const std::int64_t row = blockIdx.x, chunk = blockIdx.y;
  const std::int64_t lo = chunk * kChunk, hi = min(inner, lo + kChunk);
  const T* r = x + row * inner;
  double acc = 0;
  for (std::int64_t j = lo + threadIdx.x; j < hi; j += kReduceThreads)
    acc += static_cast<double>(r[j]);
  buf[threadIdx.x] = acc;
  __syncthreads();
  for (int s = kReduceThreads / 2; s > 0; s /= 2) {
    if (static_cast<int>(threadIdx.x) < s) buf[threadIdx.x] += buf[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[row * chunks + chunk] = buf[0];
}

template <class T>
__global__ void sum_final_kernel(const double* __restrict__ partial, std::int64_t outer, int chunks,
                                 double scale, T* __restrict__ out) {
  for (const std::int64_t i : grid_stride(outer)) {
    double acc = 0;
    for (int c = 0; c < chunks; ++c) acc += partial[i * chunks + c];
    out[i] = static_cast<T>(acc * scale);
  }
}

// The better of two (value, index) candidates: a NaN wins, then the larger
// value, then the lower index, so the result is the CPU kernel's first arg max
// whatever order the candidates meet in.
template <class T>
__device__ __forceinline__ void better(T& v, std::int64_t& i, T v2, std::int64_t i2) {
  const bool nan1 = v != v, nan2 = v2 != v2;
  bool take;
  if (nan1 || nan2)
    take = nan2 && (!nan1 || i2 < i);
  else
    take = v2 > v || (v2 == v && i2 < i);
  if (take) {
    v = v2;
    i = i2;
  }
}

template <class T>
__global__ void max_kernel(const T* __restrict__ x, std::int64_t inner, T* __restrict__ out,
                           std::int32_t* __restrict__ index) {
  __shared__ T vbuf[kReduceThreads];
  __shared__ std::int64_t ibuf[kReduceThreads];
  const T* r = x + static_cast<std::int64_t>(blockIdx.x) * inner;
  T v = r[0];
  std::int64_t best = 0;
  for (std::int64_t j = threadIdx.x; j < inner; j += kReduceThreads) better(v, best, r[j], j);
  vbuf[threadIdx.x] = v;
  ibuf[threadIdx.x] = best;
  __syncthreads();
  for (int s = kReduceThreads / 2; s > 0; s /= 2) {
    if (static_cast<int>(threadIdx.x) < s) {
      T a = vbuf[threadIdx.x];
      std::int64_t ai = ibuf[threadIdx.x];
      better(a, ai, vbuf[threadIdx.x + s], ibuf[threadIdx.x + s]);
      vbuf[threadIdx.x] = a;
      ibuf[threadIdx.x] = ai;
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    out[blockIdx.x] = vbuf[0];
    if (index) index[blockIdx.x] = static_cast<std::int32_t>(ibuf[0]);
  }
}

template <class T>
__global__ void scatter_kernel(const T* __restrict__ g, const std::int32_t* __restrict__ index,
                               std::int64_t outer, std::int64_t inner, T* __restrict__ grad) {
  for (const std::int64_t i : grid_stride(outer)) grad[i * inner + index[i]] = g[i];
}

}  // namespace

void sum_rows(const Tensor& x, std::int64_t outer, std::int64_t inner, double scale,
              const Tensor& out) {
  if (outer == 0) return;
  const int chunks = static_cast<int>(inner == 0 ? 1 : (inner + kChunk - 1) / kChunk);
  MPQ_CHECK(outer <= 2147483647 && chunks <= 65535, "cuda::sum_rows: [", outer, ", ", inner,
            "] exceeds the grid");
  Tensor partial = empty({outer * chunks}, DType::f64, x.device());
  cudaStream_t s = stream(x.device());
  dispatch_floating(x.dtype(), "sum", [&]<class T>() {
    sum_partial_kernel<T><<<dim3(static_cast<unsigned>(outer), static_cast<unsigned>(chunks)),
                            kReduceThreads, 0, s>>>(static_cast<const T*>(x.device_data()), inner,
                                                    chunks,
                                                    static_cast<double*>(partial.device_data()));
    check_launch("sum_partial");
    sum_final_kernel<T><<<grid_for(outer), kThreads, 0, s>>>(
        static_cast<const double*>(partial.device_data()), outer, chunks, scale,
        static_cast<T*>(out.device_data()));
    check_launch("sum_final");
  });
}

void max_rows(const Tensor& x, std::int64_t outer, std::int64_t inner, const Tensor& out,
              const Tensor& index) {
  if (outer == 0) return;
  MPQ_CHECK(outer <= 2147483647, "cuda::max_rows: too many rows (", outer, ")");
  dispatch_floating(x.dtype(), "max", [&]<class T>() {
    max_kernel<T><<<static_cast<unsigned>(outer), kReduceThreads, 0, stream(x.device())>>>(
        static_cast<const T*>(x.device_data()), inner, static_cast<T*>(out.device_data()),
        index.defined() ? static_cast<std::int32_t*>(index.device_data()) : nullptr);
  });
  check_launch("max_rows");
}

void scatter_rows(const Tensor& g, const Tensor& index, std::int64_t outer, std::int64_t inner,
                  const Tensor& grad) {
  if (outer == 0) return;
  dispatch_floating(g.dtype(), "max backward", [&]<class T>() {
    scatter_kernel<T><<<grid_for(outer), kThreads, 0, stream(g.device())>>>(
        static_cast<const T*>(g.device_data()),
        static_cast<const std::int32_t*>(index.device_data()), outer, inner,
        static_cast<T*>(grad.device_data()));
  });
  check_launch("scatter_rows");
}

namespace {
const BackendRegistration registration(DeviceType::cuda, [](Backend& b) {
  b.sum_rows = sum_rows;
  b.max_rows = max_rows;
  b.scatter_rows = scatter_rows;
});
}  // namespace

}  // namespace mpq::cuda
