// CUDA convolution through cuDNN (ops/cpu/conv2d.h is the CPU side), on
// contiguous NCHW activations and OIHW weights, float32 and float64.
//
// Algorithms come from cuDNN's heuristics (cudnnGet*Algorithm_v7), restricted
// to deterministic ones so that runs repeat exactly, and are cached per shape,
// geometry, dtype and device; the workspace is one buffer per device, grown
// when an algorithm needs more (core/cuda/handles.cuh). float32 runs in full
// float32 arithmetic unless TF32 is allowed (cuda::set_allow_tf32 in
// core/cuda/runtime.h), which trades accuracy for tensor-core speed as
// PyTorch's default does.
#pragma once

#include "core/tensor.h"
#include "ops/conv2d_params.h"

namespace mpq::cuda {

// y = conv(x, w) (+ b per output channel when b is defined).
void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& prm,
                    const Tensor& y);
void conv2d_backward_data(const Tensor& dy, const Tensor& w, const Conv2dParams& prm,
                          const Tensor& dx);
// dw only; the bias gradient is a reduction the op layer takes from dy.
void conv2d_backward_weights(const Tensor& x, const Tensor& dy, const Conv2dParams& prm,
                             const Tensor& dw);

}  // namespace mpq::cuda
