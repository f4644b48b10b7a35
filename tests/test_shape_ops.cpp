#include "test_util.h"

#include "ops/shape.h"

using namespace mpq;
using Catch::Matchers::Contains;
using test::check_gradients;
using test::rand_f64;

TEST_CASE("pad and concat: values", "[shape]") {
  const Tensor x = from_vector<double>({1, 2, 3, 4}, {1, 1, 2, 2});
  const Tensor p = pad(x, {{1, 0}, {0, 2}});
  CHECK(p.shape() == Shape{1, 1, 3, 4});
  CHECK(p.to_vector<double>() == std::vector<double>{0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0});
  CHECK(pad(x, {{1, 1}}, -1).to_vector<double>()[0] == -1);
  const Tensor a = from_vector<double>({1, 2}, {1, 2}),
               b = from_vector<double>({3, 4, 5, 6}, {2, 2});
  CHECK(concat({a, b}, 0).to_vector<double>() == std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK(concat({b, b}, 1).shape() == Shape{2, 4});
  CHECK(concat({b, b}, -1).to_vector<double>() == std::vector<double>{3, 4, 3, 4, 5, 6, 5, 6});
  CHECK_THROWS_WITH(concat({a, b}, 1),
                    Contains("concat") && Contains("[1, 2]") && Contains("[2, 2]"));
  CHECK_THROWS_WITH(pad(x, {{-1, 0}}), Contains("negative"));
}

TEST_CASE("pad, concat, flatten: gradients", "[shape][grad]") {
  check_gradients(
      [](const auto& in) {
        return pad(in[0], {{1, 2}, {0, 1}});
      },
      {rand_f64({1, 2, 2, 3}, 1)});
  check_gradients(
      [](const auto& in) {
        return concat({in[0], in[1], in[0]}, 1);
      },
      {rand_f64({2, 1, 2}, 2), rand_f64({2, 3, 2}, 3)});
  check_gradients([](const auto& in) { return in[0].flatten(1); }, {rand_f64({2, 3, 2, 2}, 4)});
}

TEST_CASE("subsample: values and gradient", "[shape][grad]") {
  const Tensor x = arange(10, DType::f64).reshape({2, 5});
  CHECK(subsample(x, 1, 2).to_vector<double>() == std::vector<double>{0, 2, 4, 5, 7, 9});
  CHECK(subsample(x, 0, 3).shape() == Shape{1, 5});
  CHECK_THROWS_WITH(subsample(x, 1, 0), Contains("step"));
  check_gradients([](const auto& in) { return subsample(subsample(in[0], 2, 2), 3, 2); },
                  {rand_f64({2, 2, 5, 4}, 7)});
}
