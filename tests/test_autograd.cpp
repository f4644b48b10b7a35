#include "test_util.h"

#include "ops/matmul.h"

using namespace mpq;
using Catch::Matchers::Contains;

TEST_CASE("autograd: a tensor used twice accumulates both gradients", "[autograd]") {
  Tensor x = from_vector<double>({1, 2, 3}, {3});
  x.set_requires_grad(true);
  Tensor y = sum(add(mul(x, x), x));  // d/dx = 2x + 1
  y.backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{3, 5, 7});
  // A second graph accumulates into the same .grad until zero_grad.
  sum(mul(x, 2.0)).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{5, 7, 9});
  x.zero_grad();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 0, 0});
}

TEST_CASE("autograd: diamond graph and reverse topological order", "[autograd]") {
  Tensor x = scalar_tensor(2.0, DType::f64);
  x.set_requires_grad(true);
  Tensor a = mul(x, 3.0);  // 3x
  Tensor b = exp(a);       // e^{3x}
  Tensor c = mul(a, b);    // 3x e^{3x}
  Tensor y = add(c, a);    // dy/dx = 3 e^{3x} + 9x e^{3x} + 3
  y.backward();
  const double e = std::exp(6.0);
  CHECK(x.grad().item() == Approx(3 * e + 18 * e + 3));
}

TEST_CASE("autograd: no_grad, detach and requires_grad propagation", "[autograd]") {
  Tensor w = ones({2, 2});
  w.set_requires_grad(true);
  {
    NoGradGuard ng;
    Tensor y = mul(w, 2.0);
    CHECK(!y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
  }
  Tensor y = mul(w, 2.0);
  CHECK(y.requires_grad());
  CHECK(y.grad_fn()->name() == "mul_scalar");
  CHECK(!y.detach().requires_grad());
  CHECK(y.detach().raw_data() == y.raw_data());
  Tensor z = mul(y.detach(), w);  // gradient flows to w only, through the second factor
  sum(z).backward();
  CHECK(w.grad().to_vector<float>() == std::vector<float>{2, 2, 2, 2});
  Tensor c = ones({2});
  CHECK(!add(c, c).requires_grad());
  CHECK_THROWS_WITH(sum(add(c, c)).backward(), Contains("does not require grad"));
}

TEST_CASE("autograd: the graph is freed after backward unless retained", "[autograd]") {
  Tensor x = from_vector<double>({1, 2}, {2});
  x.set_requires_grad(true);
  Tensor big = mul(x, x);
  std::weak_ptr<Storage> saved;
  {
    Tensor h = exp(x);  // exp saves its output
    Tensor y = sum(mul(h, big));
    y.backward(Tensor(), /*retain_graph=*/true);
    const auto g1 = x.grad().to_vector<double>();
    y.backward();  // second run works because the first retained the graph
    const auto g2 = x.grad().to_vector<double>();
    CHECK(g2[0] == Approx(2 * g1[0]));
    CHECK_THROWS_WITH(y.backward(), Contains("already freed") && Contains("retain_graph"));
  }
  // Saved tensors are released by backward: an op's saved input dies with it.
  {
    Tensor a = from_vector<double>({1, 2}, {2});
    a.set_requires_grad(true);
    Tensor t = mul(a, 3.0);
    Tensor u = exp(t);  // exp saves its output u
    saved = u.impl().storage;
    Tensor y = sum(log(u));  // log saves its input u
    u = Tensor();
    CHECK(!saved.expired());  // held by the nodes of exp and log
    y.backward();
    CHECK(saved.expired());  // released by backward
  }
}

TEST_CASE("autograd: explicit upstream gradient and shape checks", "[autograd]") {
  Tensor x = from_vector<double>({1, 2, 3}, {3});
  x.set_requires_grad(true);
  Tensor y = mul(x, 2.0);
  CHECK_THROWS_WITH(y.backward(), Contains("non-scalar") && Contains("[3]"));
  CHECK_THROWS_WITH(y.backward(ones({2}, DType::f64)), Contains("[2]") && Contains("[3]"));
  y.backward(from_vector<double>({1, 10, 100}, {3}));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 20, 200});
}

TEST_CASE("autograd: straight-through block: value of one expression, gradient of another",
          "[autograd]") {
  // round_ste(x) = x + detach(round(x) - x): forward rounds, backward is identity.
  Tensor x = from_vector<double>({0.2, 1.7, -2.6}, {3});
  x.set_requires_grad(true);
  Tensor q = add(x, sub(round(x), x).detach());
  CHECK(q.to_vector<double>() == std::vector<double>{0, 2, -3});
  sum(mul(q, from_vector<double>({1, 2, 3}, {3}))).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{1, 2, 3});
  // Without the block, round has zero gradient.
  Tensor x2 = from_vector<double>({0.2, 1.7}, {2});
  x2.set_requires_grad(true);
  sum(round(x2)).backward();
  CHECK(x2.grad().to_vector<double>() == std::vector<double>{0, 0});
}

TEST_CASE("autograd: gradients through views", "[autograd]") {
  using test::check_gradients;
  check_gradients([](const auto& in) { return in[0].t().reshape({6}); },
                  {test::rand_f64({2, 3}, 1)});
  check_gradients([](const auto& in) { return in[0].narrow(1, 1, 2); },
                  {test::rand_f64({2, 4}, 2)});
  check_gradients([](const auto& in) { return in[0].expand({3, 4}); }, {test::rand_f64({1, 4}, 3)});
  check_gradients(
      [](const auto& in) {
        return in[0].permute({2, 0, 1}).contiguous();
      },
      {test::rand_f64({2, 3, 2}, 4)});
  check_gradients([](const auto& in) { return in[0].to(DType::f32).to(DType::f64); },
                  {test::rand_f64({3}, 5)}, 1e-6, 1e-5, 1e-3);
  check_gradients([](const auto& in) { return in[0].unsqueeze(1).squeeze(1).clone(); },
                  {test::rand_f64({3, 2}, 6)});
  // A leaf used in a matmul with its own transpose.
  check_gradients([](const auto& in) { return matmul(in[0], in[0].t()); },
                  {test::rand_f64({3, 2}, 7)});
}
