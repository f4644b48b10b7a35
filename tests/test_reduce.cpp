#include "test_util.h"

using namespace mpq;
using Catch::Matchers::Contains;
using test::check_gradients;
using test::rand_f64;

TEST_CASE("reduce: sum, mean, max over any axes against loops", "[reduce]") {
  const Tensor x = rand_f64({2, 3, 4}, 1);
  const auto v = x.to_vector<double>();
  auto at = [&](int i, int j, int k) { return v[(i * 3 + j) * 4 + k]; };
  // sum over axis 1, keepdim
  Tensor s = sum(x, {1}, true);
  CHECK(s.shape() == Shape{2, 1, 4});
  for (int i = 0; i < 2; ++i)
    for (int k = 0; k < 4; ++k)
      CHECK(s.to_vector<double>()[i * 4 + k] == Approx(at(i, 0, k) + at(i, 1, k) + at(i, 2, k)));
  // mean over axes {0, 2}
  Tensor m = mean(x, {0, -1});
  CHECK(m.shape() == Shape{3});
  for (int j = 0; j < 3; ++j) {
    double acc = 0;
    for (int i = 0; i < 2; ++i)
      for (int k = 0; k < 4; ++k) acc += at(i, j, k);
    CHECK(m.to_vector<double>()[j] == Approx(acc / 8));
  }
  // max over everything, argmax along the last axis
  CHECK(max(x).item() == *std::max_element(v.begin(), v.end()));
  CHECK(sum(x).dim() == 0);
  Tensor am = argmax(x, 2);
  CHECK(am.shape() == Shape{2, 3});
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) {
      int best = 0;
      for (int k = 1; k < 4; ++k)
        if (at(i, j, k) > at(i, j, best)) best = k;
      CHECK(am.to_vector<std::int32_t>()[i * 3 + j] == best);
    }
  // Threaded long rows agree with a serial sum.
  const Tensor big = rand_f64({1, 300000}, 2);
  double acc = 0;
  for (double e : big.to_vector<double>()) acc += e;
  CHECK(sum(big).item() == Approx(acc).epsilon(1e-12));
  CHECK(sum(big.to(DType::f32)).item() == Approx(acc).epsilon(1e-5));
  CHECK_THROWS_WITH(sum(x, {3}), Contains("sum") && Contains("axis 3"));
  CHECK_THROWS_WITH(sum(x, {1, 1}), Contains("twice"));
}

TEST_CASE("reduce: gradients", "[reduce][grad]") {
  const Tensor x = rand_f64({2, 3, 4}, 3);
  check_gradients([](const auto& in) { return sum(in[0], {1}); }, {x});
  check_gradients([](const auto& in) { return sum(in[0], {0, 2}, true); }, {x});
  check_gradients([](const auto& in) { return mean(in[0], {2}); }, {x});
  check_gradients([](const auto& in) { return mean(in[0]); }, {x});
  check_gradients([](const auto& in) { return max(in[0], {1}); }, {x});
  check_gradients([](const auto& in) { return max(in[0], {0, 2}, true); }, {x});
  check_gradients([](const auto& in) { return sum(in[0].t(), {0}); }, {rand_f64({3, 5}, 4)});
  check_gradients([](const auto& in) { return sum_to(in[0], {3, 1}); }, {rand_f64({2, 3, 4}, 5)});
}

TEST_CASE("reduce: max and argmax propagate NaN", "[reduce]") {
  const Tensor x = from_vector<float>({1, NAN, 3, 2}, {1, 4});
  CHECK(std::isnan(max(x).item()));
  CHECK(argmax(x, 1).item() == 1);
}
