#include <algorithm>
#include <numeric>

#include "core/rng.h"
#include "tests/cases/op_case.h"

namespace mpq::cases {

const std::vector<OpCase>& all_op_cases() {
  static const std::vector<OpCase> all = [] {
    std::vector<OpCase> v;
    for (auto make : {elementwise_cases, reduce_cases, matmul_cases, conv2d_cases, batch_norm_cases,
                      pool_cases, cross_entropy_cases, quantize_cases}) {
      auto part = make();
      v.insert(v.end(), part.begin(), part.end());
    }
    return v;
  }();
  return all;
}

Inputs prepared_inputs(const OpCase& c, DType dtype, Device device) {
  Inputs in = c.make_inputs(1234);
  for (Tensor& t : in) {
    if (is_floating(t.dtype())) t = t.to(dtype);
    t = t.to(device).detach();
    if (is_floating(t.dtype())) t.set_requires_grad(true);
  }
  return in;
}

Tensor uniform(const Shape& s, std::uint64_t seed, double lo, double hi) {
  Generator g(seed);
  return rand_uniform(s, lo, hi, g, DType::f64);
}

Tensor distinct(const Shape& s, std::uint64_t seed, double lo, double hi) {
  const std::int64_t n = numel_of(s);
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  Generator g(seed);
  for (std::int64_t i = n - 1; i > 0; --i)  // Fisher-Yates with the project's RNG
    std::swap(order[static_cast<std::size_t>(i)],
              order[static_cast<std::size_t>(g.below(static_cast<std::uint64_t>(i + 1)))]);
  std::vector<double> v(static_cast<std::size_t>(n));
  const double step = n > 1 ? (hi - lo) / static_cast<double>(n) : 0.0;
  for (std::int64_t i = 0; i < n; ++i)
    v[static_cast<std::size_t>(i)] =
        lo + step * static_cast<double>(order[static_cast<std::size_t>(i)]);
  return from_vector<double>(v, s);
}

Tensor away_from_zero(const Shape& s, std::uint64_t seed, double away, double hi) {
  Tensor t = uniform(s, seed, away, hi);
  Tensor sign = uniform(s, seed + 1, -1, 1);
  double* p = t.data<double>();
  const double* q = sign.data<double>();
  for (std::int64_t i = 0; i < t.numel(); ++i)
    if (q[i] < 0) p[i] = -p[i];
  return t;
}

}  // namespace mpq::cases
