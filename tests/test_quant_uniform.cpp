// Uniform quantizer: U1, U2, U3 against hand-derived values and gradients of
// docs/method.md sections 1-3. Inputs stay away from rounding boundaries.
#include <numbers>

#include "quant/quantize_uniform.h"
#include "quant_util.h"

using namespace mpq;
using namespace mpq::quant;
using test::check_vec;
using test::run_quantizer;
constexpr double ln2 = std::numbers::ln2;

namespace {
const std::vector<double> kX{0.3, -0.45, 1.2, -2.0, 0.1};
const std::vector<double> kG{1, 2, 3, 4, 5};
QuantizerSpec weights(Parametrization p) {
  return QuantizerSpec::weights(p);
}
}  // namespace

TEST_CASE("U3 signed: values, input gradient, d and q_max gradients, bitwidth", "[quant][U3]") {
  // d = 0.25 (a power of two), q_max = 0.9: levels k*0.25, clipped input -> 0.25*round(3.6) = 1.0.
  Quantizer qz(weights(Parametrization::U3), 0.25, 0.9, DType::f64);
  const auto r = run_quantizer(qz, kX, kG);
  check_vec(r.q, {0.25, -0.5, 1.0, -1.0, 0.0});
  check_vec(r.dx, {1, 2, 0, 0, 5});  // 1 inside [-q_max, q_max], 0 outside
  // dq/dd: (q - x)/d inside, sign(x)(round(q_max/d) - q_max/d) outside
  const double out = std::round(0.9 / 0.25) - 0.9 / 0.25;  // 0.4
  const double gd =
      1 * (0.25 - 0.3) / 0.25 + 2 * (-0.5 + 0.45) / 0.25 + 3 * out - 4 * out + 5 * (0 - 0.1) / 0.25;
  CHECK(gd == Approx(-3.0));
  CHECK(r.g_first == Approx(gd));
  // dq/dq_max: 0 inside, sign(x) outside
  CHECK(r.g_second == Approx(3 - 4));
  // b = max(ceil(log2(round(q_max/d) + 1)) + 1, 2) = ceil(log2 5) + 1 = 4
  CHECK(qz.bitwidth().item() == 4);
  const auto [bd, bq] = test::bitwidth_gradient(qz);
  // STE: b ~ log2(q_max/d + 1) + 1 evaluated at round(q_max/d) = 4
  CHECK(bq == Approx(1.0 / (0.25 * 5 * ln2)));
  CHECK(bd == Approx(-0.9 / (0.25 * 0.25) / (5 * ln2)));
}

TEST_CASE("U3: the pow2 rounding factor and raw parameters outside their bounds", "[quant][U3]") {
  // d = 0.3 -> d_q = pow2(0.3) = 0.25; dL/dd_raw = dL/dd_q * d_q / d_raw.
  Quantizer qz(weights(Parametrization::U3), 0.3, 0.9, DType::f64);
  const auto r = run_quantizer(qz, kX, kG);
  check_vec(r.q, {0.25, -0.5, 1.0, -1.0, 0.0});
  CHECK(r.g_first == Approx(-3.0 * 0.25 / 0.3));
  CHECK(qz.values().d == 0.25);
  // Outside the bounds: d = 2 > 1 and q_max = 200 > 127 are clipped and get no gradient.
  Quantizer out(weights(Parametrization::U3), 2.0, 200.0, DType::f64);
  const auto ro = run_quantizer(out, {0.3, 500.0}, {1, 1});
  check_vec(ro.q, {0.0, 127.0});  // d = 1, q_max = 127
  CHECK(ro.g_first == 0.0);
  CHECK(ro.g_second == 0.0);
  // The real-valued step option keeps d as it is (and its gradient factor is 1).
  QuantizerSpec real = weights(Parametrization::U3);
  real.pow2_step = false;
  Quantizer qr(real, 0.3, 0.9, DType::f64);
  const auto rr = run_quantizer(qr, {0.35, 2.0}, {1, 1});
  check_vec(rr.q, {0.3, 0.9});  // 0.9 = 3 * 0.3
  CHECK(rr.g_first == Approx((0.3 - 0.35) / 0.3 + (3 - 3)));
}

TEST_CASE("U3 unsigned replaces the ReLU; bitwidth at its floor has no gradient", "[quant][U3]") {
  Quantizer qz(QuantizerSpec::activations(Parametrization::U3), 0.25, 0.9, DType::f64);
  const auto r = run_quantizer(qz, {0.3, -0.45, 1.2, 0.1}, {1, 2, 3, 5});
  check_vec(r.q, {0.25, 0.0, 1.0, 0.0});
  check_vec(r.dx, {1, 0, 0, 5});
  CHECK(r.g_first == Approx((0.25 - 0.3) / 0.25 + 3 * 0.4 + 5 * (0 - 0.1) / 0.25));
  CHECK(r.g_second == Approx(3));
  CHECK(qz.bitwidth().item() == 3);  // ceil(log2 5), no sign bit
  // q_max = 0.3, d = 0.25: round(1.2) = 1 level -> ceil(log2 2) + 1 = 2 = the signed floor.
  Quantizer floor_q(weights(Parametrization::U3), 0.25, 0.3, DType::f64);
  CHECK(floor_q.bitwidth().item() == 2);
  const auto [bd, bq] = test::bitwidth_gradient(floor_q);
  CHECK(bd == 0.0);
  CHECK(bq == 0.0);
}

