// CUDA pooling kernels on contiguous NCHW tensors (ops/cpu/pool.cpp is the CPU
// side, same results). Backward passes gather per input element from the
// windows that cover it, in the CPU's order, with no atomics: deterministic.
#include "core/backend.h"
#include "core/cuda/check.cuh"
#include "core/cuda/grid_stride.cuh"
#include "core/tensor.h"
#include "ops/pool.h"

namespace mpq::cuda {

namespace {

struct Geom {
  std::int64_t planes, H, W, P, Q;
  int kh, kw, sh, sw, ph, pw;
};

Geom geom(const Tensor& x, const Tensor& y, const Pool2dParams& p) {
  return {x.shape()[0] * x.shape()[1],
          x.shape()[2],
          x.shape()[3],
          y.shape()[2],
          y.shape()[3],
          static_cast<int>(p.kernel[0]),
          static_cast<int>(p.kernel[1]),
          static_cast<int>(p.stride[0]),
          static_cast<int>(p.stride[1]),
          static_cast<int>(p.padding[0]),
          static_cast<int>(p.padding[1])};
}

__device__ __forceinline__ std::int64_t imax(std::int64_t a, std::int64_t b) {
  return a > b ? a : b;
}
__device__ __forceinline__ std::int64_t imin(std::int64_t a, std::int64_t b) {
  return a < b ? a : b;
}

template <class T>
__global__ void max_forward(const T* __restrict__ x, T* __restrict__ y,
                            std::int32_t* __restrict__ index, Geom g) {
  for (const std::int64_t o : grid_stride(g.planes * g.P * g.Q)) {
    const std::int64_t ow = o % g.Q, oh = (o / g.Q) % g.P, pl = o / (g.P * g.Q);
    const T* in = x + pl * g.H * g.W;
    T best = -INFINITY;
    std::int32_t arg = -1;
    for (int i = 0; i < g.kh; ++i) {
      const std::int64_t h = oh * g.sh - g.ph + i;
      if (h < 0 || h >= g.H) continue;
      for (int j = 0; j < g.kw; ++j) {
        const std::int64_t w = ow * g.sw - g.pw + j;
        if (w < 0 || w >= g.W) continue;
        const T v = in[h * g.W + w];
        if (arg < 0 || v > best || v != v) {  // NaN propagates, as in PyTorch
          best = v;
          arg = static_cast<std::int32_t>(h * g.W + w);
          if (v != v) break;  // as the CPU kernel: ends this row of the window
        }
      }
    }
    y[o] = best;
    index[o] = arg;
  }
}

// Input element k of plane pl gathers dy[o] from the windows o (row-major
// order, as the CPU adds them) whose recorded arg max is k.
template <class T>
__global__ void max_backward(const T* __restrict__ dy, const std::int32_t* __restrict__ index,
                             T* __restrict__ dx, Geom g) {
  for (const std::int64_t k : grid_stride(g.planes * g.H * g.W)) {
    const std::int64_t w = k % g.W, h = (k / g.W) % g.H, pl = k / (g.H * g.W);
    const std::int64_t local = h * g.W + w;
    // Windows covering h: oh * sh - ph <= h < oh * sh - ph + kh.
    const std::int64_t oh_lo = imax(0, (h + g.ph - g.kh + g.sh) / g.sh);
    const std::int64_t oh_hi = imin(g.P - 1, (h + g.ph) / g.sh);
    const std::int64_t ow_lo = imax(0, (w + g.pw - g.kw + g.sw) / g.sw);
    const std::int64_t ow_hi = imin(g.Q - 1, (w + g.pw) / g.sw);
    T acc = T(0);
    for (std::int64_t oh = oh_lo; oh <= oh_hi; ++oh)
      for (std::int64_t ow = ow_lo; ow <= ow_hi; ++ow) {
        const std::int64_t o = (pl * g.P + oh) * g.Q + ow;
        if (index[o] == local) acc += dy[o];
      }
    dx[k] = acc;
  }
}

template <class T>
__global__ void avg_forward(const T* __restrict__ x, T* __restrict__ y, Geom g, double inv) {
  for (const std::int64_t o : grid_stride(g.planes * g.P * g.Q)) {
    const std::int64_t ow = o % g.Q, oh = (o / g.Q) % g.P, pl = o / (g.P * g.Q);
    const T* in = x + pl * g.H * g.W;
    double acc = 0;
    for (int i = 0; i < g.kh; ++i) {
      const std::int64_t h = oh * g.sh - g.ph + i;
      if (h < 0 || h >= g.H) continue;
      for (int j = 0; j < g.kw; ++j) {
        const std::int64_t w = ow * g.sw - g.pw + j;
        if (w >= 0 && w < g.W) acc += static_cast<double>(in[h * g.W + w]);
      }
    }
    y[o] = static_cast<T>(acc * inv);
  }
}

template <class T>
__global__ void avg_backward(const T* __restrict__ dy, T* __restrict__ dx, Geom g, double inv) {
  for (const std::int64_t k : grid_stride(g.planes * g.H * g.W)) {
    const std::int64_t w = k % g.W, h = (k / g.W) % g.H, pl = k / (g.H * g.W);
    const std::int64_t oh_lo = imax(0, (h + g.ph - g.kh + g.sh) / g.sh);
    const std::int64_t oh_hi = imin(g.P - 1, (h + g.ph) / g.sh);
    const std::int64_t ow_lo = imax(0, (w + g.pw - g.kw + g.sw) / g.sw);
    const std::int64_t ow_hi = imin(g.Q - 1, (w + g.pw) / g.sw);
    T acc = T(0);
    for (std::int64_t oh = oh_lo; oh <= oh_hi; ++oh)
      for (std::int64_t ow = ow_lo; ow <= ow_hi; ++ow)
        acc += static_cast<T>(dy[(pl * g.P + oh) * g.Q + ow] * inv);
    dx[k] = acc;
  }
}

}  // namespace

void max_pool2d_forward(const Tensor& x, const Pool2dParams& p, const Tensor& y,
                        const Tensor& index) {
  const Geom g = geom(x, y, p);
  const std::int64_t n = g.planes * g.P * g.Q;
  if (n == 0) return;
  dispatch_floating(x.dtype(), "max_pool2d", [&]<class T>() {
    max_forward<T><<<grid_for(n), kThreads, 0, stream(x.device())>>>(
        static_cast<const T*>(x.device_data()), static_cast<T*>(y.device_data()),
        static_cast<std::int32_t*>(index.device_data()), g);
  });
  check_launch("max_pool2d_forward");
}

void max_pool2d_backward(const Tensor& dy, const Tensor& index, const Pool2dParams& p,
                         const Tensor& dx) {
  const Geom g = geom(dx, dy, p);
  const std::int64_t n = g.planes * g.H * g.W;
  if (n == 0) return;
  dispatch_floating(dy.dtype(), "max_pool2d backward", [&]<class T>() {
    max_backward<T><<<grid_for(n), kThreads, 0, stream(dy.device())>>>(
        static_cast<const T*>(dy.device_data()),
        static_cast<const std::int32_t*>(index.device_data()), static_cast<T*>(dx.device_data()),
        g);
  });
  check_launch("max_pool2d_backward");
}

void avg_pool2d_forward(const Tensor& x, const Pool2dParams& p, const Tensor& y) {
  const Geom g = geom(x, y, p);
  const std::int64_t n = g.planes * g.P * g.Q;
  if (n == 0) return;
  const double inv = 1.0 / static_cast<double>(p.kernel[0] * p.kernel[1]);
  dispatch_floating(x.dtype(), "avg_pool2d", [&]<class T>() {
    avg_forward<T><<<grid_for(n), kThreads, 0, stream(x.device())>>>(
        static_cast<const T*>(x.device_data()), static_cast<T*>(y.device_data()), g, inv);
  });
  check_launch("avg_pool2d_forward");
}

void avg_pool2d_backward(const Tensor& dy, const Pool2dParams& p, const Tensor& dx) {
  const Geom g = geom(dx, dy, p);
  const std::int64_t n = g.planes * g.H * g.W;
  if (n == 0) return;
  const double inv = 1.0 / static_cast<double>(p.kernel[0] * p.kernel[1]);
  dispatch_floating(dy.dtype(), "avg_pool2d backward", [&]<class T>() {
    avg_backward<T><<<grid_for(n), kThreads, 0, stream(dy.device())>>>(
        static_cast<const T*>(dy.device_data()), static_cast<T*>(dx.device_data()), g, inv);
  });
  check_launch("avg_pool2d_backward");
}

namespace {
const BackendRegistration registration(DeviceType::cuda, [](Backend& b) {
  b.max_pool2d_forward = max_pool2d_forward;
  b.max_pool2d_backward = max_pool2d_backward;
  b.avg_pool2d_forward = avg_pool2d_forward;
  b.avg_pool2d_backward = avg_pool2d_backward;
});
}  // namespace

}  // namespace mpq::cuda
