#include "test_util.h"

#include "ops/matmul.h"
#include "ops/reference/matmul.h"

using namespace mpq;
using Catch::Matchers::Contains;
using test::check_gradients;
using test::rand_f64;

namespace {
Tensor matmul_ref(const Tensor& a, const Tensor& b) {
  const Tensor ac = a.to(DType::f64).contiguous(), bc = b.to(DType::f64).contiguous();
  const std::int64_t M = a.shape()[0], K = a.shape()[1], N = b.shape()[1];
  Tensor c = empty({M, N}, DType::f64);
  reference::matmul(ac.data<double>(), K, 1, bc.data<double>(), N, 1, c.data<double>(), M, K, N);
  return c;
}
}  // namespace

TEST_CASE("matmul: oneDNN float32 against the reference, with transposed views", "[matmul]") {
  for (auto [M, K, N] : {std::tuple{1, 1, 1}, {3, 5, 4}, {64, 27, 33}, {128, 256, 10}}) {
    const Tensor a = test::rand_f32({M, K}, 1), b = test::rand_f32({K, N}, 2);
    CHECK_CLOSE(matmul(a, b), matmul_ref(a, b), 1e-5, 1e-5);
    const Tensor bt = test::rand_f32({N, K}, 3).t();  // strided B
    CHECK_CLOSE(matmul(a, bt), matmul_ref(a, bt), 1e-5, 1e-5);
    const Tensor at = test::rand_f32({K, M}, 4).t();  // strided A
    CHECK_CLOSE(matmul(at, b), matmul_ref(at, b), 1e-5, 1e-5);
  }
}

TEST_CASE("matmul: float32 backward against float64", "[matmul]") {
  const Tensor a64 = rand_f64({7, 9}, 1), b64 = rand_f64({9, 5}, 2), g64 = rand_f64({7, 5}, 3);
  Tensor a = a64.to(DType::f32), b = b64.to(DType::f32);
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  matmul(a, b).backward(g64.to(DType::f32));
  CHECK_CLOSE(a.grad(), matmul_ref(g64, b64.t()), 1e-5, 1e-5);
  CHECK_CLOSE(b.grad(), matmul_ref(a64.t(), g64), 1e-5, 1e-5);
}

TEST_CASE("matmul and linear: gradients", "[matmul][grad]") {
  check_gradients([](const auto& in) { return matmul(in[0], in[1]); },
                  {rand_f64({3, 4}, 1), rand_f64({4, 2}, 2)});
  check_gradients([](const auto& in) { return linear(in[0], in[1], in[2]); },
                  {rand_f64({3, 4}, 3), rand_f64({5, 4}, 4), rand_f64({5}, 5)});
  check_gradients([](const auto& in) { return linear(in[0], in[1]); },
                  {rand_f64({2, 3}, 6), rand_f64({4, 3}, 7)});
}

TEST_CASE("matmul: shape errors", "[matmul]") {
  CHECK_THROWS_WITH(matmul(zeros({2, 3}), zeros({4, 5})),
                    Contains("[2, 3]") && Contains("[4, 5]") && Contains("inner"));
  CHECK_THROWS_WITH(matmul(zeros({2, 3, 1}), zeros({3, 5})), Contains("two matrices"));
  CHECK_THROWS_WITH(linear(zeros({2, 3}), zeros({4, 3}), zeros({5})),
                    Contains("bias") && Contains("[5]"));
}

TEST_CASE("matmul: a broadcast (stride 0) upstream gradient", "[matmul]") {
  // sum() sends back an expanded gradient with strides [0, 0].
  const Tensor x64 = rand_f64({4, 3}, 21), w64 = rand_f64({5, 3}, 22);
  Tensor x = x64.to(DType::f32), w = w64.to(DType::f32);
  x.set_requires_grad(true);
  w.set_requires_grad(true);
  sum(linear(x, w)).backward();
  Tensor xr = x64.clone().detach(), wr = w64.clone().detach();
  xr.set_requires_grad(true);
  wr.set_requires_grad(true);
  sum(linear(xr, wr)).backward();
  CHECK_CLOSE(x.grad(), xr.grad(), 1e-5, 1e-5);
  CHECK_CLOSE(w.grad(), wr.grad(), 1e-5, 1e-5);
}
