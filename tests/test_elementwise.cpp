#include "test_util.h"

using namespace mpq;
using test::check_gradients;
using test::rand_f64;

namespace {
// Applies f to every element of x with a plain loop: the reference.
template <class F>
Tensor map_ref(const Tensor& x, F f) {
  auto v = x.to_vector<double>();
  for (auto& e : v) e = f(e);
  return from_vector<double>(v, x.shape());
}
}  // namespace

TEST_CASE("elementwise: unary forward matches the math library", "[elementwise]") {
  const Tensor x = rand_f64({3, 5}, 1, -3, 3);
  const Tensor xp = rand_f64({3, 5}, 2, 0.1, 3);
  CHECK_CLOSE(neg(x), map_ref(x, [](double v) { return -v; }), 0, 0);
  CHECK_CLOSE(exp(x), map_ref(x, [](double v) { return std::exp(v); }), 1e-15, 1e-15);
  CHECK_CLOSE(log(xp), map_ref(xp, [](double v) { return std::log(v); }), 1e-15, 1e-15);
  CHECK_CLOSE(sqrt(xp), map_ref(xp, [](double v) { return std::sqrt(v); }), 1e-15, 1e-15);
  CHECK_CLOSE(abs(x), map_ref(x, [](double v) { return std::abs(v); }), 0, 0);
  CHECK_CLOSE(sign(x), map_ref(x, [](double v) { return double((v > 0) - (v < 0)); }), 0, 0);
  CHECK_CLOSE(relu(x), map_ref(x, [](double v) { return v > 0 ? v : 0.0; }), 0, 0);
  CHECK_CLOSE(round(x), map_ref(x, [](double v) { return std::round(v); }), 0, 0);
  CHECK_CLOSE(floor(x), map_ref(x, [](double v) { return std::floor(v); }), 0, 0);
  CHECK_CLOSE(ceil(x), map_ref(x, [](double v) { return std::ceil(v); }), 0, 0);
  CHECK_CLOSE(pow(xp, 2.5), map_ref(xp, [](double v) { return std::pow(v, 2.5); }), 1e-15, 1e-14);
  CHECK_CLOSE(clamp(x, -1, 0.5),
              map_ref(x, [](double v) { return std::min(std::max(v, -1.0), 0.5); }), 0, 0);
  // Rounding is half away from zero (the quantizers of docs/method.md section 1 rely on it).
  CHECK(round(from_vector<float>({0.5f, 1.5f, 2.5f, -0.5f, -2.5f}, {5})).to_vector<float>() ==
        std::vector<float>{1, 2, 3, -1, -3});
  // float32 agrees with float64.
  CHECK_CLOSE(exp(x.to(DType::f32)), exp(x), 1e-6, 1e-6);
}

