// CUDA kernels of the fused quantizers, the counterparts of quant/cpu/quantize.h.
//
// The parameters (d, q_min, q_max) are read from device scalar tensors of x's
// dtype and the parameter gradients are written to device scalar tensors, so
// a training step never waits for the host. Backward is one pass: it writes
// dL/dx and reduces dL/dparameters together. The reduction is deterministic:
// each block sums a fixed chunk of kChunk elements (per-thread sums in double
// over a fixed stride, then a fixed tree), and one block adds the chunk sums
// in order, so a run repeats bit for bit whatever the GPU's scheduling.
//
// Formulas: docs/method.md sections 1-3 and the CPU kernels (quant/cpu/quantize_uniform.cpp,
// quant/cpu/quantize_pow2.cpp); rounding is half away from zero, and
// 2^round(log2 a) rounds the exponent up exactly when the mantissa is at
// least sqrt(2), as on the CPU.
#pragma once

#include "core/tensor.h"

namespace mpq::quant::cuda {

constexpr std::int64_t kChunk = 8192;

void quantize_uniform_forward(const Tensor& x, const Tensor& d, const Tensor& qmax, bool is_signed,
                              const Tensor& q);
// dx may be undefined (not needed); gd and gq receive dL/dd and dL/dq_max.
void quantize_uniform_backward(const Tensor& g, const Tensor& x, const Tensor& d,
                               const Tensor& qmax, bool is_signed, const Tensor& dx,
                               const Tensor& gd, const Tensor& gq);

void quantize_pow2_forward(const Tensor& x, const Tensor& qmin, const Tensor& qmax, bool is_signed,
                           bool with_zero, const Tensor& q);
// gmin and gmax receive dL/dq_min and dL/dq_max.
void quantize_pow2_backward(const Tensor& g, const Tensor& x, const Tensor& qmin,
                            const Tensor& qmax, bool is_signed, bool with_zero, const Tensor& dx,
                            const Tensor& gmin, const Tensor& gmax);

}  // namespace mpq::quant::cuda
