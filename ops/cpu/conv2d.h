// oneDNN float32 convolution: forward, backward-data, backward-weights.
// Tensors are contiguous NCHW / OIHW; the primitives pick their own (blocked)
// layouts and the kernel reorders at its edges, reusing cached buffers.
#pragma once

#include "core/tensor.h"
#include "ops/conv2d_params.h"

namespace mpq::cpu {

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& prm,
                    const Tensor& y);
void conv2d_backward_data(const Tensor& dy, const Tensor& w, const Conv2dParams& prm,
                          const Tensor& dx);
// db may be undefined.
void conv2d_backward_weights(const Tensor& x, const Tensor& dy, const Conv2dParams& prm,
                             const Tensor& dw, const Tensor& db);

}  // namespace mpq::cpu
