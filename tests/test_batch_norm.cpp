#include "test_util.h"

#include "ops/batch_norm.h"

using namespace mpq;
using Catch::Matchers::Contains;
using test::check_gradients;
using test::rand_f64;

namespace {
// The formulas of ops/batch_norm.h composed from elementwise and reduce ops.
Tensor batch_norm_composed(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  const Tensor mu = mean(x, {0, 2, 3}, true);
  const Tensor var = mean(pow(sub(x, mu), 2.0), {0, 2, 3}, true);
  const Tensor xhat = div(sub(x, mu), sqrt(add(var, eps)));
  return add(mul(xhat, gamma.reshape({1, -1, 1, 1})), beta.reshape({1, -1, 1, 1}));
}
}  // namespace

TEST_CASE("batch_norm2d: training forward against the composed formula, running statistics",
          "[batch_norm]") {
  const Tensor x = rand_f64({4, 3, 5, 2}, 1, -2, 3), gamma = rand_f64({3}, 2),
               beta = rand_f64({3}, 3);
  Tensor rm = zeros({3}, DType::f64), rv = ones({3}, DType::f64);
  const Tensor y = batch_norm2d(x, gamma, beta, rm, rv, true, 0.1, 1e-5);
  CHECK_CLOSE(y, batch_norm_composed(x, gamma, beta, 1e-5), 1e-12, 1e-12);
  const Tensor mu = mean(x, {0, 2, 3});
  const Tensor var_unbiased =
      mul(mean(pow(sub(x, mu.reshape({1, 3, 1, 1})), 2.0), {0, 2, 3}), 40.0 / 39.0);
  CHECK_CLOSE(rm, mul(mu, 0.1), 1e-12, 1e-12);
  CHECK_CLOSE(rv, add(mul(var_unbiased, 0.1), 0.9), 1e-12, 1e-12);
  // Inference uses the running statistics.
  const Tensor ye = batch_norm2d(x, gamma, beta, rm, rv, false, 0.1, 1e-5);
  const Tensor expect =
      add(mul(div(sub(x, rm.reshape({1, 3, 1, 1})), sqrt(add(rv.reshape({1, 3, 1, 1}), 1e-5))),
              gamma.reshape({1, 3, 1, 1})),
          beta.reshape({1, 3, 1, 1}));
  CHECK_CLOSE(ye, expect, 1e-12, 1e-12);
  // float32 agrees.
  Tensor rm32 = zeros({3}), rv32 = ones({3});
  CHECK_CLOSE(
      batch_norm2d(x.to(DType::f32), gamma.to(DType::f32), beta.to(DType::f32), rm32, rv32, true),
      y, 1e-5, 1e-5);
}

TEST_CASE("batch_norm2d: gradients in training and inference", "[batch_norm][grad]") {
  const Tensor x = rand_f64({3, 2, 3, 2}, 4), gamma = rand_f64({2}, 5, 0.5, 1.5),
               beta = rand_f64({2}, 6);
  check_gradients(
      [](const auto& in) { return batch_norm2d(in[0], in[1], in[2], Tensor(), Tensor(), true); },
      {x, gamma, beta}, 1e-6, 1e-4);
  const Tensor rm = rand_f64({2}, 7), rv = rand_f64({2}, 8, 0.5, 2);
  check_gradients(
      [rm, rv](const auto& in) { return batch_norm2d(in[0], in[1], in[2], rm, rv, false); },
      {x, gamma, beta});
  // Without affine parameters.
  check_gradients(
      [](const auto& in) {
        return batch_norm2d(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true);
      },
      {x}, 1e-6, 1e-4);
}

TEST_CASE("batch_norm2d: float32 backward against float64", "[batch_norm]") {
  const Tensor x64 = rand_f64({8, 4, 6, 6}, 9), g64 = rand_f64({8, 4, 6, 6}, 10),
               gm64 = rand_f64({4}, 11);
  Tensor x = x64.to(DType::f32), gm = gm64.to(DType::f32), bt = zeros({4});
  Tensor xr = x64.clone().detach(), gmr = gm64.clone().detach(), btr = zeros({4}, DType::f64);
  for (Tensor* t : {&x, &gm, &bt, &xr, &gmr, &btr}) t->set_requires_grad(true);
  batch_norm2d(x, gm, bt, Tensor(), Tensor(), true).backward(g64.to(DType::f32));
  batch_norm2d(xr, gmr, btr, Tensor(), Tensor(), true).backward(g64);
  CHECK_CLOSE(x.grad(), xr.grad(), 1e-4, 1e-4);
  CHECK_CLOSE(gm.grad(), gmr.grad(), 1e-4, 1e-4);
  CHECK_CLOSE(bt.grad(), btr.grad(), 1e-4, 1e-4);
}

TEST_CASE("batch_norm2d: errors", "[batch_norm]") {
  CHECK_THROWS_WITH(batch_norm2d(zeros({2, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                    Contains("[N, C, H, W]"));
  CHECK_THROWS_WITH(
      batch_norm2d(zeros({2, 3, 2, 2}), zeros({4}), Tensor(), Tensor(), Tensor(), true),
      Contains("[4]") && Contains("[3]"));
  CHECK_THROWS_WITH(
      batch_norm2d(zeros({2, 3, 2, 2}), Tensor(), Tensor(), Tensor(), Tensor(), false),
      Contains("running_mean"));
  CHECK_THROWS_WITH(batch_norm2d(zeros({1, 3, 1, 1}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                    Contains("more than one value"));
}

TEST_CASE("batch_norm2d: empty inputs are refused; large means keep float32 precision",
          "[batch_norm]") {
  CHECK_THROWS_WITH(batch_norm2d(zeros({2, 0, 4, 4}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                    Contains("no channels"));
  CHECK_THROWS_WITH(batch_norm2d(zeros({0, 3, 4, 4}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                    Contains("more than one value"));
  // Inputs around 1000 with spread 1: dx must match float64 closely.
  const Tensor x64 = add(rand_f64({4, 2, 5, 5}, 12), 1000.0), g64 = rand_f64({4, 2, 5, 5}, 13);
  Tensor x = x64.to(DType::f32), xr = x64.clone().detach();
  x.set_requires_grad(true);
  xr.set_requires_grad(true);
  batch_norm2d(x, Tensor(), Tensor(), Tensor(), Tensor(), true).backward(g64.to(DType::f32));
  batch_norm2d(xr, Tensor(), Tensor(), Tensor(), Tensor(), true).backward(g64);
  CHECK_CLOSE(x.grad(), xr.grad(), 2e-3, 2e-3);
}
