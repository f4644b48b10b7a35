#include "ops/elementwise.h"

#include "core/autograd.h"
#include "core/backend.h"
#include "core/layout.h"
#include "ops/reduce.h"

namespace mpq {

namespace {

// The kernels of the operands' device (check_same_device has run).
void run_binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out, double alpha = 0,
                double beta = 0) {
  MPQ_KERNEL(out.device(), binary)(op, a, b, out, alpha, beta);
}
void run_unary(UnaryOp op, const Tensor& x, const Tensor& out, double alpha, double beta) {
  MPQ_KERNEL(out.device(), unary)(op, x, out, alpha, beta);
}
void run_where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  MPQ_KERNEL(out.device(), where)(cond, a, b, out);
}

void check_binary(const char* op, const Tensor& a, const Tensor& b) {
  check_same_device(op, {&a, &b});
  MPQ_CHECK(a.dtype() == b.dtype(), op, ": dtypes differ (", dtype_name(a.dtype()), " ",
            shape_str(a.shape()), " and ", dtype_name(b.dtype()), " ", shape_str(b.shape()), ")");
  MPQ_CHECK(is_floating(a.dtype()), op, ": expected floating tensors, got ", dtype_name(a.dtype()));
}

// Broadcasts, allocates the result and runs the kernel; no autograd.
Tensor binary_forward(BinaryOp op, const char* name, const Tensor& a, const Tensor& b,
                      DType out_dtype, double alpha = 0, double beta = 0) {
  check_binary(name, a, b);
  const Shape s = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = empty_result_like(s, out_dtype, {&a, &b});
  run_binary(op, a.detach().expand(s), b.detach().expand(s), out, alpha, beta);
  return out;
}

Tensor unary_forward(UnaryOp op, const char* name, const Tensor& x, double alpha = 0,
                     double beta = 0) {
  MPQ_CHECK(is_floating(x.dtype()), name, ": expected a floating tensor, got ",
            dtype_name(x.dtype()), " ", shape_str(x.shape()));
  Tensor out = empty_result_like(x.shape(), x.dtype(), {&x});
  run_unary(op, x, out, alpha, beta);
  return out;
}

