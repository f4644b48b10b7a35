#include "core/backend.h"
#include "core/cuda/check.cuh"
#include "core/cuda/grid_stride.cuh"
#include "quant/cuda/block_reduce.cuh"
#include "quant/cuda/quantize.h"

namespace mpq::quant::cuda {

namespace {

// 2^round(log2 a) for a > 0, exactly: with a = m 2^e (m in [0.5, 1)), log2 a
// rounds to e when m >= 1/sqrt(2) and to e - 1 below (the CPU kernel's rule).
__device__ __forceinline__ double pow2_level(double a) {
  int e;
  const double m = frexp(a, &e);
  return ldexp(1.0, m >= 0.70710678118654752440 ? e : e - 1);
}
__device__ __forceinline__ float pow2_level(float a) {
  int e;
  const float m = frexpf(a, &e);
  // The float mantissa threshold: m >= 1/sqrt(2) compared in double, as on the CPU.
  return ldexpf(1.0f, static_cast<double>(m) >= 0.70710678118654752440 ? e : e - 1);
}

// Q_P (docs/method.md section 1): x -> relu(x) when unsigned; a = |x|; zero below
// q_min / sqrt(2) (with_zero), q_min below q_min, q_max from q_max up, else
// 2^round(log2 a); the sign put back. A NaN input stays NaN.
template <class T>
__global__ void forward_kernel(const T* __restrict__ x, T* __restrict__ q, std::int64_t n,
                               const T* __restrict__ qmin_p, const T* __restrict__ qmax_p,
                               bool is_signed, bool with_zero) {
  const T lo = *qmin_p, hi = *qmax_p;
  const T zero_below = static_cast<T>(static_cast<double>(lo) / 1.41421356237309504880);
  for (const std::int64_t i : mpq::cuda::grid_stride(n)) {
    const T xi = x[i];
    const T v = is_signed ? xi : (xi > T(0) ? xi : T(0));
    const T s = v >= T(0) ? T(1) : T(-1);
    const T a = fabs(v);
    T m;
    if (with_zero && a < zero_below)
      m = T(0);
    else if (a < lo)
      m = lo;
    else if (a >= hi)
      m = hi;
    else
      m = pow2_level(a);
    q[i] = v == v ? s * m : v;  // NaN stays NaN (unsigned: relu made it 0 first, as on the CPU)
  }
}

// dq/dq_min = s below q_min (and above the zero level), dq/dq_max = s from
// q_max up, dq/dx = 2^round(log2 a) / a in between (round -> identity), 0 elsewhere.
template <class T, bool kWriteDx>
__global__ void backward_kernel(const T* __restrict__ g, const T* __restrict__ x,
                                T* __restrict__ dx, std::int64_t n, const T* __restrict__ qmin_p,
                                const T* __restrict__ qmax_p, bool is_signed, bool with_zero,
                                double* __restrict__ partial) {
  const T lo = *qmin_p, hi = *qmax_p;
  const T zero_below = static_cast<T>(static_cast<double>(lo) / 1.41421356237309504880);
  const std::int64_t begin = blockIdx.x * kChunk, end = min(n, begin + kChunk);
  double gmin = 0, gmax = 0;
  for (std::int64_t i = begin + threadIdx.x; i < end; i += kThreads) {
    const T xi = x[i];
    const T v = is_signed ? xi : (xi > T(0) ? xi : T(0));
    const T s = v >= T(0) ? T(1) : T(-1);
    const T a = fabs(v);
    const bool zero = with_zero && a < zero_below;
    const bool at_min = !zero && a < lo;
    const bool at_max = !zero && !at_min && a >= hi;
    const bool middle = !zero && !at_min && !at_max;
    const T gi = g[i];
    if (at_min) gmin += static_cast<double>(gi * s);
    if (at_max) gmax += static_cast<double>(gi * s);
    if constexpr (kWriteDx) dx[i] = middle ? gi * pow2_level(a) / a : T(0);
  }
  block_sum2(gmin, gmax, partial);
}

}  // namespace

void quantize_pow2_forward(const Tensor& x, const Tensor& qmin, const Tensor& qmax, bool is_signed,
                           bool with_zero, const Tensor& q) {
  const std::int64_t n = x.numel();
  if (n == 0) return;
  cudaStream_t s = mpq::cuda::stream(x.device());
  dispatch_floating(x.dtype(), "quantize_pow2", [&]<class T>() {
    forward_kernel<T><<<mpq::cuda::grid_for(n), mpq::cuda::kThreads, 0, s>>>(
        static_cast<const T*>(x.device_data()), static_cast<T*>(q.device_data()), n,
        static_cast<const T*>(qmin.device_data()), static_cast<const T*>(qmax.device_data()),
        is_signed, with_zero);
  });
  mpq::cuda::check_launch("quantize_pow2_forward");
}

void quantize_pow2_backward(const Tensor& g, const Tensor& x, const Tensor& qmin,
                            const Tensor& qmax, bool is_signed, bool with_zero, const Tensor& dx,
                            const Tensor& gmin, const Tensor& gmax) {
  const std::int64_t n = x.numel(), blocks = chunks_for(n);
  Tensor partial = empty({2 * blocks}, DType::f64, x.device());
  cudaStream_t s = mpq::cuda::stream(x.device());
  dispatch_floating(x.dtype(), "quantize_pow2 backward", [&]<class T>() {
    auto launch = [&](auto kernel) {
      kernel<<<static_cast<unsigned>(blocks), kThreads, 0, s>>>(
          static_cast<const T*>(g.device_data()), static_cast<const T*>(x.device_data()),
          dx.defined() ? static_cast<T*>(dx.device_data()) : nullptr, n,
          static_cast<const T*>(qmin.device_data()), static_cast<const T*>(qmax.device_data()),
          is_signed, with_zero, static_cast<double*>(partial.device_data()));
    };
    if (dx.defined())
      launch(backward_kernel<T, true>);
    else
      launch(backward_kernel<T, false>);
    mpq::cuda::check_launch("quantize_pow2_backward");
    finish_sums2_kernel<T><<<1, 1, 0, s>>>(static_cast<const double*>(partial.device_data()),
                                           blocks, static_cast<T*>(gmin.device_data()),
                                           static_cast<T*>(gmax.device_data()));
    mpq::cuda::check_launch("quantize_pow2_backward (sums)");
  });
}

namespace {
const BackendRegistration registration(DeviceType::cuda, [](Backend& b) {
  b.quantize_pow2_forward = quantize_pow2_forward;
  b.quantize_pow2_backward = quantize_pow2_backward;
});
}  // namespace

}  // namespace mpq::quant::cuda
