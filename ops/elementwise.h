// Elementwise ops with NumPy broadcasting, differentiable where it makes sense.
//
// Gradients (g = upstream, reduced back to each input's shape with sum_to):
//   add: g, g        sub: g, -g        mul: g*b, g*a      div: g/b, -g*a/b^2
//   minimum/maximum: g to the chosen operand (a on ties)
//   exp: g*exp(x)    log: g/x          sqrt: g/(2 sqrt x) abs: g*sign(x)
//   pow(x, p): g*p*x^(p-1)             clamp: g where lo <= x <= hi
//   relu: g where x > 0                where(c, a, b): g*c, g*(1-c)
//   sign, round, floor, ceil: zero (the straight-through variants live in quant/)
// Comparisons return uint8 and are not differentiable.
#pragma once

#include "core/elementwise_kind.h"
#include "core/tensor.h"

namespace mpq {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);

Tensor add(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);

Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor round(const Tensor& x);
Tensor floor(const Tensor& x);
Tensor ceil(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor clamp(const Tensor& x, double lo, double hi);

// The elementwise kind `op` (core/elementwise_kind.h) on x's device, not
// recorded: for ops that define their own gradient (quant/ste.h's
// straight-through estimators), so that one kernel per device computes it.
// Errors name `name`.
Tensor unary_op(UnaryOp op, const char* name, const Tensor& x, double alpha = 0, double beta = 0);

Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);

// cond (uint8, broadcast) selects a where nonzero, else b.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// In place, not recorded: dst += src (src broadcast to dst).
void add_(const Tensor& dst, const Tensor& src);

inline Tensor operator+(const Tensor& a, const Tensor& b) {
  return add(a, b);
}
inline Tensor operator-(const Tensor& a, const Tensor& b) {
  return sub(a, b);
}
inline Tensor operator*(const Tensor& a, const Tensor& b) {
  return mul(a, b);
}
inline Tensor operator/(const Tensor& a, const Tensor& b) {
  return div(a, b);
}
inline Tensor operator-(const Tensor& a) {
  return neg(a);
}
inline Tensor operator+(const Tensor& a, double b) {
  return add(a, b);
}
inline Tensor operator-(const Tensor& a, double b) {
  return add(a, -b);
}
inline Tensor operator*(const Tensor& a, double b) {
  return mul(a, b);
}
inline Tensor operator*(double a, const Tensor& b) {
  return mul(b, a);
}
inline Tensor operator/(const Tensor& a, double b) {
  return mul(a, 1.0 / b);
}

}  // namespace mpq
