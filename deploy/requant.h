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
#include <vector>

#include "deploy/integer_model.h"

namespace mpq::deploy {

struct Requant {
  std::int64_t multiplier = 0;  // M
  std::int64_t offset = 0;      // R
  int frac_bits = 0;            // F
};

// M, R and F for real m and r. mpq::Error when m or r is not finite, m is
// out of the range [2^-32, 2^29] (F in [1, 62]) or r does not fit 2^62 at
// that F.
Requant make_requant(double m, double r);

// The F of several multipliers that share one fixed point (a conv and its
// projection shortcut, the stem's input channels): the largest |m| gets 31
// significant bits, and every round(m 2^F) fits int32.
int joint_frac_bits(const std::vector<double>& multipliers);
// round(v 2^F), checked to be below `limit` in magnitude (`what` names it).
std::int64_t to_fixed(double v, int frac_bits, double limit, const char* what);

// The output level for the fixed-point value T (see the header comment).
std::int32_t requantize_uniform(std::int64_t t, int frac_bits, std::int32_t top);
std::int32_t requantize_pow2(std::int64_t t, int frac_bits, int top, bool with_zero);
// The same, dispatched on the output grid.
inline std::int32_t requantize(std::int64_t t, int frac_bits, const Grid& g) {
  return g.kind == GridKind::uniform ? requantize_uniform(t, frac_bits, g.top)
                                     : requantize_pow2(t, frac_bits, g.top, g.with_zero);
}

}  // namespace mpq::deploy
