// CPU kernels of the fused quantizers (contiguous input). Forward writes q;
// backward writes dx and returns the parameter-gradient sums, reduced per
// block of kBlock elements and then over blocks in order, in double.
#pragma once

#include <array>

#include "core/tensor.h"

namespace mpq::quant::cpu {

constexpr std::int64_t kBlock = 8192;

void quantize_uniform_forward(const Tensor& x, double d, double qmax, bool is_signed,
                              const Tensor& q);
// Returns {dL/dd, dL/dq_max}. dx may be undefined (not needed).
std::array<double, 2> quantize_uniform_backward(const Tensor& g, const Tensor& x, double d,
                                                double qmax, bool is_signed, const Tensor& dx);

void quantize_pow2_forward(const Tensor& x, double qmin, double qmax, bool is_signed,
                           bool with_zero, const Tensor& q);
// Returns {dL/dq_min, dL/dq_max}.
std::array<double, 2> quantize_pow2_backward(const Tensor& g, const Tensor& x, double qmin,
                                             double qmax, bool is_signed, bool with_zero,
                                             const Tensor& dx);

}  // namespace mpq::quant::cpu
