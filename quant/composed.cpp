#include "quant/composed.h"

#include <numbers>

#include "ops/elementwise.h"
#include "quant/ste.h"

namespace mpq::quant {

Tensor quantize_uniform_composed(const Tensor& x, const Tensor& d, const Tensor& qmax,
                                 bool is_signed) {
  const Tensor lo = is_signed ? neg(qmax) : zeros({}, x.dtype(), x.device());
  // maximum/minimum give ties to their first operand, so x at a bound keeps
  // the gradient, as the closed interval [lo, q_max] of docs/method.md section 1 says.
  const Tensor c = minimum(maximum(x, lo), qmax);
  return mul(d, round_ste(div(c, d)));
}

Tensor quantize_pow2_composed(const Tensor& x_in, const Tensor& qmin, const Tensor& qmax,
                              bool is_signed, bool with_zero) {
  const Device dev = x_in.device();
  const Tensor zero = zeros({}, x_in.dtype(), dev);
  const Tensor x = is_signed ? x_in : relu(x_in);
  const Tensor s = where(ge(x, zero), ones({}, x.dtype(), dev), full({}, -1.0, x.dtype(), dev));
  const Tensor a = abs(x);
  // The middle branch: s 2^round(log2 a); a is kept positive for the branches
  // where it is not selected (their gradient is zero, not NaN).
  const Tensor a_safe = clamp(a, 1e-30, 1e30);
  const Tensor middle = mul(s, exp2(round_ste(log2(a_safe))));
  Tensor q = where(ge(a, qmax), mul(s, qmax), middle);
  q = where(lt(a, qmin), mul(s, qmin), q);
  if (with_zero) q = where(lt(a, mul(qmin, 1.0 / std::numbers::sqrt2)), zero, q);
  return q;
}

}  // namespace mpq::quant
