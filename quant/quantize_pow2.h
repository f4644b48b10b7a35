// The power-of-two quantizer Q_P as one fused, differentiable op over the
// effective parameters (docs/method.md sections 1 and 2).
//
// Unsigned inputs pass through relu first. With a = |x| and s = +1 for x >= 0,
// -1 otherwise:
//   with zero:   a < q_min/sqrt(2)            -> 0
//                q_min/sqrt(2) <= a < q_min   -> s q_min
//   no zero:     a < q_min                    -> s q_min
//   q_min <= a < q_max                        -> s 2^round(log2 a)
//   a >= q_max                                -> s q_max
// Straight-through gradients, g = dL/dq:
//   dL/dx      = g 2^round(log2 a) / a  in the middle region, else 0
//   dL/dq_min += g s  where the output is s q_min
//   dL/dq_max += g s  where the output is s q_max
// (s = +1 at x = 0, so an unsigned quantizer without the zero level maps
// x <= 0 to q_min.) Reductions as in quantize_uniform.h.
#pragma once

#include "core/tensor.h"

namespace mpq::quant {

Tensor quantize_pow2(const Tensor& x, const Tensor& qmin, const Tensor& qmax, bool is_signed,
                     bool with_zero);

}  // namespace mpq::quant
