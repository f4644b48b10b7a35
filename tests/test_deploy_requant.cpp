// Requantization (deploy/requant.h): the fixed point is exact for float32
// scales, ties round half away from zero, saturation at both ends, the
// power-of-two rule's midpoints, and the integer rule against the
// fake-quant kernels training uses (quant/quantize_uniform.h,
// quant/quantize_pow2.h) on random values and on every tie.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "deploy/requant.h"
#include "quant/quantize_pow2.h"
#include "quant/quantize_uniform.h"

using namespace mpq;
using namespace mpq::deploy;

namespace {
// T for a real t at F fractional bits (exact for the values used here).
std::int64_t fixed(double t, int frac_bits) {
  return std::llround(std::ldexp(t, frac_bits));
}
}  // namespace

TEST_CASE("requant: the multiplier of a float32 scale is exact", "[deploy]") {
  Generator g(3);
  for (int i = 0; i < 1000; ++i) {
    // A float32 scale times powers of two, as the engine's multipliers are.
    const auto scale = static_cast<float>(g.uniform(0.01, 4.0));
    const double m = std::ldexp(static_cast<double>(scale), static_cast<int>(g.below(20)) - 10);
    const Requant q = make_requant(m, 0.25);
    CHECK(std::ldexp(static_cast<double>(q.multiplier), -q.frac_bits) == m);
    CHECK(std::llabs(q.multiplier) >= (std::int64_t{1} << 30));
    CHECK(std::llabs(q.multiplier) < (std::int64_t{1} << 31));
    CHECK(q.offset == std::int64_t{1} << (q.frac_bits - 2));
  }
  CHECK(make_requant(0.0, 1.5).offset == fixed(1.5, 30));
  CHECK_THROWS_AS(make_requant(std::nan(""), 0), Error);
  CHECK_THROWS_AS(make_requant(1e12, 0), Error);     // beyond the range of F
  CHECK_THROWS_AS(make_requant(1e-3, 1e20), Error);  // the offset overflows
}

TEST_CASE("requant: uniform ties round half away from zero, both ends saturate", "[deploy]") {
  const int f = 20;
  CHECK(requantize_uniform(fixed(0.5, f), f, 15) == 1);
  CHECK(requantize_uniform(fixed(0.5, f) - 1, f, 15) == 0);
  CHECK(requantize_uniform(fixed(1.5, f), f, 15) == 2);
  CHECK(requantize_uniform(fixed(2.5, f), f, 15) == 3);  // not to even
  CHECK(requantize_uniform(fixed(2.5, f) - 1, f, 15) == 2);
  CHECK(requantize_uniform(fixed(14.5, f), f, 15) == 15);
  CHECK(requantize_uniform(fixed(15.5, f), f, 15) == 15);  // past the top level
  CHECK(requantize_uniform(fixed(1e6, f), f, 15) == 15);
  CHECK(requantize_uniform(0, f, 15) == 0);
  CHECK(requantize_uniform(fixed(-0.5, f), f, 15) == 0);  // the ReLU side
  CHECK(requantize_uniform(fixed(-1e6, f), f, 15) == 0);
  CHECK(requantize_uniform(fixed(254.5, f), f, 255) == 255);
}

TEST_CASE("requant: power-of-two levels, geometric midpoints round up", "[deploy]") {
  const int f = 30;
  const double r2 = std::sqrt(2.0);
  // Zero below 2^-1/2; q_min from there (with zero); q_min below (without).
  CHECK(requantize_pow2(fixed(0.7071067, f), f, 5, true) == 0);
  CHECK(requantize_pow2(fixed(0.7071068, f), f, 5, true) == 1);
  CHECK(requantize_pow2(fixed(0.1, f), f, 5, false) == 1);
  CHECK(requantize_pow2(-fixed(3.0, f), f, 5, true) == 0);
  CHECK(requantize_pow2(-fixed(3.0, f), f, 5, false) == 1);
  // 2^k from 2^k / sqrt 2 up to just below 2^k sqrt 2.
  for (int k = 0; k < 5; ++k) {
    const double lo = std::ldexp(1.0, k) / r2, hi = std::ldexp(1.0, k) * r2;
    if (k > 0) CHECK(requantize_pow2(fixed(lo, f) + 1, f, 5, true) == (1 << k));
    CHECK(requantize_pow2(fixed(hi, f) - 1, f, 5, true) == (1 << k));
    CHECK(requantize_pow2(fixed(hi, f) + 1, f, 5, true) == (2 << k));
  }
  // Saturation at 2^K.
  CHECK(requantize_pow2(fixed(1000.0, f), f, 5, true) == 32);
  CHECK(requantize_pow2(fixed(40.0, f), f, 5, true) == 32);
}

TEST_CASE("requant: the integer rules equal the fake-quant kernels", "[deploy]") {
  // y real, step d = 2^e: the kernels' Q(y) / d against the integer rule on
  // T = y 2^F / d (exact: y is a float32, F large).
  Generator g(11);
  std::vector<float> ys;
  for (int i = 0; i < 4000; ++i) ys.push_back(static_cast<float>(g.uniform(-3.0, 20.0)));
  for (int k = -4; k <= 40; ++k) ys.push_back(static_cast<float>(k) + 0.5f);  // every tie
  for (int k = 0; k <= 6; ++k) {  // the power-of-two midpoints, to float32 precision
    ys.push_back(static_cast<float>(std::ldexp(std::sqrt(2.0), k)));
    ys.push_back(static_cast<float>(std::ldexp(1.0 / std::sqrt(2.0), k)));
  }
  const Tensor x = from_vector<float>(ys, {static_cast<std::int64_t>(ys.size())});
  const int e = -1;  // d = 1/2: values y / d up to 40 levels
  const double d = std::ldexp(1.0, e);
  const int frac = 40;
  SECTION("uniform") {
    for (std::int32_t top : {1, 3, 15, 31, 255}) {
      const Tensor q = quant::quantize_uniform(x, scalar_tensor(d), scalar_tensor(top * d), false);
      const std::vector<float> qv = q.to_vector<float>();
      for (std::size_t i = 0; i < ys.size(); ++i) {
        INFO("y = " << ys[i] << ", L = " << top);
        const std::int64_t t = fixed(static_cast<double>(ys[i]) / d, frac);
        CHECK(requantize_uniform(t, frac, top) == static_cast<std::int32_t>(qv[i] / d));
      }
    }
  }
  SECTION("power of two") {
    for (bool with_zero : {true, false})
      for (int top : {0, 2, 5, 7}) {
        const Tensor q = quant::quantize_pow2(x, scalar_tensor(d),
                                              scalar_tensor(std::ldexp(d, top)), false, with_zero);
        const std::vector<float> qv = q.to_vector<float>();
        for (std::size_t i = 0; i < ys.size(); ++i) {
          INFO("y = " << ys[i] << ", K = " << top << (with_zero ? ", with zero" : ""));
          const std::int64_t t = fixed(static_cast<double>(ys[i]) / d, frac);
          CHECK(requantize_pow2(t, frac, top, with_zero) == static_cast<std::int32_t>(qv[i] / d));
        }
      }
  }
}
