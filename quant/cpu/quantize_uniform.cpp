#include <cmath>

#include "quant/cpu/block_reduce.h"

namespace mpq::quant::cpu {

void quantize_uniform_forward(const Tensor& x, double d, double qmax, bool is_signed,
                              const Tensor& q) {
  dispatch_floating(x.dtype(), "quantize_uniform", [&]<class T>() {
    const T* px = x.data<T>();
    T* pq = q.data<T>();
    const T td = static_cast<T>(d), inv = static_cast<T>(1.0 / d), hi = static_cast<T>(qmax);
    const T lo = is_signed ? -hi : T(0);
    parallel_for(0, x.numel(), 16384, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) {
        const T c = px[i] < lo ? lo : (px[i] > hi ? hi : px[i]);
        pq[i] = td * std::round(c * inv);
      }
    });
  });
}

std::array<double, 2> quantize_uniform_backward(const Tensor& g, const Tensor& x, double d,
                                                double qmax, bool is_signed, const Tensor& dx) {
  return dispatch_floating(x.dtype(), "quantize_uniform backward", [&]<class T>() {
    const T* px = x.data<T>();
    const T* pg = g.data<T>();
    T* pdx = dx.defined() ? dx.data<T>() : nullptr;
    const T hi = static_cast<T>(qmax), lo = is_signed ? -hi : T(0);
    const double inv = 1.0 / d;
    // Beyond the range the step gradient is a constant: round(c/d) - c/d at c = +-q_max.
    const double r_hi = std::round(qmax * inv) - qmax * inv;
    const double r_lo = is_signed ? -r_hi : 0.0;
    return block_reduce<2>(x.numel(), [&](std::int64_t b, std::int64_t e) {
      double gd = 0, gq = 0;
      for (std::int64_t i = b; i < e; ++i) {
        const T xi = px[i], gi = pg[i];
        if (xi > hi) {
          gd += gi * r_hi;
          gq += gi;
          if (pdx) pdx[i] = T(0);
        } else if (xi < lo) {
          gd += gi * r_lo;
          if (is_signed) gq -= gi;
          if (pdx) pdx[i] = T(0);
        } else {
          const double v = xi * inv;
          gd += gi * (std::round(v) - v);
          if (pdx) pdx[i] = gi;
        }
      }
      return std::array<double, 2>{gd, gq};
    });
  });
}

}  // namespace mpq::quant::cpu
