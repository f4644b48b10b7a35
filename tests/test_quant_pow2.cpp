// Power-of-two quantizer: P1, P2, P3, signed/unsigned, with/without zero,
// against hand-derived values and gradients of docs/method.md sections 1-3.
#include <bit>
#include <cstdint>
#include <numbers>

#include "quant/quantize_pow2.h"
#include "quant_util.h"

using namespace mpq;
using namespace mpq::quant;
using test::check_vec;
using test::run_quantizer;
constexpr double ln2 = std::numbers::ln2;

namespace {
QuantizerSpec spec(Parametrization p, bool is_signed, bool with_zero) {
  QuantizerSpec s = is_signed ? QuantizerSpec::weights(p) : QuantizerSpec::activations(p);
  s.with_zero = with_zero;
  return s;
}
}  // namespace

TEST_CASE("P3 signed without zero: levels, input gradient, q_min/q_max gradients, bitwidth",
          "[quant][P3]") {
  Quantizer qz(spec(Parametrization::P3, true, false), 0.125, 2.0, DType::f64);
  const std::vector<double> x{0.05, -0.3, 0.7, -3.0, 1.5, 0.2}, g{1, 2, 3, 4, 5, 6};
  const auto r = run_quantizer(qz, x, g);
  // below q_min -> s q_min; middle -> s 2^round(log2|x|); at/above q_max -> s q_max
  check_vec(r.q, {0.125, -0.25, 0.5, -2.0, 2.0, 0.25});
  // dq/dx = 2^round(log2|x|)/|x| in the middle, 0 elsewhere
  check_vec(r.dx, {0, 2 * 0.25 / 0.3, 3 * 0.5 / 0.7, 0, 5 * 2 / 1.5, 6 * 0.25 / 0.2});
  CHECK(r.g_first == Approx(1.0));    // (s, 0) below q_min
  CHECK(r.g_second == Approx(-4.0));  // (0, s) above q_max
  // b = max(ceil(log2(log2(q_max/q_min) + 1)) + 1, 2) = ceil(log2 5) + 1 = 4
  CHECK(qz.bitwidth().item() == 4);
  const auto [bmin, bmax] = test::bitwidth_gradient(qz);
  // STE: b ~ log2(log2(q_max/q_min) + 1): d/dq_max = 1/((L+1) ln2 q_max ln2), L = 4
  CHECK(bmax == Approx(1.0 / (5 * ln2 * 2.0 * ln2)));
  CHECK(bmin == Approx(-1.0 / (5 * ln2 * 0.125 * ln2)));
}

TEST_CASE("P3 with zero; the pow2 factor; bounds", "[quant][P3]") {
  Quantizer qz(spec(Parametrization::P3, true, true), 0.125, 2.0, DType::f64);
  const auto r = run_quantizer(qz, {0.05, 0.1, -0.1, 3.0}, {1, 2, 4, 8});
  // a < q_min/sqrt2 (0.088) -> 0; q_min/sqrt2 <= a < q_min -> s q_min
  check_vec(r.q, {0.0, 0.125, -0.125, 2.0});
  CHECK(r.g_first == Approx(2 - 4));
  CHECK(r.g_second == Approx(8));
  CHECK(qz.bitwidth().item() == 5);  // + the zero level
  // Raw q_min = 0.1 -> pow2 = 0.125: gradient scaled by 0.125/0.1.
  Quantizer f(spec(Parametrization::P3, true, false), 0.1, 3.0,
              DType::f64);  // q_max -> pow2(3) = 4
  const auto rf = run_quantizer(f, {0.01, 9.0}, {1, 1});
  check_vec(rf.q, {0.125, 4.0});
  CHECK(rf.g_first == Approx(0.125 / 0.1));
  CHECK(rf.g_second == Approx(4.0 / 3.0));
  // q_max beyond its bound (500 > 127) -> clipped, no gradient.
  Quantizer o(spec(Parametrization::P3, true, false), 0.125, 500.0, DType::f64);
  CHECK(run_quantizer(o, {1000.0}, {1}).g_second == 0.0);
  CHECK(o.values().qmax == 128.0);  // pow2(127)
  // Equal q_min and q_max: one magnitude level; bitwidth floors at b_min = 2.
  Quantizer eq(spec(Parametrization::P3, true, false), 0.5, 0.5, DType::f64);
  CHECK(eq.bitwidth().item() == 2);
  CHECK(test::bitwidth_gradient(eq).second == 0.0);
}

TEST_CASE("P3 unsigned with zero: relu first", "[quant][P3]") {
  Quantizer qz(spec(Parametrization::P3, false, true), 0.125, 2.0, DType::f64);
  const auto r = run_quantizer(qz, {0.1, -0.5, 0.7, 3.0}, {1, 2, 3, 4});
  check_vec(r.q, {0.125, 0.0, 0.5, 2.0});
  check_vec(r.dx, {0, 0, 3 * 0.5 / 0.7, 0});
  CHECK(r.g_first == Approx(1));
  CHECK(r.g_second == Approx(4));
  CHECK(qz.bitwidth().item() == 4);  // 3 + zero level
  // Unsigned without zero maps x <= 0 to q_min (there is no zero level).
  Quantizer nz(spec(Parametrization::P3, false, false), 0.125, 2.0, DType::f64);
  check_vec(run_quantizer(nz, {-1.0, 0.0}, {1, 1}).q, {0.125, 0.125});
}

