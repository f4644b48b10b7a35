// Helpers for the quantizer tests: run a quantizer on a float64 input with a
// given upstream gradient and collect q, dL/dx and dL/d(raw parameters).
#pragma once

#include "quant/quantizer.h"
#include "test_util.h"

namespace mpq::test {

struct QuantRun {
  std::vector<double> q, dx;
  double g_first = 0, g_second = 0;  // gradients of the two raw parameters (names in order)
};

inline QuantRun run_quantizer(const quant::Quantizer& qz, const std::vector<double>& x,
                              const std::vector<double>& upstream, bool composed = false) {
  Tensor xt = from_vector<double>(x, {static_cast<std::int64_t>(x.size())});
  xt.set_requires_grad(true);
  const auto names = quant::raw_parameter_names(qz.spec().param);
  for (auto n : names) qz.raw(n).set_grad(Tensor());
  Tensor q = composed ? qz.forward_composed(xt) : qz.forward(xt);
  q.backward(from_vector<double>(upstream, {static_cast<std::int64_t>(x.size())}));
  QuantRun r;
  r.q = q.to_vector<double>();
  r.dx = xt.grad().to_vector<double>();
  auto grad_of = [&](std::string_view n) {
    const Tensor g = qz.raw(n).grad();
    return g.defined() ? g.item() : 0.0;
  };
  r.g_first = grad_of(names[0]);
  r.g_second = grad_of(names[1]);
  return r;
}

// Gradient of the bitwidth w.r.t. the two raw parameters.
inline std::pair<double, double> bitwidth_gradient(const quant::Quantizer& qz) {
  const auto names = quant::raw_parameter_names(qz.spec().param);
  for (auto n : names) qz.raw(n).set_grad(Tensor());
  qz.bitwidth().backward();
  auto grad_of = [&](std::string_view n) {
    const Tensor g = qz.raw(n).grad();
    return g.defined() ? g.item() : 0.0;
  };
  return {grad_of(names[0]), grad_of(names[1])};
}

inline void check_vec(const std::vector<double>& a, const std::vector<double>& b,
                      double tol = 1e-12) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("element " << i);
    CHECK(a[i] == Approx(b[i]).margin(tol));
  }
}

}  // namespace mpq::test
