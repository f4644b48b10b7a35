#include "test_util.h"

#include "ops/cross_entropy.h"

using namespace mpq;
using Catch::Matchers::Contains;
using test::check_gradients;
using test::rand_f64;

namespace {
// -mean_n log softmax(z)[n, y_n], composed from ordinary ops.
Tensor cross_entropy_composed(const Tensor& z, const Tensor& labels) {
  const std::int64_t N = z.shape()[0], K = z.shape()[1];
  const Tensor m = max(z, {1}, true).detach();
  const Tensor logp = sub(sub(z, m), log(sum(exp(sub(z, m)), {1}, true)));
  Tensor onehot = zeros({N, K}, z.dtype());
  const auto y = labels.to_vector<std::int32_t>();
  for (std::int64_t n = 0; n < N; ++n) onehot.narrow(0, n, 1).narrow(1, y[n], 1).fill_(1.0);
  return neg(mean(sum(mul(logp, onehot), {1})));
}
}  // namespace

TEST_CASE("cross_entropy: value and gradient against the composed formula", "[cross_entropy]") {
  const Tensor z = rand_f64({6, 5}, 1, -4, 4);
  const Tensor y = from_vector<std::int32_t>({0, 4, 2, 2, 1, 3}, {6});
  CHECK(cross_entropy(z, y).item() == Approx(cross_entropy_composed(z, y).item()).epsilon(1e-12));
  Tensor a = z.clone().detach(), b = z.clone().detach();
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  cross_entropy(a, y).backward();
  cross_entropy_composed(b, y).backward();
  CHECK_CLOSE(a.grad(), b.grad(), 1e-12, 1e-10);
  // Stable for huge logits.
  const Tensor big = from_vector<float>({1000, 1000, -1000, 0}, {2, 2});
  const double l = cross_entropy(big, from_vector<std::int32_t>({0, 1}, {2})).item();
  CHECK(l == Approx(std::log(2.0) / 2));
}

TEST_CASE("cross_entropy: gradient check", "[cross_entropy][grad]") {
  const Tensor y = from_vector<std::int32_t>({1, 0, 3}, {3});
  check_gradients([y](const auto& in) { return cross_entropy(in[0], y); }, {rand_f64({3, 4}, 2)});
}

TEST_CASE("cross_entropy: errors", "[cross_entropy]") {
  CHECK_THROWS_WITH(cross_entropy(zeros({2, 3}), from_vector<std::int32_t>({0, 3}, {2})),
                    Contains("label 3") && Contains("[0, 3)"));
  CHECK_THROWS_WITH(cross_entropy(zeros({2, 3}), zeros({3}, DType::i32)),
                    Contains("int32 labels [2]"));
  CHECK_THROWS_WITH(cross_entropy(zeros({2, 3}), zeros({2})), Contains("int32"));
}
