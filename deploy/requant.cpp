#include "deploy/requant.h"

#include <bit>
#include <cmath>

#include "core/error.h"

namespace mpq::deploy {

namespace {
// T^2 needs 128 bits (GCC and Clang have them; __extension__: not ISO C++).
__extension__ using u128 = unsigned __int128;
}  // namespace

Requant make_requant(double m, double r) {
  MPQ_CHECK(std::isfinite(m) && std::isfinite(r), "requantization: a non-finite multiplier ", m,
            " or offset ", r);
  Requant q;
  // 2^30 <= |m| 2^F < 2^31: F = 30 - floor(log2 |m|). A zero multiplier (a
  // channel whose batch-norm scale is 0) only has its offset.
  q.frac_bits = m == 0 ? 30 : 30 - std::ilogb(m);
  MPQ_CHECK(q.frac_bits >= 1 && q.frac_bits <= 62, "requantization: multiplier ", m,
            " is out of the engine's range [2^-32, 2^29]");
  q.multiplier = std::llround(std::ldexp(m, q.frac_bits));
  const double rf = std::ldexp(r, q.frac_bits);
  MPQ_CHECK(std::fabs(rf) < 0x1p62, "requantization: offset ", r, " (multiplier ", m,
            ") does not fit the 64-bit fixed point");
  q.offset = std::llround(rf);
  return q;
}

std::int32_t requantize_uniform(std::int64_t t, int frac_bits, std::int32_t top) {
  if (t <= 0) return 0;  // round(t) <= 0 clamps to the lowest level
  // Half away from zero for t > 0: floor(t / 2^F + 1/2).
  const std::int64_t half = frac_bits > 0 ? std::int64_t{1} << (frac_bits - 1) : 0;
  const std::int64_t level = (t + half) >> frac_bits;
  return level > top ? top : static_cast<std::int32_t>(level);
}

std::int32_t requantize_pow2(std::int64_t t, int frac_bits, int top, bool with_zero) {
  // With t = T / 2^F: zero below 2^-1/2, i.e. T^2 < 2^(2F - 1).
  const auto tt = static_cast<u128>(t > 0 ? t : 0);
  if (t <= 0 || tt * tt < (static_cast<u128>(1) << (2 * frac_bits - 1))) return with_zero ? 0 : 1;
  // 2^k <= t < 2^(k+1) with k = floor(log2 T) - F; round(log2 t) is k + 1
  // from 2^(k + 1/2) on: T^2 >= 2^(2(k + F) + 1).
  const int lg = std::bit_width(static_cast<std::uint64_t>(t)) - 1;  // floor(log2 T)
  int k = lg - frac_bits;
  if (tt * tt >= static_cast<u128>(1) << (2 * lg + 1)) ++k;
  if (k < 0) k = 0;
  if (k > top) k = top;
  return std::int32_t{1} << k;
}

}  // namespace mpq::deploy
