// Straight-through building blocks (docs/method.md section 3): every round, ceil
// and the rounding inside pow2 passes the gradient through unchanged.
//
//   round_ste(x) = round(x)            d/dx = 1   (half away from zero)
//   ceil_ste(x)  = ceil(x)             d/dx = 1
//   pow2_ste(v)  = 2^round(log2 v)     d/dv = pow2(v) / v
//   exp2(x)      = 2^x                 d/dx = 2^x ln 2   (exact for integer x)
//   log2(x)                            d/dx = 1 / (x ln 2)
// Used on the scalar quantizer parameters and in the composed quantizers
// (quant/composed.h) that serve as the fused kernels' test oracle.
#pragma once

#include "core/tensor.h"

namespace mpq::quant {

Tensor round_ste(const Tensor& x);
Tensor ceil_ste(const Tensor& x);
Tensor pow2_ste(const Tensor& v);
Tensor exp2(const Tensor& x);
Tensor log2(const Tensor& x);

}  // namespace mpq::quant
