// The fused quantizer kernels against the same quantizers composed from
// ordinary ops and straight-through blocks (the oracle), on random tensors,
// for every parametrization, signedness and zero level.
#include "core/parallel.h"
#include "quant/quantize_pow2.h"
#include "quant/quantize_uniform.h"
#include "quant_util.h"

using namespace mpq;
using namespace mpq::quant;

namespace {
struct Variant {
  Parametrization p;
  bool is_signed, with_zero;
};

std::vector<Variant> all_variants() {
  std::vector<Variant> v;
  for (int i = 0; i < 6; ++i)
    for (bool s : {true, false})
      for (bool z : {false, true}) {
        const auto p = static_cast<Parametrization>(i);
        if (is_uniform(p) && z) continue;
        v.push_back({p, s, z});
      }
  return v;
}

// Raw values that give a few bits and some clipping on N(0, 1) inputs.
std::pair<double, double> raw_values(Parametrization p) {
  switch (p) {
    case Parametrization::U1:
      return {4.3, 0.2};
    case Parametrization::U2:
      return {3.6, 1.1};
    case Parametrization::U3:
      return {0.15, 1.3};
    case Parametrization::P1:
      return {4.2, 1.7};
    case Parametrization::P2:
      return {3.7, 0.03};
    case Parametrization::P3:
      return {0.02, 1.4};
  }
  return {0, 0};
}
}  // namespace

TEST_CASE("fused quantizers match the composed oracle (values and all gradients)",
          "[quant][fused]") {
  for (DType dt : {DType::f64, DType::f32}) {
    for (const Variant& var : all_variants()) {
      QuantizerSpec s =
          var.is_signed ? QuantizerSpec::weights(var.p) : QuantizerSpec::activations(var.p);
      s.with_zero = var.with_zero;
      const auto [a, b] = raw_values(var.p);
      Quantizer qz(s, a, b, dt);
      INFO(s.str() << " " << dtype_name(dt));
      Generator gen(7);
      // 50k elements: several reduction blocks and threads.
      const Tensor x = randn({50, 1000}, 0, 1, gen, dt), up = randn({50, 1000}, 0, 1, gen, dt);
      Tensor gx[2];
      double gp[2][2];
      Tensor out[2];
      for (int k = 0; k < 2; ++k) {
        Tensor xi = x.clone().detach();
        xi.set_requires_grad(true);
        for (auto n : raw_parameter_names(var.p)) qz.raw(n).set_grad(Tensor());
        out[k] = k == 0 ? qz.forward(xi) : qz.forward_composed(xi);
        out[k].backward(up);
        gx[k] = xi.grad();
        const auto names = raw_parameter_names(var.p);
        for (int j = 0; j < 2; ++j) gp[k][j] = qz.raw(names[j]).grad().item();
      }
      CHECK_CLOSE(out[0], out[1], 0, 0);
      CHECK_CLOSE(gx[0], gx[1], 1e-6, 1e-6);
      // Sums over 50k elements: the oracle sums in the raw dtype, the kernel in double.
      const double tol = dt == DType::f64 ? 1e-9 : 2e-3;
      CHECK(gp[0][0] == Approx(gp[1][0]).epsilon(tol).margin(tol));
      CHECK(gp[0][1] == Approx(gp[1][1]).epsilon(tol).margin(tol));
    }
  }
}

TEST_CASE("fused quantizers: the reduction does not depend on the thread count", "[quant][fused]") {
  Quantizer qz(QuantizerSpec::weights(Parametrization::U3), 0.1, 1.5, DType::f32);
  Generator gen(3);
  const Tensor x = randn({100000}, 0, 1, gen), up = randn({100000}, 0, 1, gen);
  double g[2];
  const int threads = num_threads();
  for (int k = 0; k < 2; ++k) {
    set_num_threads(k == 0 ? 1 : std::max(2, threads));
    qz.raw("d").set_grad(Tensor());
    qz.forward(x).backward(up);
    g[k] = qz.raw("d").grad().item();
  }
  set_num_threads(threads);
  CHECK(g[0] == g[1]);
}

TEST_CASE("fused quantizers: bad parameters are refused", "[quant][fused]") {
  using Catch::Matchers::Contains;
  const Tensor x = zeros({3});
  CHECK_THROWS_WITH(quantize_uniform(x, scalar_tensor(-1), scalar_tensor(1), true),
                    Contains("positive"));
  CHECK_THROWS_WITH(quantize_uniform(x, ones({2}), scalar_tensor(1), true), Contains("scalar"));
  CHECK_THROWS_WITH(quantize_uniform(x, scalar_tensor(1, DType::f64), scalar_tensor(1), true),
                    Contains("float64"));
  CHECK_THROWS_WITH(quantize_pow2(x, scalar_tensor(2), scalar_tensor(1), true, false),
                    Contains("q_min <= q_max"));
}
