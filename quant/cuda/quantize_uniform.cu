#include "core/backend.h"
#include "core/cuda/check.cuh"
#include "core/cuda/grid_stride.cuh"
#include "quant/cuda/block_reduce.cuh"
#include "quant/cuda/quantize.h"

namespace mpq::quant::cuda {

namespace {

// q = d round(clip(x, lo, hi) / d), lo = -q_max (signed) or 0; NaN stays NaN.
template <class T>
__global__ void forward_kernel(const T* __restrict__ x, T* __restrict__ q, std::int64_t n,
                               const T* __restrict__ d_p, const T* __restrict__ qmax_p,
                               bool is_signed) {
  const T d = *d_p, hi = *qmax_p, lo = is_signed ? -hi : T(0);
  const T inv = static_cast<T>(1.0 / static_cast<double>(d));  // as the CPU: 1/d in double
  for (const std::int64_t i : mpq::cuda::grid_stride(n)) {
    const T xi = x[i];
    const T c = xi < lo ? lo : (xi > hi ? hi : xi);
    q[i] = xi == xi ? d * round(c * inv) : xi;
  }
}

// Per element, with c the clipped input (docs/method.md section 2, U2's parameters d, q_max):
//   inside [lo, hi]: dq/dx = 1, dq/dd = round(x/d) - x/d, dq/dq_max = 0
//   above hi:        dq/dx = 0, dq/dd = r_hi,             dq/dq_max = 1
//   below lo:        dq/dx = 0, dq/dd = r_lo,             dq/dq_max = -1 (signed) / 0
// with r_hi = round(q_max/d) - q_max/d and r_lo = -r_hi (signed) / 0.
template <class T, bool kWriteDx>
__global__ void backward_kernel(const T* __restrict__ g, const T* __restrict__ x,
                                T* __restrict__ dx, std::int64_t n, const T* __restrict__ d_p,
                                const T* __restrict__ qmax_p, bool is_signed,
                                double* __restrict__ partial) {
  const T d = *d_p, hi = *qmax_p, lo = is_signed ? -hi : T(0);
  const T inv = static_cast<T>(1.0 / static_cast<double>(d));  // as the CPU: 1/d in double
  const double dinv = 1.0 / static_cast<double>(d);
  const double r_hi = round(static_cast<double>(hi) * dinv) - static_cast<double>(hi) * dinv;
  const T tr_hi = static_cast<T>(r_hi), tr_lo = is_signed ? static_cast<T>(-r_hi) : T(0);
  const T q_lo = is_signed ? T(-1) : T(0);
  const std::int64_t begin = blockIdx.x * kChunk, end = min(n, begin + kChunk);
  double gd = 0, gq = 0;
  for (std::int64_t i = begin + threadIdx.x; i < end; i += kThreads) {
    const T xi = x[i], gi = g[i];
    const bool above = xi > hi, below = xi < lo, inside = !above && !below;
    const T v = (xi == xi ? xi : T(0)) * inv;
    const T sd = inside ? round(v) - v : (above ? tr_hi : tr_lo);
    const T sq = above ? T(1) : (below ? q_lo : T(0));
    gd += static_cast<double>(gi * sd);
    gq += static_cast<double>(gi * sq);
    if constexpr (kWriteDx) dx[i] = inside ? gi : T(0);
  }
  block_sum2(gd, gq, partial);
}

}  // namespace

void quantize_uniform_forward(const Tensor& x, const Tensor& d, const Tensor& qmax, bool is_signed,
                              const Tensor& q) {
  const std::int64_t n = x.numel();
  if (n == 0) return;
  cudaStream_t s = mpq::cuda::stream(x.device());
  dispatch_floating(x.dtype(), "quantize_uniform", [&]<class T>() {
    forward_kernel<T><<<mpq::cuda::grid_for(n), mpq::cuda::kThreads, 0, s>>>(
        static_cast<const T*>(x.device_data()), static_cast<T*>(q.device_data()), n,
        static_cast<const T*>(d.device_data()), static_cast<const T*>(qmax.device_data()),
        is_signed);
  });
  mpq::cuda::check_launch("quantize_uniform_forward");
}

void quantize_uniform_backward(const Tensor& g, const Tensor& x, const Tensor& d,
                               const Tensor& qmax, bool is_signed, const Tensor& dx,
                               const Tensor& gd, const Tensor& gq) {
  const std::int64_t n = x.numel(), blocks = chunks_for(n);
  Tensor partial = empty({2 * blocks}, DType::f64, x.device());
  cudaStream_t s = mpq::cuda::stream(x.device());
  dispatch_floating(x.dtype(), "quantize_uniform backward", [&]<class T>() {
    auto launch = [&](auto kernel) {
      kernel<<<static_cast<unsigned>(blocks), kThreads, 0, s>>>(
          static_cast<const T*>(g.device_data()), static_cast<const T*>(x.device_data()),
          dx.defined() ? static_cast<T*>(dx.device_data()) : nullptr, n,
          static_cast<const T*>(d.device_data()), static_cast<const T*>(qmax.device_data()),
          is_signed, static_cast<double*>(partial.device_data()));
    };
    if (dx.defined())
      launch(backward_kernel<T, true>);
    else
      launch(backward_kernel<T, false>);
    mpq::cuda::check_launch("quantize_uniform_backward");
    finish_sums2_kernel<T><<<1, 1, 0, s>>>(static_cast<const double*>(partial.device_data()),
                                           blocks, static_cast<T*>(gd.device_data()),
                                           static_cast<T*>(gq.device_data()));
    mpq::cuda::check_launch("quantize_uniform_backward (sums)");
  });
}

namespace {
const BackendRegistration registration(DeviceType::cuda, [](Backend& b) {
  b.quantize_uniform_forward = quantize_uniform_forward;
  b.quantize_uniform_backward = quantize_uniform_backward;
});
}  // namespace

}  // namespace mpq::quant::cuda
