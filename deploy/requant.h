// Requantization: from a layer's int32 sums to the next quantizer's levels,
// in integers only (docs/integer.md, "Requantization").
//
// A channel's real pre-activation in units of the output step is
//   t = m * acc + r (+ 2^e_res * residual level)
// with m = scale * step_in * step_w / step_out and r = shift / step_out.
// Fixed point with F fractional bits (F chosen per channel so that
// 2^30 <= |M| < 2^31):
//   M = round(m 2^F), R = round(r 2^F),  T = M acc + R + (residual << (F + e_res))
// M is exact whenever m has at most 31 significant bits: a float32 scale
// times powers of two (24 bits) always does, so for every layer but the stem
// (whose 1 / std is not a power of two) T / 2^F is t exactly up to R's
// rounding at 2^-F.
// The output level is then the quantizer applied to t = T / 2^F:
//   uniform:      clamp(round(t), 0, L), round = half away from zero (the
//                 fake-quant kernels' rule, quant/cpu/quantize_uniform.cpp)
//   power of two: 0 below 2^-1/2 (with zero; without zero: 1), else 2^k with
//                 k = clamp(round(log2 t), 0, K), the geometric midpoint
//                 2^(k + 1/2) rounding up (quant/cpu/quantize_pow2.cpp)
#pragma once

#include <cstdint>

#include "deploy/integer_model.h"

namespace mpq::deploy {

struct Requant {
  std::int64_t multiplier = 0;  // M
  std::int64_t offset = 0;      // R
  int frac_bits = 0;            // F
};

// M, R and F for real m and r. mpq::Error when m is not finite or not
// positive-or-zero-representable, or r does not fit 2^62 at that F.
Requant make_requant(double m, double r);

// The output level for the fixed-point value T (see the header comment).
std::int32_t requantize_uniform(std::int64_t t, int frac_bits, std::int32_t top);
std::int32_t requantize_pow2(std::int64_t t, int frac_bits, int top, bool with_zero);
// The same, dispatched on the output grid.
inline std::int32_t requantize(std::int64_t t, int frac_bits, const Grid& g) {
  return g.kind == GridKind::uniform ? requantize_uniform(t, frac_bits, g.top)
                                     : requantize_pow2(t, frac_bits, g.top, g.with_zero);
}

}  // namespace mpq::deploy
