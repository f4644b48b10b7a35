#include "deploy/requant.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "core/error.h"

namespace mpq::deploy {

namespace {
// T^2 needs 128 bits (GCC and Clang have them; __extension__: not ISO C++).
__extension__ using u128 = unsigned __int128;
}  // namespace

int joint_frac_bits(const std::vector<double>& multipliers) {
  double big = 0;
  for (const double m : multipliers) {
    MPQ_CHECK(std::isfinite(m), "requantization: a non-finite multiplier ", m);
    big = std::max(big, std::fabs(m));
  }
  // 2^30 <= |m| 2^F < 2^31: F = 30 - floor(log2 |m|). All zero (a channel
  // whose batch-norm scale is 0) leaves only the offset.
  int f = big == 0 ? 30 : 30 - std::ilogb(big);
  // A multiplier of more than 31 significant bits (the stem's 1 / std) may
  // round up to 2^31: one bit less then.
  if (std::fabs(std::nearbyint(std::ldexp(big, f))) >= 0x1p31) --f;
  MPQ_CHECK(f >= 1 && f <= 62, "requantization: multiplier ", big,
            " is out of the engine's range [2^-32, 2^29]");
  return f;
}

std::int64_t to_fixed(double v, int frac_bits, double limit, const char* what) {
  const double x = std::nearbyint(std::ldexp(v, frac_bits));
  MPQ_CHECK(std::isfinite(x) && std::fabs(x) < limit, "requantization: ", what, " ", v,
            " does not fit the fixed point at ", frac_bits, " fractional bits");
  return static_cast<std::int64_t>(x);
}

Requant make_requant(double m, double r) {
  MPQ_CHECK(std::isfinite(r), "requantization: a non-finite offset ", r);
  Requant q;
  q.frac_bits = joint_frac_bits({m});
  q.multiplier = to_fixed(m, q.frac_bits, 0x1p31, "multiplier");
  q.offset = to_fixed(r, q.frac_bits, 0x1p62, "offset");
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