TEST_CASE("P1: q_min = q_max 2^-(2^n_e - 1); gradients of b and q_max", "[quant][P1]") {
  // b = 3, signed, no zero: n_e = 2, span 3; q_max = pow2(1.9) = 2, q_min = 0.25.
  Quantizer qz(spec(Parametrization::P1, true, false), 3.0, 1.9, DType::f64);
  CHECK(qz.values().qmin == 0.25);
  CHECK(qz.values().qmax == 2.0);
  const auto r = run_quantizer(qz, {0.1, -0.3, 0.7, -3.0}, {1, 2, 3, 4});
  check_vec(r.q, {0.25, -0.25, 0.5, -2.0});
  const double s_min = 1, s_max = -4;
  CHECK(r.g_second == Approx((s_max + s_min * 0.125) * 2.0 / 1.9));
  // dq_min/db = -q_min 2^n_e ln2^2: grows like 2^(b-1) (docs/method.md section 3)
  CHECK(r.g_first == Approx(s_min * -0.25 * 4 * ln2 * ln2));
  CHECK(qz.bitwidth().item() == 3);
}

TEST_CASE("P2: q_max = q_min 2^(2^n_e - 1); gradients of b and q_min", "[quant][P2]") {
  Quantizer qz(spec(Parametrization::P2, true, false), 3.0, 0.25, DType::f64);
  CHECK(qz.values().qmax == 2.0);
  const auto r = run_quantizer(qz, {0.1, -0.3, 0.7, -3.0}, {1, 2, 3, 4});
  check_vec(r.q, {0.25, -0.25, 0.5, -2.0});
  const double s_min = 1, s_max = -4;
  CHECK(r.g_second == Approx(s_min + s_max * 8));
  CHECK(r.g_first == Approx(s_max * 2.0 * 4 * ln2 * ln2));
  // b at its lower bound 2 (raw 1.0 < 2): clipped, no gradient.
  Quantizer low(spec(Parametrization::P2, true, false), 1.0, 0.25, DType::f64);
  CHECK(low.bitwidth().item() == 2);
  CHECK(low.values().qmax == 0.5);  // n_e = 1: q_min 2^1
  CHECK(run_quantizer(low, {3.0}, {1}).g_first == 0.0);
}

TEST_CASE("pow2: initialisation, clipping and baselines", "[quant]") {
  const Tensor w = from_vector<float>({0.3f, -1.3f}, {2});
  const QuantizerValues v = initial_values(spec(Parametrization::P3, true, false), 4, w);
  CHECK(v.qmax == 1.0);                             // pow2(1.3)
  CHECK(v.qmin == std::exp2(-(std::exp2(3) - 1)));  // n_e = 4 - 1 = 3
  Quantizer p3(spec(Parametrization::P3, true, false), 2.0, 1.0, DType::f64);
  p3.clip_parameters();
  CHECK(p3.raw("qmin").item() <= p3.raw("qmax").item() - 1e-5 + 1e-15);
  p3.raw("qmin").set_grad(scalar_tensor(-5.0, DType::f64));
  p3.clip_gradients();
  CHECK(p3.raw("qmin").grad().item() == Approx(-p3.raw("qmin").item()));
  Quantizer fixed = make_fixed_quantizer(spec(Parametrization::P3, true, false), 4, w, DType::f64);
  CHECK(fixed.spec().param == Parametrization::P1);
  CHECK(fixed.parameters().empty());
  Quantizer tqt =
      make_learn_qmax_quantizer(spec(Parametrization::P2, true, false), 4, w, DType::f64);
  CHECK(tqt.spec().param == Parametrization::P1);
  CHECK(tqt.parameters().size() == 1);
}

TEST_CASE("quantize_pow2: the float32 bit-level rounding equals the float64 frexp rule",
          "[quant][pow2]") {
  // Mantissas straddling sqrt(2) (0x3504F3 rounds down, 0x3504F4 up), exact
  // powers of two, their neighbours, and signs, over several exponents.
  std::vector<float> xs;
  for (int e : {-10, -3, 0, 1, 5}) {
    for (std::uint32_t mant :
         {0x000000u, 0x000001u, 0x3504F2u, 0x3504F3u, 0x3504F4u, 0x3504F5u, 0x400000u, 0x7FFFFFu}) {
      const std::uint32_t bits = (static_cast<std::uint32_t>(127 + e) << 23) | mant;
      const float v = std::bit_cast<float>(bits);
      xs.push_back(v);
      xs.push_back(-v);
    }
  }
  const std::int64_t n = static_cast<std::int64_t>(xs.size());
  for (bool with_zero : {false, true}) {
    const Tensor x32 = from_vector(xs, {n});
    const Tensor q32 = quantize_pow2(x32, scalar_tensor(std::ldexp(1.0, -12)),
                                     scalar_tensor(std::ldexp(1.0, 8)), true, with_zero);
    const Tensor q64 =
        quantize_pow2(x32.to(DType::f64), scalar_tensor(std::ldexp(1.0, -12), DType::f64),
                      scalar_tensor(std::ldexp(1.0, 8), DType::f64), true, with_zero);
    const auto a = q32.to_vector<double>(), b = q64.to_vector<double>();
    for (std::int64_t i = 0; i < n; ++i) {
      INFO("x = " << xs[i] << " with_zero " << with_zero);
      CHECK(a[i] == b[i]);
    }
  }
}
