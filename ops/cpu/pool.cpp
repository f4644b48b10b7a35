// CPU pooling kernels (contiguous NCHW), threaded over the N*C planes.
#include "ops/pool.h"
#include "core/backend.h"
#include "core/tensor.h"

#include <limits>

#include "core/parallel.h"

namespace mpq::cpu {

namespace {
struct Geometry {
  std::int64_t planes, H, W, P, Q;
};
Geometry geometry(const Tensor& x, const Tensor& y) {
  return {x.shape()[0] * x.shape()[1], x.shape()[2], x.shape()[3], y.shape()[2], y.shape()[3]};
}
}  // namespace

void max_pool2d_forward(const Tensor& x, const Pool2dParams& p, const Tensor& y,
                        const Tensor& index) {
  const Geometry g = geometry(x, y);
  dispatch_floating(x.dtype(), "max_pool2d", [&]<class T>() {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    std::int32_t* pi = index.data<std::int32_t>();
    parallel_for(0, g.planes, 1, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t pl = b; pl < e; ++pl) {
        const T* in = px + pl * g.H * g.W;
        for (std::int64_t oh = 0; oh < g.P; ++oh)
          for (std::int64_t ow = 0; ow < g.Q; ++ow) {
            T best = -std::numeric_limits<T>::infinity();
            std::int32_t arg = -1;
            for (std::int64_t i = 0; i < p.kernel[0]; ++i) {
              const std::int64_t h = oh * p.stride[0] - p.padding[0] + i;
              if (h < 0 || h >= g.H) continue;
              for (std::int64_t j = 0; j < p.kernel[1]; ++j) {
                const std::int64_t w = ow * p.stride[1] - p.padding[1] + j;
                if (w < 0 || w >= g.W) continue;
                const T v = in[h * g.W + w];
                if (arg < 0 || v > best || v != v) {  // NaN propagates, as in PyTorch
                  best = v;
                  arg = static_cast<std::int32_t>(h * g.W + w);
                  if (v != v) break;
                }
              }
            }
            const std::int64_t o = (pl * g.P + oh) * g.Q + ow;
            py[o] = best;
            pi[o] = arg;
          }
      }
    });
  });
}

void max_pool2d_backward(const Tensor& dy, const Tensor& index, const Pool2dParams&,
                         const Tensor& dx) {
  const Geometry g = geometry(dx, dy);
  dispatch_floating(dy.dtype(), "max_pool2d backward", [&]<class T>() {
    const T* pg = dy.data<T>();
    const std::int32_t* pi = index.data<std::int32_t>();
    T* pd = dx.data<T>();
    parallel_for(0, g.planes, 1, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t pl = b; pl < e; ++pl) {
        T* out = pd + pl * g.H * g.W;
        for (std::int64_t k = 0; k < g.H * g.W; ++k) out[k] = T(0);
        for (std::int64_t o = pl * g.P * g.Q; o < (pl + 1) * g.P * g.Q; ++o)
          if (pi[o] >= 0) out[pi[o]] += pg[o];
      }
    });
  });
}

void avg_pool2d_forward(const Tensor& x, const Pool2dParams& p, const Tensor& y) {
  const Geometry g = geometry(x, y);
  const double inv = 1.0 / static_cast<double>(p.kernel[0] * p.kernel[1]);
  dispatch_floating(x.dtype(), "avg_pool2d", [&]<class T>() {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    parallel_for(0, g.planes, 1, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t pl = b; pl < e; ++pl) {
        const T* in = px + pl * g.H * g.W;
        for (std::int64_t oh = 0; oh < g.P; ++oh)
          for (std::int64_t ow = 0; ow < g.Q; ++ow) {
            double acc = 0;
            for (std::int64_t i = 0; i < p.kernel[0]; ++i) {
              const std::int64_t h = oh * p.stride[0] - p.padding[0] + i;
              if (h < 0 || h >= g.H) continue;
              for (std::int64_t j = 0; j < p.kernel[1]; ++j) {
                const std::int64_t w = ow * p.stride[1] - p.padding[1] + j;
                if (w >= 0 && w < g.W) acc += in[h * g.W + w];
              }
            }
            py[(pl * g.P + oh) * g.Q + ow] = static_cast<T>(acc * inv);
          }
      }
    });
  });
}

void avg_pool2d_backward(const Tensor& dy, const Pool2dParams& p, const Tensor& dx) {
  const Geometry g = geometry(dx, dy);
  const double inv = 1.0 / static_cast<double>(p.kernel[0] * p.kernel[1]);
  dispatch_floating(dy.dtype(), "avg_pool2d backward", [&]<class T>() {
    const T* pg = dy.data<T>();
    T* pd = dx.data<T>();
    parallel_for(0, g.planes, 1, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t pl = b; pl < e; ++pl) {
        T* out = pd + pl * g.H * g.W;
        for (std::int64_t k = 0; k < g.H * g.W; ++k) out[k] = T(0);
        for (std::int64_t oh = 0; oh < g.P; ++oh)
          for (std::int64_t ow = 0; ow < g.Q; ++ow) {
            const T v = static_cast<T>(pg[(pl * g.P + oh) * g.Q + ow] * inv);
            for (std::int64_t i = 0; i < p.kernel[0]; ++i) {
              const std::int64_t h = oh * p.stride[0] - p.padding[0] + i;
              if (h < 0 || h >= g.H) continue;
              for (std::int64_t j = 0; j < p.kernel[1]; ++j) {
                const std::int64_t w = ow * p.stride[1] - p.padding[1] + j;
                if (w >= 0 && w < g.W) out[h * g.W + w] += v;
              }
            }
          }
      }
    });
  });
}

namespace {
const BackendRegistration registration(DeviceType::cpu, [](Backend& b) {
  b.max_pool2d_forward = max_pool2d_forward;
  b.max_pool2d_backward = max_pool2d_backward;
  b.avg_pool2d_forward = avg_pool2d_forward;
  b.avg_pool2d_backward = avg_pool2d_backward;
});
}  // namespace

}  // namespace mpq::cpu