TEST_CASE("U1 signed: q_max = d (2^(b-1) - 1); gradients of b and d", "[quant][U1]") {
  // b = 3.2 -> 3, n = 2, d = 0.25: q_max = 0.75.
  Quantizer qz(weights(Parametrization::U1), 3.2, 0.25, DType::f64);
  const auto r = run_quantizer(qz, kX, kG);
  check_vec(r.q, {0.25, -0.5, 0.75, -0.75, 0.0});
  check_vec(r.dx, {1, 2, 0, 0, 5});
  CHECK(qz.values().qmax == 0.75);
  CHECK(qz.bitwidth().item() == 3);
  // Direct dq/dd (clipped elements sit on a level: 0) plus dq/dq_max * (2^n - 1).
  const double s_d = 1 * -0.2 + 2 * -0.2 + 5 * -0.4, s_q = 3 - 4;
  CHECK(r.g_second == Approx(s_d + s_q * 3));
  // dq/db outside = sign(x) 2^(b-1) ln2 d (docs/method.md section 3), zero inside.
  CHECK(r.g_first == Approx(s_q * 4 * ln2 * 0.25));
  // b below its bound (1.5 < 2) is clipped to 2 and gets no gradient.
  Quantizer low(weights(Parametrization::U1), 1.5, 0.25, DType::f64);
  const auto rl = run_quantizer(low, {3.0}, {1});
  check_vec(rl.q, {0.25});  // q_max = d (2^1 - 1)
  CHECK(rl.g_first == 0.0);
  CHECK(low.bitwidth().item() == 2);
  CHECK(test::bitwidth_gradient(low).first == 0.0);
  CHECK(test::bitwidth_gradient(qz).first == 1.0);  // round_ste(b)
}

TEST_CASE("U2 signed: d = pow2(q_max / (2^(b-1) - 1)); gradients of b and q_max", "[quant][U2]") {
  // b = 3 (n = 2), q_max = 0.8: v = 0.8/3, d_q = pow2(v) = 0.25.
  Quantizer qz(weights(Parametrization::U2), 3.0, 0.8, DType::f64);
  const auto r = run_quantizer(qz, kX, kG);
  check_vec(r.q, {0.25, -0.5, 0.75, -0.75, 0.0});
  CHECK(qz.values().d == 0.25);
  const double v = 0.8 / 3, pow2_factor = 0.25 / v;
  // dq/dd: (q - x)/d inside, sign(x)(round(q_max/d) - q_max/d) outside (round(3.2) - 3.2 = -0.2).
  const double s_d = 1 * -0.2 + 2 * -0.2 + 3 * -0.2 - 4 * -0.2 + 5 * -0.4, s_q = 3 - 4;
  CHECK(r.g_second == Approx(s_q + s_d * pow2_factor / 3));
  // dd/db = pow2'(v) * dv/db, dv/db = -q_max 2^n ln2 / (2^n - 1)^2  (docs/method.md section 3: U2's
  // dq/db inside is -2^(b-1) ln2 / (2^(b-1) - 1) (q - x) without the pow2 factor).
  CHECK(r.g_first == Approx(s_d * pow2_factor * (-0.8 * 4 * ln2 / 9)));
  CHECK(qz.bitwidth().item() == 3);
}

