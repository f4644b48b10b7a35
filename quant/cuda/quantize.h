// Shared by the CUDA kernels of the fused quantizers (quantize_uniform.cu,
// quantize_pow2.cu), the counterparts of quant/cpu/; reached through the
// backend table (core/backend.h).
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

}  // namespace mpq::quant::cuda
