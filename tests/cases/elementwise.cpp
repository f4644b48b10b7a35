// Elementwise cases: the binary kinds with broadcasting and non-contiguous
// operands, the smooth unary kinds on their domains, where, and ReLU and
// clamp with inputs kept away from their kinks.
#include "ops/elementwise.h"
#include "tests/cases/op_case.h"

namespace mpq::cases {

namespace {

OpCase binary(const char* op, Tensor (*f)(const Tensor&, const Tensor&), Shape a, Shape b,
              bool positive_b = false) {
  OpCase c;
  c.op = op;
  c.name = cat(shape_str(a), " ", shape_str(b));
  c.make_inputs = [a, b, positive_b](std::uint64_t s) {
    return Inputs{uniform(a, s), positive_b ? uniform(b, s + 1, 0.5, 2) : uniform(b, s + 1)};
  };
  c.run = [f](const Inputs& in) { return f(in[0], in[1]); };
  const std::int64_t n = numel_of(broadcast_shapes(a, b, op));
  c.flops = static_cast<double>(n);
  c.bytes = 4.0 * static_cast<double>(numel_of(a) + numel_of(b) + n);
  return c;
}

OpCase unary(const char* op, std::function<Tensor(const Tensor&)> f, Shape s,
             std::function<Tensor(const Shape&, std::uint64_t)> make) {
  OpCase c;
  c.op = op;
  c.name = shape_str(s);
  c.make_inputs = [s, make](std::uint64_t seed) { return Inputs{make(s, seed)}; };
  c.run = [f](const Inputs& in) { return f(in[0]); };
  c.flops = static_cast<double>(numel_of(s));
  c.bytes = 8.0 * static_cast<double>(numel_of(s));
  return c;
}

}  // namespace

std::vector<OpCase> elementwise_cases() {
  std::vector<OpCase> v;
  const Shape act{128, 16, 32, 32};  // a ResNet-20 activation
  for (auto [op, f] : std::vector<std::pair<const char*, Tensor (*)(const Tensor&, const Tensor&)>>{
           {"add", add}, {"sub", sub}, {"mul", mul}}) {
    v.push_back(binary(op, f, {3, 4}, {3, 4}));
    v.push_back(binary(op, f, {2, 3, 4}, {3, 1}));  // broadcast
    OpCase p = binary(op, f, act, act);
    p.perf = true;
    v.push_back(p);
  }
  v.push_back(binary("div", div, {3, 4}, {3, 4}, true));
  v.push_back(binary("div", div, {2, 3, 4}, {4}, true));
  // minimum/maximum: the operands differ by at least 0.1, away from the tie.
  for (auto [op, f] : std::vector<std::pair<const char*, Tensor (*)(const Tensor&, const Tensor&)>>{
           {"minimum", minimum}, {"maximum", maximum}}) {
    OpCase c = binary(op, f, {3, 5}, {3, 5});
    c.make_inputs = [](std::uint64_t s) {
      Tensor a = uniform({3, 5}, s);
      Tensor b = add(a, away_from_zero({3, 5}, s + 1, 0.1, 1.0));
      return Inputs{a, b.detach()};
    };
    v.push_back(c);
  }
  // A transposed (non-contiguous) operand.
  {
    OpCase c = binary("mul", mul, {4, 3}, {4, 3});
    c.name = "[4,3] [3,4]^T";
    c.make_inputs = [](std::uint64_t s) {
      return Inputs{uniform({4, 3}, s), uniform({3, 4}, s + 1)};
    };
    c.run = [](const Inputs& in) { return mul(in[0], in[1].t()); };
    v.push_back(c);
  }
  auto u = [](double lo, double hi) {
    return [lo, hi](const Shape& s, std::uint64_t seed) { return uniform(s, seed, lo, hi); };
  };
  auto kink = [](double away) {
    return [away](const Shape& s, std::uint64_t seed) { return away_from_zero(s, seed, away); };
  };
  v.push_back(unary(
      "neg", [](const Tensor& x) { return neg(x); }, {2, 3, 4}, u(-1, 1)));
  v.push_back(unary(
      "exp", [](const Tensor& x) { return exp(x); }, {2, 3, 4}, u(-2, 2)));
  v.push_back(unary(
      "log", [](const Tensor& x) { return log(x); }, {2, 3, 4}, u(0.2, 3)));
  v.push_back(unary(
      "sqrt", [](const Tensor& x) { return sqrt(x); }, {2, 3, 4}, u(0.2, 3)));
  v.push_back(unary(
      "abs", [](const Tensor& x) { return abs(x); }, {2, 3, 4}, kink(0.05)));
  v.push_back(unary(
      "relu", [](const Tensor& x) { return relu(x); }, {2, 3, 4}, kink(0.05)));
  {
    OpCase p = unary(
        "relu", [](const Tensor& x) { return relu(x); }, act, kink(0.01));
    p.perf = true;
    v.push_back(p);
  }
  v.push_back(unary(
      "pow", [](const Tensor& x) { return pow(x, 2.5); }, {2, 3, 4}, u(0.2, 2)));
  v.push_back(unary(
      "clamp", [](const Tensor& x) { return clamp(x, -0.5, 0.5); }, {2, 3, 4},
      [](const Shape& s, std::uint64_t seed) {  // away from both bounds
        Tensor t = away_from_zero(s, seed, 0.05, 0.9);
        double* p = t.data<double>();
        for (std::int64_t i = 0; i < t.numel(); ++i)
          if (std::abs(std::abs(p[i]) - 0.5) < 0.05) p[i] *= 0.8;
        return t;
      }));
  v.push_back(unary(
      "add_scalar", [](const Tensor& x) { return add(x, 0.75); }, {3, 4}, u(-1, 1)));
  v.push_back(unary(
      "mul_scalar", [](const Tensor& x) { return mul(x, -1.5); }, {3, 4}, u(-1, 1)));
  {
    OpCase c;
    c.op = "where";
    c.name = "[3,4] mask";
    c.make_inputs = [](std::uint64_t s) {
      return Inputs{uniform({3, 4}, s), uniform({3, 4}, s + 1), uniform({3, 4}, s + 2)};
    };
    c.run = [](const Inputs& in) { return where(gt(in[0], zeros_like(in[0])), in[1], in[2]); };
    v.push_back(c);
  }
  return v;
}

}  // namespace mpq::cases
