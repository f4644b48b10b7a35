#include "test_util.h"

#include "ops/pool.h"

using namespace mpq;
using Catch::Matchers::Contains;
using test::check_gradients;
using test::rand_f64;

namespace {
Pool2dParams window(std::int64_t k, std::int64_t s, std::int64_t p) {
  return {{k, k}, {s, s}, {p, p}};
}
}  // namespace

TEST_CASE("pool: 2x2/2 pooling equals a max/mean over a reshaped view", "[pool]") {
  const Tensor x = rand_f64({2, 3, 6, 8}, 1);
  // [N, C, H/2, 2, W/2, 2]: the windows are axes 3 and 5.
  const Tensor windows = x.reshape({2, 3, 3, 2, 4, 2});
  CHECK_CLOSE(max_pool2d(x, window(2, 2, 0)), max(windows, {3, 5}), 0, 0);
  CHECK_CLOSE(avg_pool2d(x, window(2, 2, 0)), mean(windows, {3, 5}), 1e-15, 1e-15);
  CHECK_CLOSE(global_avg_pool2d(x), mean(x, {2, 3}, true), 0, 0);
  CHECK(global_avg_pool2d(x).shape() == Shape{2, 3, 1, 1});
  CHECK_CLOSE(max_pool2d(x.to(DType::f32), window(2, 2, 0)), max(windows, {3, 5}), 1e-7, 1e-6);
}

TEST_CASE("pool: padding and overlapping windows", "[pool]") {
  // 3x3 input, 3x3 window, stride 2, padding 1 -> 2x2 output.
  const Tensor x = from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  CHECK(max_pool2d(x, window(3, 2, 1)).to_vector<double>() == std::vector<double>{5, 6, 8, 9});
  // Average counts the zero padding (count_include_pad): top-left window sums 1+2+4+5 over 9.
  CHECK(avg_pool2d(x, window(3, 2, 1)).to_vector<double>()[0] == Approx(12.0 / 9));
  CHECK(max_pool2d(neg(x), window(3, 2, 1)).to_vector<double>() ==
        std::vector<double>{-1, -2, -4, -5});
}

TEST_CASE("pool: gradients", "[pool][grad]") {
  // Distinct values keep max away from ties.
  const Tensor x = add(mul(randperm(2 * 2 * 5 * 5).to(DType::f64), 0.1), 0.0).reshape({2, 2, 5, 5});
  check_gradients([](const auto& in) { return max_pool2d(in[0], window(2, 2, 0)); },
                  {x.contiguous()});
  check_gradients([](const auto& in) { return max_pool2d(in[0], window(3, 2, 1)); },
                  {x.contiguous()});
  check_gradients([](const auto& in) { return avg_pool2d(in[0], window(3, 2, 1)); },
                  {x.contiguous()});
  check_gradients([](const auto& in) { return avg_pool2d(in[0], window(2, 1, 0)); },
                  {x.contiguous()});
  check_gradients([](const auto& in) { return global_avg_pool2d(in[0]); }, {x.contiguous()});
}

TEST_CASE("pool: errors", "[pool]") {
  CHECK_THROWS_WITH(max_pool2d(zeros({2, 3}), window(2, 2, 0)), Contains("[N, C, H, W]"));
  CHECK_THROWS_WITH(max_pool2d(zeros({1, 1, 1, 1}), window(2, 2, 0)), Contains("does not fit"));
  CHECK_THROWS_WITH(avg_pool2d(zeros({1, 1, 4, 4}), window(2, 2, 2)), Contains("half the kernel"));
}
