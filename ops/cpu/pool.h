// CPU pooling kernels (contiguous NCHW), threaded over the N*C planes.
#pragma once

#include "core/tensor.h"
#include "ops/pool.h"

namespace mpq::cpu {

// index (int32, same shape as y) receives the flat h*W+w of each maximum.
void max_pool2d_forward(const Tensor& x, const Pool2dParams& p, const Tensor& y,
                        const Tensor& index);
void max_pool2d_backward(const Tensor& dy, const Tensor& index, const Tensor& dx);
void avg_pool2d_forward(const Tensor& x, const Pool2dParams& p, const Tensor& y);
void avg_pool2d_backward(const Tensor& dy, const Pool2dParams& p, const Tensor& dx);

}  // namespace mpq::cpu
