#include <cmath>
#include <numbers>

#include "quant/cpu/block_reduce.h"

namespace mpq::quant::cpu {

namespace {
// Which branch of Q_P an element falls in.
enum class Region { zero, qmin, middle, qmax };

template <class T>
Region region(T a, T qmin, T qmax, T zero_below, bool with_zero) {
  if (with_zero && a < zero_below) return Region::zero;
  if (a < qmin) return Region::qmin;
  if (a >= qmax) return Region::qmax;
  return Region::middle;
}
// 2^round(log2 a) for a > 0, exactly: with a = m 2^e (m in [0.5, 1)),
// log2 a = e + log2 m rounds to e when m >= 1/sqrt(2) and to e - 1 below.
template <class T>
T pow2_level(T a) {
  int e;
  const T m = std::frexp(a, &e);
  return std::ldexp(T(1), static_cast<double>(m) >= 0.70710678118654752440 ? e : e - 1);
}
}  // namespace

void quantize_pow2_forward(const Tensor& x, double qmin, double qmax, bool is_signed,
                           bool with_zero, const Tensor& q) {
  dispatch_floating(x.dtype(), "quantize_pow2", [&]<class T>() {
    const T* px = x.data<T>();
    T* pq = q.data<T>();
    const T lo = static_cast<T>(qmin), hi = static_cast<T>(qmax);
    const T zero_below = static_cast<T>(qmin / std::numbers::sqrt2);
    parallel_for(0, x.numel(), 8192, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) {
        const T v = is_signed ? px[i] : (px[i] > T(0) ? px[i] : T(0));
        const T s = v >= T(0) ? T(1) : T(-1);
        const T a = std::abs(v);
        switch (region(a, lo, hi, zero_below, with_zero)) {
          case Region::zero:
            pq[i] = T(0);
            break;
          case Region::qmin:
            pq[i] = s * lo;
            break;
          case Region::qmax:
            pq[i] = s * hi;
            break;
          case Region::middle:
            pq[i] = s * pow2_level(a);
            break;
        }
      }
    });
  });
}

std::array<double, 2> quantize_pow2_backward(const Tensor& g, const Tensor& x, double qmin,
                                             double qmax, bool is_signed, bool with_zero,
                                             const Tensor& dx) {
  return dispatch_floating(x.dtype(), "quantize_pow2 backward", [&]<class T>() {
    const T* px = x.data<T>();
    const T* pg = g.data<T>();
    T* pdx = dx.defined() ? dx.data<T>() : nullptr;
    const T lo = static_cast<T>(qmin), hi = static_cast<T>(qmax);
    const T zero_below = static_cast<T>(qmin / std::numbers::sqrt2);
    return block_reduce<2>(x.numel(), [&](std::int64_t b, std::int64_t e) {
      double gmin = 0, gmax = 0;
      for (std::int64_t i = b; i < e; ++i) {
        const T v = is_signed ? px[i] : (px[i] > T(0) ? px[i] : T(0));
        const T s = v >= T(0) ? T(1) : T(-1);
        const T a = std::abs(v);
        T gx = 0;
        switch (region(a, lo, hi, zero_below, with_zero)) {
          case Region::zero:
            break;
          case Region::qmin:
            gmin += pg[i] * s;
            break;
          case Region::qmax:
            gmax += pg[i] * s;
            break;
          case Region::middle:
            // d/dx s 2^round(log2|x|) with round -> identity: 2^round(log2 a) / a; relu'
            // is 1 here because a > 0 and, when unsigned, x > 0.
            gx = pg[i] * pow2_level(a) / a;
            break;
        }
        if (pdx) pdx[i] = gx;
      }
      return std::array<double, 2>{gmin, gmax};
    });
  });
}

}  // namespace mpq::quant::cpu
