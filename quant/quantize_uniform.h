// The uniform quantizer Q_U as one fused, differentiable op over the
// effective parameters (docs/method.md sections 1 and 2).
//
//   lo = -q_max (signed) or 0 (unsigned: the quantizer replaces the ReLU)
//   c  = clip(x, lo, q_max),   q = d * round(c / d)     (round: half away from zero)
//
// Straight-through gradients (round has gradient 1), per element, g = dL/dq:
//   dL/dx     = g                       for lo <= x <= q_max, else 0
//   dL/dd    += g * (round(c/d) - c/d)  (= (q - x)/d inside; sign(x)(round(q_max/d) - q_max/d)
//                                         beyond +-q_max; 0 below 0 when unsigned)
//   dL/dq_max += g * dc/dq_max          (+1 above q_max, -1 below -q_max when signed, else 0)
// d and q_max are scalar tensors: the effective step size and range that a
// parametrization (quant/quantizer.h) derives from its raw parameters, so the
// chain rule to the raw parameters is left to autograd on scalars.
// The kernel makes one pass forward and one pass backward; the backward
// writes dL/dx and reduces both parameter gradients in double, block by block
// in a fixed order (the result does not depend on the thread count).
#pragma once

#include "core/tensor.h"

namespace mpq::quant {

Tensor quantize_uniform(const Tensor& x, const Tensor& d, const Tensor& qmax, bool is_signed);

}  // namespace mpq::quant
