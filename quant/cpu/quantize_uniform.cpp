// CPU kernels of the fused quantizers (contiguous input). Forward writes q;
// backward writes dx and returns the parameter-gradient sums, reduced per
// block of kBlock elements and then over blocks in order, in double.
#include <algorithm>
#include <cmath>

#include "core/backend.h"
#include "quant/cpu/block_reduce.h"

namespace mpq::quant::cpu {

namespace {

// round(v), half away from zero, for |v| < 2^30: truncate through int32
// (cvttps2dq, vectorisable on every x86-64, unlike a call to std::round) and
// step one away from zero when the dropped fraction is at least one half. The
// fraction v - trunc(v) is exact in floating point, so ties go the right way.
template <class T>
inline T round_half_away(T v) {
  const T t = static_cast<T>(static_cast<std::int32_t>(v));
  const T f = v - t;
  return t + static_cast<T>(f >= T(0.5)) - static_cast<T>(f <= T(-0.5));
}

// The clipped input c = clip(x, lo, hi) satisfies |c / d| <= q_max / d, so the
// int32 rounding path is exact when q_max / d < 2^30; otherwise use std::round.
bool int_rounding_ok(double d, double qmax) {
  return qmax / d < 1073741824.0;
}

// The loops live in functions of their own, taking every constant by value and
// the arrays as __restrict pointers: inside a [&] lambda the constants would be
// read through the closure, which the compiler must assume the stores alias,
// and the loops would not vectorise.
template <class T>
void forward_range(const T* __restrict px, T* __restrict pq, std::int64_t b, std::int64_t e, T td,
                   T inv, T lo, T hi, bool fast) {
  if (fast) {
    // q = d round(clip(x, lo, hi) / d); a NaN input stays NaN.
    for (std::int64_t i = b; i < e; ++i) {
      const T xi = px[i];
      // NaN is replaced by 0 before the int32 conversion (a NaN cast is
      // undefined) and put back afterwards.
      const T c = xi < lo ? lo : (xi > hi ? hi : (xi == xi ? xi : T(0)));
      const T r = td * round_half_away(c * inv);
      pq[i] = xi == xi ? r : xi;
    }
  } else {
    for (std::int64_t i = b; i < e; ++i) {
      const T c = px[i] < lo ? lo : (px[i] > hi ? hi : px[i]);
      pq[i] = td * std::round(c * inv);
    }
  }
}

// Per element, with c the clipped input:
//   inside [lo, hi]: dq/dx = 1, dq/dd = round(x/d) - x/d, dq/dq_max = 0
//   above hi:        dq/dx = 0, dq/dd = r_hi,             dq/dq_max = 1
//   below lo:        dq/dx = 0, dq/dd = r_lo,             dq/dq_max = -1 (signed) / 0
// Branch-free, in T, so that the loop vectorises (GCC 12 does not vectorise a
// float loop feeding double sums). `omp simd reduction` keeps one partial sum
// per vector lane over sub-blocks of kSub elements (at most kSub / lanes
// rounding steps in T), and the sub-block sums are added in double. The lane
// split is fixed by the compiled code and the block bounds by kBlock, so the
// result does not depend on the thread count.
template <class T, bool kWriteDx, bool kFast>
std::array<double, 2> backward_range(const T* __restrict px, const T* __restrict pg,
                                     T* __restrict pdx, std::int64_t b, std::int64_t e, T inv, T lo,
                                     T hi, T r_hi, T r_lo, T q_lo) {
  constexpr std::int64_t kSub = 256;
  double total_d = 0, total_q = 0;
  for (std::int64_t sb = b; sb < e; sb += kSub) {
    const std::int64_t se = std::min(e, sb + kSub);
    T gd = 0, gq = 0;
#pragma omp simd reduction(+ : gd, gq)
    for (std::int64_t i = sb; i < se; ++i) {
      const T xi = px[i], gi = pg[i];
      const bool above = xi > hi, below = xi < lo, inside = !above && !below;
      // The residual is only used inside the range; taking it from the clipped
      // value (NaN -> 0) keeps |v| <= q_max / d: the int32 rounding never overflows.
      const T c = below ? lo : (above ? hi : (xi == xi ? xi : T(0)));
      const T v = c * inv;
      T r;
      if constexpr (kFast)
        r = round_half_away(v) - v;
      else
        r = std::round(v) - v;
      const T sd = inside ? r : (above ? r_hi : r_lo);
      const T sq = above ? T(1) : (below ? q_lo : T(0));
      gd += gi * sd;
      gq += gi * sq;
      if constexpr (kWriteDx) pdx[i] = inside ? gi : T(0);
    }
    total_d += static_cast<double>(gd);
    total_q += static_cast<double>(gq);
  }
  return {total_d, total_q};
}

}  // namespace

void quantize_uniform_forward(const Tensor& x, double d, double qmax, bool is_signed,
                              const Tensor& q) {
  dispatch_floating(x.dtype(), "quantize_uniform", [&]<class T>() {
    const T* px = x.data<T>();
    T* pq = q.data<T>();
    const T td = static_cast<T>(d), inv = static_cast<T>(1.0 / d), hi = static_cast<T>(qmax);
    const T lo = is_signed ? -hi : T(0);
    const bool fast = int_rounding_ok(d, qmax);
    parallel_for(0, x.numel(), 16384, [&](std::int64_t b, std::int64_t e) {
      forward_range<T>(px, pq, b, e, td, inv, lo, hi, fast);
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
    const double q_lo = is_signed ? -1.0 : 0.0;  // dq/dq_max below the range
    const bool fast = int_rounding_ok(d, qmax);
    const T tinv = static_cast<T>(inv), tr_hi = static_cast<T>(r_hi), tr_lo = static_cast<T>(r_lo),
            tq_lo = static_cast<T>(q_lo);
    return block_reduce<2>(x.numel(), [&](std::int64_t b, std::int64_t e) {
      // Four instantiations, so that no branch is left inside the loop.
      if (pdx && fast)
        return backward_range<T, true, true>(px, pg, pdx, b, e, tinv, lo, hi, tr_hi, tr_lo, tq_lo);
      if (pdx)
        return backward_range<T, true, false>(px, pg, pdx, b, e, tinv, lo, hi, tr_hi, tr_lo, tq_lo);
      if (fast)
        return backward_range<T, false, true>(px, pg, pdx, b, e, tinv, lo, hi, tr_hi, tr_lo, tq_lo);
      return backward_range<T, false, false>(px, pg, pdx, b, e, tinv, lo, hi, tr_hi, tr_lo, tq_lo);
    });
  });
}

// The backend table's entries: d and q_max are read on the host and checked
// here (a GPU backend leaves them on the device); the parameter gradients are
// written as one-element tensors.
namespace {

std::pair<double, double> host_params(const Tensor& d_t, const Tensor& qmax_t) {
  const double d = d_t.item(), qmax = qmax_t.item();
  MPQ_CHECK(d > 0 && std::isfinite(d) && qmax > 0 && std::isfinite(qmax),
            "quantize_uniform: step size d = ", d, " and range q_max = ", qmax,
            " must be positive and finite");
  return {d, qmax};
}

const BackendRegistration registration(DeviceType::cpu, [](Backend& b) {
  b.quantize_uniform_forward = [](const Tensor& x, const Tensor& d_t, const Tensor& qmax_t,
                                  bool is_signed, const Tensor& q) {
    const auto [d, qmax] = host_params(d_t, qmax_t);
    quantize_uniform_forward(x, d, qmax, is_signed, q);
  };
  b.quantize_uniform_backward = [](const Tensor& g, const Tensor& x, const Tensor& d_t,
                                   const Tensor& qmax_t, bool is_signed, const Tensor& dx,
                                   const Tensor& gd, const Tensor& gq) {
    const auto [d, qmax] = host_params(d_t, qmax_t);
    const auto [sd, sq] = quantize_uniform_backward(g, x, d, qmax, is_signed, dx);
    Tensor(gd).fill_(sd);
    Tensor(gq).fill_(sq);
  };
});

}  // namespace

}  // namespace mpq::quant::cpu
