#include "ops/cpu/batch_norm.h"

#include <cmath>

#include "core/parallel.h"

namespace mpq::cpu {

void batch_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                        const Tensor& running_mean, const Tensor& running_var, bool training,
                        double momentum, double eps, const Tensor& y, const Tensor& mean,
                        const Tensor& rstd) {
  const std::int64_t N = x.shape()[0], C = x.shape()[1], HW = x.shape()[2] * x.shape()[3];
  const std::int64_t M = N * HW;
  dispatch_floating(x.dtype(), "batch_norm2d", [&]<class T>() {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const T* pg = gamma.defined() ? gamma.data<T>() : nullptr;
    const T* pb = beta.defined() ? beta.data<T>() : nullptr;
    T* rm = running_mean.defined() ? running_mean.data<T>() : nullptr;
    T* rv = running_var.defined() ? running_var.data<T>() : nullptr;
    T* pmean = mean.data<T>();
    T* prstd = rstd.data<T>();
    parallel_for(0, C, 0, [&](std::int64_t cb, std::int64_t ce) {
      for (std::int64_t c = cb; c < ce; ++c) {
        double mu, var;
        if (training) {
          double s = 0;
          for (std::int64_t n = 0; n < N; ++n) {
            const T* row = px + (n * C + c) * HW;
            for (std::int64_t i = 0; i < HW; ++i) s += row[i];
          }
          mu = s / static_cast<double>(M);
          double ss = 0;  // two-pass variance: no cancellation
          for (std::int64_t n = 0; n < N; ++n) {
            const T* row = px + (n * C + c) * HW;
            for (std::int64_t i = 0; i < HW; ++i) {
              const double d = row[i] - mu;
              ss += d * d;
            }
          }
          var = ss / static_cast<double>(M);
          if (rm) rm[c] = static_cast<T>((1 - momentum) * rm[c] + momentum * mu);
          if (rv && M > 1)
            rv[c] = static_cast<T>((1 - momentum) * rv[c] + momentum * var * M / (M - 1));
        } else {
          mu = rm[c];
          var = rv[c];
        }
        const double r = 1.0 / std::sqrt(var + eps);
        pmean[c] = static_cast<T>(mu);
        prstd[c] = static_cast<T>(r);
        // y = scale * x + shift
        const T scale = static_cast<T>((pg ? pg[c] : 1.0) * r);
        const T shift = static_cast<T>((pb ? pb[c] : 0.0) - mu * (pg ? pg[c] : 1.0) * r);
        for (std::int64_t n = 0; n < N; ++n) {
          const T* row = px + (n * C + c) * HW;
          T* out = py + (n * C + c) * HW;
          for (std::int64_t i = 0; i < HW; ++i) out[i] = scale * row[i] + shift;
        }
      }
    });
  });
}

void batch_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& gamma, const Tensor& mean,
                         const Tensor& rstd, bool training, const Tensor& dx, const Tensor& dgamma,
                         const Tensor& dbeta) {
  const std::int64_t N = x.shape()[0], C = x.shape()[1], HW = x.shape()[2] * x.shape()[3];
  const double M = static_cast<double>(N * HW);
  dispatch_floating(x.dtype(), "batch_norm2d backward", [&]<class T>() {
    const T* px = x.data<T>();
    const T* pg = dy.data<T>();
    const T* gam = gamma.defined() ? gamma.data<T>() : nullptr;
    const T* pmean = mean.data<T>();
    const T* prstd = rstd.data<T>();
    T* pdx = dx.defined() ? dx.data<T>() : nullptr;
    T* pdg = dgamma.defined() ? dgamma.data<T>() : nullptr;
    T* pdb = dbeta.defined() ? dbeta.data<T>() : nullptr;
    parallel_for(0, C, 0, [&](std::int64_t cb, std::int64_t ce) {
      for (std::int64_t c = cb; c < ce; ++c) {
        const double mu = pmean[c], r = prstd[c];
        double sum_g = 0, sum_gx = 0;  // sum g, sum g * xhat
        for (std::int64_t n = 0; n < N; ++n) {
          const T* xr = px + (n * C + c) * HW;
          const T* gr = pg + (n * C + c) * HW;
          for (std::int64_t i = 0; i < HW; ++i) {
            sum_g += gr[i];
            sum_gx += gr[i] * (xr[i] - mu);
          }
        }
        sum_gx *= r;
        if (pdg) pdg[c] = static_cast<T>(sum_gx);
        if (pdb) pdb[c] = static_cast<T>(sum_g);
        if (!pdx) continue;
        const double gr_scale = (gam ? gam[c] : 1.0) * r;
        for (std::int64_t n = 0; n < N; ++n) {
          const T* xr = px + (n * C + c) * HW;
          const T* gr = pg + (n * C + c) * HW;
          T* out = pdx + (n * C + c) * HW;
          if (training) {
            // dx = gamma r (g - sum_g/M - xhat sum_gx/M), xhat = (x - mu) r taken
            // from the centred input (no cancellation when |mu| >> std).
            const T a = static_cast<T>(gr_scale);
            const T b = static_cast<T>(-gr_scale * sum_g / M);
            const T k = static_cast<T>(-gr_scale * r * sum_gx / M);
            const T m = static_cast<T>(mu);
            for (std::int64_t i = 0; i < HW; ++i) out[i] = a * gr[i] + k * (xr[i] - m) + b;
          } else {
            const T a = static_cast<T>(gr_scale);
            for (std::int64_t i = 0; i < HW; ++i) out[i] = a * gr[i];
          }
        }
      }
    });
  });
}

}  // namespace mpq::cpu
