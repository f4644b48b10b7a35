// CPU kernels of the fused quantizers (contiguous input). Forward writes q;
// backward writes dx and returns the parameter-gradient sums, reduced per
// block of kBlock elements and then over blocks in order, in double.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>

#include "core/backend.h"
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

// ---- float32 fast path --------------------------------------------------------
// For a normal float a = (1 + f / 2^23) 2^e, log2 a rounds to e + 1 exactly when
// 1 + f / 2^23 >= sqrt(2), i.e. f >= ceil((sqrt(2) - 1) 2^23) = 0x3504F4 (the
// same rule as pow2_level's frexp test), so 2^round(log2 a) is the exponent
// field plus that carry: integer operations the compiler vectorises, where
// frexp/ldexp are library calls. Valid when every middle-region value is a
// normal float, i.e. q_min >= FLT_MIN (always true for the quantizers' bounds).
constexpr std::uint32_t kSqrt2Mantissa = 0x3504F4;

inline float pow2_level_bits(float a) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(a);
  const std::uint32_t up = (bits & 0x007FFFFFu) >= kSqrt2Mantissa ? 1u : 0u;
  return std::bit_cast<float>((bits & 0x7F800000u) + (up << 23));
}

// Region selection as blends: zero / q_min / middle / q_max, in the order of
// region() above (zero wins over q_min, q_max over the middle).
// Signedness and the zero level are template parameters: loop-invariant
// branches left in the loop make GCC 12 fall back to scalar code.
template <bool is_signed, bool with_zero>
void forward_range_f32(const float* __restrict px, float* __restrict pq, std::int64_t b,
                       std::int64_t e, float lo, float hi, float zero_below) {
#pragma omp simd
  for (std::int64_t i = b; i < e; ++i) {
    float v = px[i];
    if constexpr (!is_signed) v = v > 0.0f ? v : 0.0f;
    const float s = v >= 0.0f ? 1.0f : -1.0f;
    const float a = std::abs(v);
    float m = a < lo ? lo : (a >= hi ? hi : pow2_level_bits(a));
    if constexpr (with_zero) m = a < zero_below ? 0.0f : m;
    pq[i] = v == v ? s * m : v;  // a NaN input stays NaN
  }
}

template <bool kWriteDx, bool is_signed, bool with_zero>
std::array<double, 2> backward_range_f32(const float* __restrict px, const float* __restrict pg,
                                         float* __restrict pdx, std::int64_t b, std::int64_t e,
                                         float lo, float hi, float zero_below) {
  // Sub-block sums in float (at most kSub / lanes rounding steps), added in double.
  constexpr std::int64_t kSub = 256;
  double total_min = 0, total_max = 0;
  for (std::int64_t sb = b; sb < e; sb += kSub) {
    const std::int64_t se = std::min(e, sb + kSub);
    float gmin = 0, gmax = 0;
#pragma omp simd reduction(+ : gmin, gmax)
    for (std::int64_t i = sb; i < se; ++i) {
      float v = px[i];
      if constexpr (!is_signed) v = v > 0.0f ? v : 0.0f;
      const float s = v >= 0.0f ? 1.0f : -1.0f;
      const float a = std::abs(v);
      const bool zero = with_zero && a < zero_below;
      const bool at_min = !zero && a < lo;
      const bool at_max = !zero && !at_min && a >= hi;
      const bool middle = !zero && !at_min && !at_max;
      const float g = pg[i];
      gmin += at_min ? g * s : 0.0f;
      gmax += at_max ? g * s : 0.0f;
      // d/dx s 2^round(log2|x|) with round -> identity: 2^round(log2 a) / a.
      const float safe_a = middle ? a : 1.0f;
      if constexpr (kWriteDx) pdx[i] = middle ? g * pow2_level_bits(safe_a) / safe_a : 0.0f;
    }
    total_min += static_cast<double>(gmin);
    total_max += static_cast<double>(gmax);
  }
  return {total_min, total_max};
}

