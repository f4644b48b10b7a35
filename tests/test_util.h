// Shared helpers of the test suite: random inputs, closeness checks and the
// finite-difference gradient check.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"

namespace mpq::test {

inline Tensor rand_f64(const Shape& s, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Generator g(seed);
  return rand_uniform(s, lo, hi, g, DType::f64);
}

inline Tensor rand_f32(const Shape& s, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Generator g(seed);
  return rand_uniform(s, lo, hi, g, DType::f32);
}

// Largest |a - b| / (atol + rtol |b|); <= 1 means close.
inline double closeness(const Tensor& a, const Tensor& b, double atol, double rtol) {
  REQUIRE(a.shape() == b.shape());
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  double worst = 0;
  for (std::size_t i = 0; i < va.size(); ++i) {
    if (std::isnan(va[i]) || std::isnan(vb[i])) return INFINITY;
    if (va[i] == vb[i]) continue;  // also with atol = rtol = 0 (exact comparisons)
    worst = std::max(worst, std::abs(va[i] - vb[i]) / (atol + rtol * std::abs(vb[i])));
  }
  return worst;
}

#define CHECK_CLOSE(a, b, atol, rtol)                               \
  do {                                                              \
    INFO("actual " << (a).str() << "\nexpected " << (b).str());     \
    CHECK(::mpq::test::closeness((a), (b), (atol), (rtol)) <= 1.0); \
  } while (0)

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// Checks the gradients that backward() gives for f at `inputs` (float64
// leaves; integer inputs, such as labels, are passed through and get no
// gradient) against central finite differences. Small outputs: the whole
// Jacobian, row by row. Larger ones: J^T v for a fixed random v.
inline void check_gradients(const Fn& f, std::vector<Tensor> inputs, double atol = 1e-6,
                            double rtol = 1e-5, double eps = 1e-6) {
  for (auto& t : inputs) {
    if (!is_floating(t.dtype())) continue;
    REQUIRE(t.dtype() == DType::f64);
    REQUIRE(t.is_contiguous());
    t.set_requires_grad(true);
  }
  const Tensor out0 = f(inputs);
  const std::int64_t m = out0.numel();
  const bool full = m <= 32;
  const std::int64_t rows = full ? m : 1;
  Tensor v = rand_f64(out0.shape(), 99);
  for (std::int64_t r = 0; r < rows; ++r) {
    Tensor w = full ? zeros(out0.shape(), DType::f64) : v;
    if (full) w.data<double>()[r] = 1.0;
    // Analytic: backward with upstream w.
    for (auto& t : inputs)
      if (t.requires_grad()) t.set_grad(Tensor());
    f(inputs).backward(w);
    // Numeric: d <w, f(x)> / dx_j by central differences.
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      Tensor& x = inputs[k];
      if (!x.requires_grad()) continue;
      Tensor numeric = zeros(x.shape(), DType::f64);
      double* px = x.data<double>();
      for (std::int64_t j = 0; j < x.numel(); ++j) {
        NoGradGuard ng;
        const double keep = px[j];
        px[j] = keep + eps;
        const double fp = sum(mul(f(inputs), w)).item();
        px[j] = keep - eps;
        const double fm = sum(mul(f(inputs), w)).item();
        px[j] = keep;
        numeric.data<double>()[j] = (fp - fm) / (2 * eps);
      }
      Tensor analytic = x.grad().defined() ? x.grad() : zeros(x.shape(), DType::f64);
      INFO("input " << k << ", output row " << r);
      CHECK_CLOSE(analytic, numeric, atol, rtol);
    }
  }
}

}  // namespace mpq::test