TEST_CASE("elementwise: binary ops broadcast like NumPy", "[elementwise]") {
  const Tensor a = from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor row = from_vector<double>({10, 20, 30}, {3});
  const Tensor col = from_vector<double>({100, 200}, {2, 1});
  CHECK(add(a, row).to_vector<double>() == std::vector<double>{11, 22, 33, 14, 25, 36});
  CHECK(add(a, col).to_vector<double>() == std::vector<double>{101, 102, 103, 204, 205, 206});
  CHECK(add(row, col).shape() == Shape{2, 3});
  CHECK(sub(a, row).to_vector<double>()[5] == -24);
  CHECK(mul(a, col).to_vector<double>()[3] == 800);
  CHECK(div(a, row).to_vector<double>()[4] == 0.25);
  CHECK(minimum(a, scalar_tensor(3.5, DType::f64)).to_vector<double>() ==
        std::vector<double>{1, 2, 3, 3.5, 3.5, 3.5});
  CHECK(maximum(a, scalar_tensor(3.5, DType::f64)).to_vector<double>() ==
        std::vector<double>{3.5, 3.5, 3.5, 4, 5, 6});
  // Non-contiguous operands.
  const Tensor at = a.t();  // [3, 2]
  CHECK(add(at, from_vector<double>({1, 2}, {2})).to_vector<double>() ==
        std::vector<double>{2, 6, 3, 7, 4, 8});
  // Comparisons and where.
  const Tensor m = gt(a, scalar_tensor(3, DType::f64));
  CHECK(m.dtype() == DType::u8);
  CHECK(m.to_vector<std::uint8_t>() == std::vector<std::uint8_t>{0, 0, 0, 1, 1, 1});
  CHECK(eq(a, a).to_vector<std::uint8_t>() == std::vector<std::uint8_t>(6, 1));
  CHECK(ne(a, a).to_vector<std::uint8_t>() == std::vector<std::uint8_t>(6, 0));
  CHECK(le(a, row).to_vector<std::uint8_t>() == std::vector<std::uint8_t>(6, 1));
  CHECK(lt(row, a).to_vector<std::uint8_t>() == std::vector<std::uint8_t>(6, 0));
  CHECK(ge(a, col).to_vector<std::uint8_t>() == std::vector<std::uint8_t>(6, 0));
  CHECK(where(m, a, neg(a)).to_vector<double>() == std::vector<double>{-1, -2, -3, 4, 5, 6});
  // A large contiguous case exercises the threaded path.
  const Tensor big = rand_f64({300, 500}, 3);
  CHECK_CLOSE(sub(add(big, big), big), big, 1e-15, 0);
}

TEST_CASE("elementwise: gradients match finite differences (with broadcasting)",
          "[elementwise][grad]") {
  const Tensor a = rand_f64({2, 3}, 10), b = rand_f64({3}, 11), c = rand_f64({2, 1}, 12);
  const Tensor pos = rand_f64({2, 3}, 13, 0.5, 2.0);
  check_gradients([](const auto& in) { return add(in[0], in[1]); }, {a, b});
  check_gradients([](const auto& in) { return sub(in[0], in[1]); }, {a, c});
  check_gradients([](const auto& in) { return mul(in[0], in[1]); }, {a, b});
  check_gradients([](const auto& in) { return div(in[0], in[1]); },
                  {a, rand_f64({2, 1}, 14, 0.5, 2)});
  check_gradients([](const auto& in) { return minimum(in[0], in[1]); }, {a, b});
  check_gradients([](const auto& in) { return maximum(in[0], in[1]); }, {a, c});
  check_gradients([](const auto& in) { return neg(in[0]); }, {a});
  check_gradients([](const auto& in) { return exp(in[0]); }, {a});
  check_gradients([](const auto& in) { return log(in[0]); }, {pos});
  check_gradients([](const auto& in) { return sqrt(in[0]); }, {pos});
  check_gradients([](const auto& in) { return abs(in[0]); }, {a});
  check_gradients([](const auto& in) { return relu(in[0]); }, {a});
  check_gradients([](const auto& in) { return pow(in[0], 3.0); }, {a});
  check_gradients([](const auto& in) { return pow(in[0], -1.5); }, {pos});
  check_gradients([](const auto& in) { return clamp(in[0], -0.5, 0.5); }, {a});
  check_gradients([](const auto& in) { return add(in[0], 2.0); }, {a});
  check_gradients([](const auto& in) { return mul(in[0], -3.0); }, {a});
  check_gradients([](const auto& in) { return where(gt(in[0], in[1]), in[0], in[1]); }, {a, b});
  // Piecewise-constant ops: zero gradient (inputs away from the jumps).
  const Tensor away = from_vector<double>({0.2, 1.3, -0.7, 2.1}, {4});
  for (auto fn : {&sign, &round, &floor, &ceil})
    check_gradients([fn](const auto& in) { return (*fn)(in[0]); }, {away});
  // Non-contiguous input.
  check_gradients([](const auto& in) { return mul(in[0].t(), in[1]); },
                  {rand_f64({3, 2}, 15), rand_f64({3}, 16)});
}