// Calls f.template operator()<is_signed, with_zero>() for the runtime flags.
template <class F>
auto with_flags(bool is_signed, bool with_zero, F&& f) {
  if (is_signed)
    return with_zero ? f.template operator()<true, true>() : f.template operator()<true, false>();
  return with_zero ? f.template operator()<false, true>() : f.template operator()<false, false>();
}

bool fast_f32(const Tensor& x, double qmin) {
  return x.dtype() == DType::f32 && qmin >= static_cast<double>(std::numeric_limits<float>::min());
}

}  // namespace

void quantize_pow2_forward(const Tensor& x, double qmin, double qmax, bool is_signed,
                           bool with_zero, const Tensor& q) {
  if (fast_f32(x, qmin)) {
    const float* px = x.data<float>();
    float* pq = q.data<float>();
    const float lo = static_cast<float>(qmin), hi = static_cast<float>(qmax);
    const float zero_below = static_cast<float>(qmin / std::numbers::sqrt2);
    with_flags(is_signed, with_zero, [&]<bool S, bool Z>() {
      parallel_for(0, x.numel(), 16384, [&](std::int64_t b, std::int64_t e) {
        forward_range_f32<S, Z>(px, pq, b, e, lo, hi, zero_below);
      });
    });
    return;
  }
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
        if (v != v) {  // NaN stays NaN, as in the float32 path
          pq[i] = v;
          continue;
        }
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
  if (fast_f32(x, qmin)) {
    const float* px = x.data<float>();
    const float* pg = g.data<float>();
    float* pdx = dx.defined() ? dx.data<float>() : nullptr;
    const float lo = static_cast<float>(qmin), hi = static_cast<float>(qmax);
    const float zero_below = static_cast<float>(qmin / std::numbers::sqrt2);
    return with_flags(is_signed, with_zero, [&]<bool S, bool Z>() {
      return block_reduce<2>(x.numel(), [&](std::int64_t b, std::int64_t e) {
        return pdx ? backward_range_f32<true, S, Z>(px, pg, pdx, b, e, lo, hi, zero_below)
                   : backward_range_f32<false, S, Z>(px, pg, pdx, b, e, lo, hi, zero_below);
      });
    });
  }
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

// The backend table's entries: q_min and q_max are read on the host and
// checked here (a GPU backend leaves them on the device); the parameter
// gradients are written as one-element tensors.
namespace {

std::pair<double, double> host_params(const Tensor& qmin_t, const Tensor& qmax_t) {
  const double qmin = qmin_t.item(), qmax = qmax_t.item();
  MPQ_CHECK(qmin > 0 && std::isfinite(qmax) && qmin <= qmax,
            "quantize_pow2: need 0 < q_min <= q_max, got q_min = ", qmin, ", q_max = ", qmax);
  return {qmin, qmax};
}

const BackendRegistration registration(DeviceType::cpu, [](Backend& b) {
  b.quantize_pow2_forward = [](const Tensor& x, const Tensor& qmin_t, const Tensor& qmax_t,
                               bool is_signed, bool with_zero, const Tensor& q) {
    const auto [qmin, qmax] = host_params(qmin_t, qmax_t);
    quantize_pow2_forward(x, qmin, qmax, is_signed, with_zero, q);
  };
  b.quantize_pow2_backward = [](const Tensor& g, const Tensor& x, const Tensor& qmin_t,
                                const Tensor& qmax_t, bool is_signed, bool with_zero,
                                const Tensor& dx, const Tensor& gmin, const Tensor& gmax) {
    const auto [qmin, qmax] = host_params(qmin_t, qmax_t);
    const auto [smin, smax] = quantize_pow2_backward(g, x, qmin, qmax, is_signed, with_zero, dx);
    Tensor(gmin).fill_(smin);
    Tensor(gmax).fill_(smax);
  };
});

}  // namespace

}  // namespace mpq::quant::cpu
