// CUDA kernels of the optimizer updates (train/cpu/optimizer.cpp holds the CPU
// loops, core/backend.h the formulas); one fused pass per parameter.
#include "core/backend.h"
#include "core/cuda/check.cuh"
#include "core/cuda/grid_stride.cuh"
#include "core/tensor.h"

namespace mpq::train::cuda {

namespace {

template <class T>
__global__ void sgd_kernel(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ v,
                           std::int64_t n, bool first, T lr, T mom, T l2, T shrink, bool nesterov) {
  for (const std::int64_t i : mpq::cuda::grid_stride(n)) {
    T d = g[i] + l2 * p[i];
    if (v) {
      v[i] = first ? d : mom * v[i] + d;
      d = nesterov ? d + mom * v[i] : v[i];
    }
    p[i] = shrink * p[i] - lr * d;
  }
}

template <class T>
__global__ void adam_kernel(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ m,
                            T* __restrict__ v, std::int64_t n, double b1, double b2, double eps,
                            double c1, double c2, double lr, double l2, double shrink) {
  for (const std::int64_t i : mpq::cuda::grid_stride(n)) {
    const double gi = static_cast<double>(g[i]) + l2 * static_cast<double>(p[i]);
    m[i] = static_cast<T>(b1 * static_cast<double>(m[i]) + (1 - b1) * gi);
    v[i] = static_cast<T>(b2 * static_cast<double>(v[i]) + (1 - b2) * gi * gi);
    const double update =
        (static_cast<double>(m[i]) / c1) / (sqrt(static_cast<double>(v[i]) / c2) + eps);
    p[i] = static_cast<T>(shrink * static_cast<double>(p[i]) - lr * update);
  }
}

}  // namespace

void sgd_update(const Tensor& p, const Tensor& g, const Tensor& v, bool first, double lr,
                double momentum, double l2, double shrink, bool nesterov) {
  MPQ_CHECK(g.is_contiguous(), "Sgd::step: gradients must be contiguous");
  const std::int64_t n = p.numel();
  if (n == 0) return;
  dispatch_floating(p.dtype(), "Sgd::step", [&]<class T>() {
    sgd_kernel<T>
        <<<mpq::cuda::grid_for(n), mpq::cuda::kThreads, 0, mpq::cuda::stream(p.device())>>>(
            static_cast<T*>(p.device_data()), static_cast<const T*>(g.device_data()),
            v.defined() ? static_cast<T*>(v.device_data()) : nullptr, n, first, static_cast<T>(lr),
            static_cast<T>(momentum), static_cast<T>(l2), static_cast<T>(shrink), nesterov);
  });
  mpq::cuda::check_launch("sgd_update");
}

void adam_update(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v, double b1,
                 double b2, double eps, double c1, double c2, double lr, double l2, double shrink) {
  MPQ_CHECK(g.is_contiguous(), "Adam::step: gradients must be contiguous");
  const std::int64_t n = p.numel();
  if (n == 0) return;
  dispatch_floating(p.dtype(), "Adam::step", [&]<class T>() {
    adam_kernel<T>
        <<<mpq::cuda::grid_for(n), mpq::cuda::kThreads, 0, mpq::cuda::stream(p.device())>>>(
            static_cast<T*>(p.device_data()), static_cast<const T*>(g.device_data()),
            static_cast<T*>(m.device_data()), static_cast<T*>(v.device_data()), n, b1, b2, eps, c1,
            c2, lr, l2, shrink);
  });
  mpq::cuda::check_launch("adam_update");
}

namespace {
const BackendRegistration registration(DeviceType::cuda, [](Backend& b) {
  b.sgd_update = sgd_update;
  b.adam_update = adam_update;
});
}  // namespace

}  // namespace mpq::train::cuda
