// CUDA cross-entropy kernels (ops/cpu/cross_entropy.cpp is the CPU side).
#include "core/backend.h"
#include "core/cuda/check.cuh"
#include "core/cuda/grid_stride.cuh"
#include "core/tensor.h"

namespace mpq::cuda {

namespace {

// One thread per row: rows are short (classes), and the per-row arithmetic
// follows the CPU kernel's order exactly (max, then exp and sum in double).
template <class T>
__global__ void forward_kernel(const T* __restrict__ z, const std::int32_t* __restrict__ y,
                               T* __restrict__ p, double* __restrict__ row_loss, std::int64_t N,
                               std::int64_t K) {
  for (const std::int64_t n : grid_stride(N)) {
    const T* zr = z + n * K;
    T* pr = p + n * K;
    T m = zr[0];
    for (std::int64_t k = 1; k < K; ++k) m = zr[k] > m ? zr[k] : m;
    double s = 0;
    for (std::int64_t k = 0; k < K; ++k) {
      pr[k] = exp(zr[k] - m);
      s += static_cast<double>(pr[k]);
    }
    const T inv = static_cast<T>(1.0 / s);
    for (std::int64_t k = 0; k < K; ++k) pr[k] *= inv;
    row_loss[n] = log(s) - static_cast<double>(zr[y[n]] - m);
  }
}

template <class T>
__global__ void mean_kernel(const double* __restrict__ row_loss, std::int64_t N,
                            T* __restrict__ loss) {
  double total = 0;
  for (std::int64_t n = 0; n < N; ++n) total += row_loss[n];
  *loss = static_cast<T>(total / static_cast<double>(N));
}

template <class T>
__global__ void backward_kernel(const T* __restrict__ p, const std::int32_t* __restrict__ y,
                                const T* __restrict__ g, T* __restrict__ dz, std::int64_t N,
                                std::int64_t K) {
  const T s = static_cast<T>(static_cast<double>(*g) / static_cast<double>(N));
  for (const std::int64_t i : grid_stride(N * K)) {
    const std::int64_t n = i / K, k = i % K;
    dz[i] = s * p[i] - (k == y[n] ? s : T(0));
  }
}

}  // namespace

void cross_entropy_forward(const Tensor& logits, const Tensor& labels, const Tensor& probs,
                           const Tensor& loss) {
  const std::int64_t N = logits.shape()[0], K = logits.shape()[1];
  Tensor row_loss = empty({N}, DType::f64, logits.device());
  cudaStream_t s = stream(logits.device());
  dispatch_floating(logits.dtype(), "cross_entropy", [&]<class T>() {
    forward_kernel<T><<<grid_for(N), kThreads, 0, s>>>(
        static_cast<const T*>(logits.device_data()),
        static_cast<const std::int32_t*>(labels.device_data()),
        static_cast<T*>(probs.device_data()), static_cast<double*>(row_loss.device_data()), N, K);
    check_launch("cross_entropy_forward");
    mean_kernel<T><<<1, 1, 0, s>>>(static_cast<const double*>(row_loss.device_data()), N,
                                   static_cast<T*>(loss.device_data()));
    check_launch("cross_entropy_forward (mean)");
  });
}

void cross_entropy_backward(const Tensor& probs, const Tensor& labels, const Tensor& g,
                            const Tensor& dz) {
  const std::int64_t N = probs.shape()[0], K = probs.shape()[1];
  dispatch_floating(probs.dtype(), "cross_entropy backward", [&]<class T>() {
    backward_kernel<T><<<grid_for(N * K), kThreads, 0, stream(probs.device())>>>(
        static_cast<const T*>(probs.device_data()),
        static_cast<const std::int32_t*>(labels.device_data()),
        static_cast<const T*>(g.device_data()), static_cast<T*>(dz.device_data()), N, K);
  });
  check_launch("cross_entropy_backward");
}

namespace {
const BackendRegistration registration(DeviceType::cuda, [](Backend& b) {
  b.cross_entropy_forward = cross_entropy_forward;
  b.cross_entropy_backward = cross_entropy_backward;
});
}  // namespace

}  // namespace mpq::cuda