Tensor compare(BinaryOp op, const char* name, const Tensor& a, const Tensor& b) {
  return binary_forward(op, name, a, b, DType::u8);
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::add, "add", a, b, a.dtype());
  const Shape sa = a.shape(), sb = b.shape();
  return record("add", out, {&a, &b}, [sa, sb](const Tensor& g) {
    return std::vector<Tensor>{sum_to(g, sa), sum_to(g, sb)};
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::sub, "sub", a, b, a.dtype());
  const Shape sa = a.shape(), sb = b.shape();
  const bool need_b = b.requires_grad();
  return record("sub", out, {&a, &b}, [sa, sb, need_b](const Tensor& g) {
    return std::vector<Tensor>{sum_to(g, sa), need_b ? sum_to(neg(g), sb) : Tensor()};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::mul, "mul", a, b, a.dtype());
  if (!any_requires_grad({&a, &b})) return out;
  const bool need_a = a.requires_grad(), need_b = b.requires_grad();
  const Tensor ad = a.detach(), bd = b.detach();
  return record("mul", out, {&a, &b}, [ad, bd, need_a, need_b](const Tensor& g) {
    return std::vector<Tensor>{need_a ? sum_to(mul(g, bd), ad.shape()) : Tensor(),
                               need_b ? sum_to(mul(g, ad), bd.shape()) : Tensor()};
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::div, "div", a, b, a.dtype());
  if (!any_requires_grad({&a, &b})) return out;
  const bool need_a = a.requires_grad(), need_b = b.requires_grad();
  const Tensor ad = a.detach(), bd = b.detach();
  return record("div", out, {&a, &b}, [ad, bd, need_a, need_b](const Tensor& g) {
    Tensor ga, gb;
    if (need_a) ga = sum_to(div(g, bd), ad.shape());
    if (need_b) gb = sum_to(neg(div(mul(g, ad), mul(bd, bd))), bd.shape());
    return std::vector<Tensor>{ga, gb};
  });
}

namespace {
// minimum/maximum: the gradient goes to a where a was chosen (ties included).
Tensor select_binary(BinaryOp op, BinaryOp a_wins, const char* name, const Tensor& a,
                     const Tensor& b) {
  Tensor out = binary_forward(op, name, a, b, a.dtype());
  if (!any_requires_grad({&a, &b})) return out;
  const Tensor ad = a.detach(), bd = b.detach();
  return record(name, out, {&a, &b}, [ad, bd, a_wins](const Tensor& g) {
    Tensor mask = compare(a_wins, "minimum/maximum backward", ad, bd);
    Tensor zero = zeros({}, g.dtype(), g.device());
    return std::vector<Tensor>{sum_to(where(mask, g, zero), ad.shape()),
                               sum_to(where(mask, zero, g), bd.shape())};
  });
}
}  // namespace

Tensor minimum(const Tensor& a, const Tensor& b) {
  return select_binary(BinaryOp::minimum, BinaryOp::le, "minimum", a, b);
}
Tensor maximum(const Tensor& a, const Tensor& b) {
  return select_binary(BinaryOp::maximum, BinaryOp::ge, "maximum", a, b);
}

Tensor unary_op(UnaryOp op, const char* name, const Tensor& x, double alpha, double beta) {
  return unary_forward(op, name, x.detach(), alpha, beta);
}

Tensor add(const Tensor& a, double b) {
  Tensor out = unary_forward(UnaryOp::affine, "add", a, 1.0, b);
  return record("add_scalar", out, {&a}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor mul(const Tensor& a, double b) {
  Tensor out = unary_forward(UnaryOp::affine, "mul", a, b, 0.0);
  return record("mul_scalar", out, {&a},
                [b](const Tensor& g) { return std::vector<Tensor>{mul(g, b)}; });
}

Tensor neg(const Tensor& x) {
  Tensor out = unary_forward(UnaryOp::neg, "neg", x);
  return record("neg", out, {&x}, [](const Tensor& g) { return std::vector<Tensor>{neg(g)}; });
}

Tensor exp(const Tensor& x) {
  Tensor out = unary_forward(UnaryOp::exp, "exp", x);
  const Tensor od = out.detach();
  return record("exp", out, {&x},
                [od](const Tensor& g) { return std::vector<Tensor>{mul(g, od)}; });
}

Tensor log(const Tensor& x) {
  Tensor out = unary_forward(UnaryOp::log, "log", x);
  const Tensor xd = x.detach();
  return record("log", out, {&x},
                [xd](const Tensor& g) { return std::vector<Tensor>{div(g, xd)}; });
}

Tensor sqrt(const Tensor& x) {
  Tensor out = unary_forward(UnaryOp::sqrt, "sqrt", x);
  const Tensor od = out.detach();
  return record("sqrt", out, {&x},
                [od](const Tensor& g) { return std::vector<Tensor>{div(g, mul(od, 2.0))}; });
}

Tensor abs(const Tensor& x) {
  Tensor out = unary_forward(UnaryOp::abs, "abs", x);
  const Tensor xd = x.detach();
  return record("abs", out, {&x},
                [xd](const Tensor& g) { return std::vector<Tensor>{mul(g, sign(xd))}; });
}

Tensor relu(const Tensor& x) {
  Tensor out = unary_forward(UnaryOp::relu, "relu", x);
  const Tensor xd = x.detach();
  return record("relu", out, {&x}, [xd](const Tensor& g) {
    Tensor gi = empty_result_like(g.shape(), g.dtype(), {&g, &xd});
    run_binary(BinaryOp::relu_backward, g, xd, gi);
    return std::vector<Tensor>{gi};
  });
}

Tensor pow(const Tensor& x, double p) {
  Tensor out = unary_forward(UnaryOp::pow, "pow", x, p);
  const Tensor xd = x.detach();
  return record("pow", out, {&x}, [xd, p](const Tensor& g) {
    return std::vector<Tensor>{mul(g, mul(pow(xd, p - 1.0), p))};
  });
}

Tensor clamp(const Tensor& x, double lo, double hi) {
  MPQ_CHECK(lo <= hi, "clamp: lower bound ", lo, " above upper bound ", hi);
  Tensor out = unary_forward(UnaryOp::clamp, "clamp", x, lo, hi);
  const Tensor xd = x.detach();
  return record("clamp", out, {&x}, [xd, lo, hi](const Tensor& g) {
    Tensor gi = empty_result_like(g.shape(), g.dtype(), {&g, &xd});
    run_binary(BinaryOp::clamp_backward, g, xd, gi, lo, hi);
    return std::vector<Tensor>{gi};
  });
}

// Piecewise constant: zero gradient (recorded so that the graph stays connected).
#define MPQ_ZERO_GRAD_UNARY(fn, opcode)                                                \
  Tensor fn(const Tensor& x) {                                                         \
    Tensor out = unary_forward(opcode, #fn, x);                                        \
    return record(#fn, out, {&x},                                                      \
                  [](const Tensor& g) { return std::vector<Tensor>{zeros_like(g)}; }); \
  }
MPQ_ZERO_GRAD_UNARY(sign, UnaryOp::sign)
MPQ_ZERO_GRAD_UNARY(round, UnaryOp::round)
MPQ_ZERO_GRAD_UNARY(floor, UnaryOp::floor)
MPQ_ZERO_GRAD_UNARY(ceil, UnaryOp::ceil)
#undef MPQ_ZERO_GRAD_UNARY

Tensor eq(const Tensor& a, const Tensor& b) {
  return compare(BinaryOp::eq, "eq", a, b);
}
Tensor ne(const Tensor& a, const Tensor& b) {
  return compare(BinaryOp::ne, "ne", a, b);
}
Tensor lt(const Tensor& a, const Tensor& b) {
  return compare(BinaryOp::lt, "lt", a, b);
}
Tensor le(const Tensor& a, const Tensor& b) {
  return compare(BinaryOp::le, "le", a, b);
}
Tensor gt(const Tensor& a, const Tensor& b) {
  return compare(BinaryOp::gt, "gt", a, b);
}
Tensor ge(const Tensor& a, const Tensor& b) {
  return compare(BinaryOp::ge, "ge", a, b);
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_binary("where", a, b);
  check_same_device("where", {&cond, &a});
  MPQ_CHECK(cond.dtype() == DType::u8,
            "where: condition must be uint8 (as comparisons return), got ",
            dtype_name(cond.dtype()));
  const Shape s =
      broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out = empty_result_like(s, a.dtype(), {&a, &b});
  run_where(cond.expand(s), a.detach().expand(s), b.detach().expand(s), out);
  const Tensor cd = cond.detach();
  const Shape sa = a.shape(), sb = b.shape();
  return record("where", out, {&a, &b}, [cd, sa, sb](const Tensor& g) {
    Tensor zero = zeros({}, g.dtype(), g.device());
    return std::vector<Tensor>{sum_to(where(cd, g, zero), sa), sum_to(where(cd, zero, g), sb)};
  });
}

void add_(const Tensor& dst, const Tensor& src) {
  check_binary("add_", dst, src);
  run_binary(BinaryOp::add, dst, src.detach().expand(dst.shape()), dst);
}

}  // namespace mpq
