// Fused quantizer cases (docs/method.md section 1): uniform and power-of-two,
// signed and unsigned, with and without zero. Their gradients are the
// straight-through ones, not the staircase's derivative, so the float64 check
// compares values and every gradient (dL/dx and both parameters') with the
// quantizer composed from differentiable ops (quant/composed.h), the oracle.
// Inputs stay away from the rounding points (x/d = k + 1/2, log2|x| = k + 1/2)
// and the clipping bounds, so float32 and float64 round alike.
#include <cmath>

#include "core/rng.h"
#include "quant/composed.h"
#include "quant/quantize_pow2.h"
#include "quant/quantize_uniform.h"
#include "tests/cases/op_case.h"

namespace mpq::cases {

namespace {

// A fraction in [0.15, 0.35] or [0.65, 0.85]: away from 0, 1/2 and 1.
double safe_fraction(Generator& g) {
  const double u = 0.15 + 0.2 * g.uniform();
  return g.uniform() < 0.5 ? u : u + 0.5;
}

// x = (k + f) d with |x| at least 0.02 from q_max; negative only when signed.
Tensor uniform_inputs(const Shape& s, std::uint64_t seed, double d, double qmax, bool is_signed) {
  Generator g(seed);
  std::vector<double> v(static_cast<std::size_t>(numel_of(s)));
  for (double& x : v) {
    for (;;) {
      const double k =
          std::floor((is_signed ? -1.5 : -0.3) + g.uniform() * (is_signed ? 3.0 : 1.8));
      x = (k + safe_fraction(g)) * d;
      if (std::abs(std::abs(x) - qmax) > 0.02) break;
    }
  }
  return from_vector<double>(v, s);
}

// |x| = 2^(k + f), f away from 0 and 1/2 (the rounding and clipping points in
// the log domain), k from below q_min (the zero region) to above q_max.
Tensor pow2_inputs(const Shape& s, std::uint64_t seed, bool is_signed) {
  Generator g(seed);
  std::vector<double> v(static_cast<std::size_t>(numel_of(s)));
  for (double& x : v) {
    const double k = std::floor(-7.0 + 9.0 * g.uniform());
    x = std::exp2(k + safe_fraction(g));
    if (is_signed && g.uniform() < 0.5) x = -x;
  }
  return from_vector<double>(v, s);
}

OpCase uniform_case(Shape s, bool is_signed, bool perf) {
  OpCase c;
  c.op = "quantize_uniform";
  c.name = cat("x", shape_str(s), (is_signed ? " signed" : " unsigned"), " d 0.1 q_max 0.95");
  c.make_inputs = [=](std::uint64_t seed) {
    return Inputs{uniform_inputs(s, seed, 0.1, 0.95, is_signed), full({1}, 0.1, DType::f64),
                  full({1}, 0.95, DType::f64)};
  };
  c.run = [is_signed](const Inputs& in) {
    return quant::quantize_uniform(in[0], in[1], in[2], is_signed);
  };
  c.reference = [is_signed](const Inputs& in) {
    return quant::quantize_uniform_composed(in[0], in[1], in[2], is_signed);
  };
  c.grad_atol = 1e-9;
  c.grad_rtol = 1e-9;
  c.perf = perf;
  if (perf) c.f32_rtol = c.backend_rtol = 1e-3;  // parameter gradients: sums of 2M float32 terms
  c.flops = 4.0 * static_cast<double>(numel_of(s));
  c.bytes = 8.0 * static_cast<double>(numel_of(s));
  return c;
}

OpCase pow2_case(Shape s, bool is_signed, bool with_zero, bool perf) {
  OpCase c;
  c.op = "quantize_pow2";
  c.name = cat("x", shape_str(s), (is_signed ? " signed" : " unsigned"),
               (with_zero ? " with zero" : " without zero"), " q_min 2^-4 q_max 1");
  c.make_inputs = [=](std::uint64_t seed) {
    return Inputs{pow2_inputs(s, seed, is_signed), full({1}, 0.0625, DType::f64),
                  full({1}, 1.0, DType::f64)};
  };
  c.run = [=](const Inputs& in) {
    return quant::quantize_pow2(in[0], in[1], in[2], is_signed, with_zero);
  };
  c.reference = [=](const Inputs& in) {
    return quant::quantize_pow2_composed(in[0], in[1], in[2], is_signed, with_zero);
  };
  c.grad_atol = 1e-9;
  c.grad_rtol = 1e-9;
  c.perf = perf;
  if (perf) c.f32_rtol = c.backend_rtol = 1e-3;
  c.flops = 6.0 * static_cast<double>(numel_of(s));
  c.bytes = 8.0 * static_cast<double>(numel_of(s));
  return c;
}

}  // namespace

std::vector<OpCase> quantize_cases() {
  const Shape small{3, 4, 5}, act{128, 16, 32, 32};
  return {uniform_case(small, true, false),     uniform_case(small, false, false),
          pow2_case(small, true, true, false),  pow2_case(small, false, false, false),
          pow2_case(small, true, false, false), uniform_case(act, true, true),
          pow2_case(act, false, true, true)};
}

}  // namespace mpq::cases
