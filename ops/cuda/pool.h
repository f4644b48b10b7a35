// CUDA pooling kernels on contiguous NCHW tensors (ops/cpu/pool.h is the CPU
// side, same results). Backward passes gather per input element from the
// windows that cover it, in the CPU's order, with no atomics: deterministic.
#pragma once

#include "core/tensor.h"
#include "ops/pool.h"

namespace mpq::cuda {

void max_pool2d_forward(const Tensor& x, const Pool2dParams& p, const Tensor& y,
                        const Tensor& index);
void max_pool2d_backward(const Tensor& dy, const Tensor& index, const Pool2dParams& p,
                         const Tensor& dx);
void avg_pool2d_forward(const Tensor& x, const Pool2dParams& p, const Tensor& y);
void avg_pool2d_backward(const Tensor& dy, const Pool2dParams& p, const Tensor& dx);

}  // namespace mpq::cuda
