// The quantizers of docs/method.md composed from ordinary differentiable ops and the
// straight-through blocks of quant/ste.h. Slow, but every gradient comes from
// autograd: this is the test oracle of the fused kernels
// (quant/quantize_uniform.h, quant/quantize_pow2.h).
#pragma once

#include "core/tensor.h"

namespace mpq::quant {

// q = d round_ste(clip(x, lo, q_max) / d), clip built from minimum/maximum so
// that the bound that clips receives the gradient.
Tensor quantize_uniform_composed(const Tensor& x, const Tensor& d, const Tensor& qmax,
                                 bool is_signed);
Tensor quantize_pow2_composed(const Tensor& x, const Tensor& qmin, const Tensor& qmax,
                              bool is_signed, bool with_zero);

}  // namespace mpq::quant