TEST_CASE("uniform: initialisation, clipping rules and the paper's baselines", "[quant]") {
  // Weights: d = 2^floor(log2(max|W| / 7)) at b = 4, q_max = 7 d.
  const Tensor w = from_vector<float>({0.5f, -1.3f, 0.2f}, {3});
  const QuantizerValues v = initial_values(weights(Parametrization::U3), 4, w);
  CHECK(v.d == std::exp2(std::floor(std::log2(1.3 / 7))));
  CHECK(v.qmax == 7 * v.d);
  // Above 4 bits the exponent is rounded up.
  CHECK(initial_values(weights(Parametrization::U3), 6, w).d ==
        std::exp2(std::ceil(std::log2(1.3 / 31))));
  // Activations: d = 2^-3, q_max = d (2^4 - 1).
  const QuantizerValues a =
      initial_values(QuantizerSpec::activations(Parametrization::U3), 4, Tensor());
  CHECK(a.d == 0.125);
  CHECK(a.qmax == 0.125 * 15);
  Quantizer u1 = Quantizer::for_weights(weights(Parametrization::U1), w);
  CHECK(u1.raw("b").item() == 4);
  CHECK(u1.values().qmax == Approx(v.qmax));

  // Parameter clipping after an update.
  Quantizer qz(weights(Parametrization::U3), 5.0, 300.0, DType::f64);
  qz.clip_parameters();
  CHECK(qz.raw("qmax").item() == Approx(127 - 1e-5));
  CHECK(qz.raw("d").item() == Approx(1 - 1e-5));
  Quantizer inverted(weights(Parametrization::U3), 0.5, 0.01, DType::f64);  // d above q_max
  inverted.clip_parameters();
  CHECK(inverted.raw("qmax").item() == 0.01);
  CHECK(inverted.raw("d").item() == Approx(0.01 - 1e-5));
  // Gradient clipping to [-d, d].
  Quantizer gq(weights(Parametrization::U3), 0.125, 1.0, DType::f64);
  gq.raw("d").set_grad(scalar_tensor(3.0, DType::f64));
  gq.raw("qmax").set_grad(scalar_tensor(-0.01, DType::f64));
  gq.clip_gradients();
  CHECK(gq.raw("d").grad().item() == 0.125);
  CHECK(gq.raw("qmax").grad().item() == -0.01);

  // Fixed: nothing trains. Learn q_max only: U2 with b frozen.
  Quantizer fixed = make_fixed_quantizer(weights(Parametrization::U3), 2, w, DType::f64);
  CHECK(fixed.spec().param == Parametrization::U1);
  CHECK(fixed.parameters().empty());
  CHECK(fixed.bitwidth().item() == 2);
  Quantizer tqt = make_learn_qmax_quantizer(weights(Parametrization::U3), 2, w, DType::f64);
  CHECK(tqt.spec().param == Parametrization::U2);
  REQUIRE(tqt.parameters().size() == 1);
  CHECK(tqt.parameters()[0].impl_ptr() == tqt.raw("qmax").impl_ptr());
  const auto r = run_quantizer(tqt, {0.05, 3.0}, {1, 1});
  CHECK(r.g_first == 0.0);  // b is frozen
  CHECK(r.g_second != 0.0);
}

TEST_CASE("quantize_uniform: exact ties round away from zero, NaN propagates, huge ranges",
          "[quant][uniform]") {
  // x / d = k + 1/2 exactly: std::round semantics (away from zero), in both
  // dtypes, through the vectorised kernel and its std::round fallback.
  const std::vector<double> xs{0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.4999999, -0.4999999, 0.0};
  for (DType dt : {DType::f32, DType::f64}) {
    for (double qmax_scale : {10.0, 1e12}) {  // 1e12 / d >= 2^30: std::round fallback
      const double d = 0.25, qmax = qmax_scale;
      Tensor x = from_vector(xs, {static_cast<std::int64_t>(xs.size())}).to(dt);
      x = mul(x, d);  // exact: d is a power of two
      const Tensor q =
          quantize_uniform(x, scalar_tensor(d, dt), scalar_tensor(qmax, dt), true).to(DType::f64);
      const auto v = q.to_vector<double>();
      for (std::size_t i = 0; i < xs.size(); ++i) {
        INFO("x/d = " << xs[i] << " dtype " << dtype_name(dt) << " q_max " << qmax);
        CHECK(v[i] == std::round(static_cast<double>(static_cast<float>(xs[i]))) * d);
      }
    }
  }
  // Backward: the vectorised path (q_max / d < 2^30) and the std::round path
  // give the same dL/dx and parameter gradients at ties and for inputs far
  // beyond the range (|x / d| >= 2^31 must not reach the int32 rounding).
  {
    const std::vector<float> xv{0.125f, -0.125f, 0.375f, -0.375f, 1e12f, -1e12f, 0.3f, 2.0f};
    const Tensor g = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}, {8});
    std::vector<std::vector<double>> res;
    for (double qmax : {1.0, 1e12}) {
      Tensor x = from_vector(xv, {8}).set_requires_grad(true);
      Tensor d = scalar_tensor(0.25).set_requires_grad(true);
      Tensor q = scalar_tensor(qmax).set_requires_grad(true);
      quantize_uniform(x, d, q, true).backward(g);
      std::vector<double> r = x.grad().to_vector<double>();
      r.push_back(d.grad().item());
      if (qmax == 1.0) r.push_back(q.grad().item());
      res.push_back(r);
    }
    // Elements beyond q_max = 1 differ between the two ranges; compare the
    // in-range elements and check that everything is finite.
    for (int i : {0, 1, 2, 3, 6}) CHECK(res[0][i] == res[1][i]);
    for (double v : res[0]) CHECK(std::isfinite(v));
    for (double v : res[1]) CHECK(std::isfinite(v));
    CHECK(res[0][4] == 0.0);  // clipped: no input gradient
  }
  const Tensor xn = from_vector(std::vector<float>{1.0f, NAN, -1.0f}, {3});
  const auto qn =
      quantize_uniform(xn, scalar_tensor(0.5), scalar_tensor(4.0), true).to_vector<float>();
  CHECK(qn[0] == 1.0f);
  CHECK(std::isnan(qn[1]));
  CHECK(qn[2] == -1.0f);
}
