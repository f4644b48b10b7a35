#include "quant/ste.h"

#include <numbers>

#include "core/autograd.h"
#include "ops/elementwise.h"

namespace mpq::quant {

namespace {
// The positivity pow2_ste needs (otherwise 2^round(log2 v) is 0 or NaN).
// pow2_ste is applied to quantizer parameters (a value or a few), so reading
// them back from a GPU costs a few bytes per step.
void check_positive(const Tensor& v) {
  for (double a : v.detach().to(DType::f64).to_vector<double>())
    MPQ_CHECK(a > 0, "pow2_ste: expected a positive value, got ", a);
}
}  // namespace

Tensor round_ste(const Tensor& x) {
  Tensor out = unary_op(UnaryOp::round, "round_ste", x);
  return record("round_ste", out, {&x}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor ceil_ste(const Tensor& x) {
  Tensor out = unary_op(UnaryOp::ceil, "ceil_ste", x);
  return record("ceil_ste", out, {&x}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor pow2_ste(const Tensor& v) {
  check_positive(v);
  Tensor out = unary_op(UnaryOp::pow2_round, "pow2_ste", v);
  const Tensor od = out.detach(), vd = v.detach();
  return record("pow2_ste", out, {&v},
                [od, vd](const Tensor& g) { return std::vector<Tensor>{mul(g, div(od, vd))}; });
}

Tensor exp2(const Tensor& x) {
  Tensor out = unary_op(UnaryOp::exp2, "exp2", x);
  const Tensor od = out.detach();
  return record("exp2", out, {&x}, [od](const Tensor& g) {
    return std::vector<Tensor>{mul(mul(g, od), std::numbers::ln2)};
  });
}

Tensor log2(const Tensor& x) {
  Tensor out = unary_op(UnaryOp::log2, "log2", x);
  const Tensor xd = x.detach();
  return record("log2", out, {&x}, [xd](const Tensor& g) {
    return std::vector<Tensor>{div(g, mul(xd, std::numbers::ln2))};
  });
}

}  // namespace mpq::quant
