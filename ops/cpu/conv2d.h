// oneDNN float32 convolution: forward, backward-data, backward-weights.
// Activations (x, y, dy, dx) are channels-last tensors (core/layout.h: NHWC
// strides), which the primitives read and write in place; weights are
// contiguous OIHW and reordered into the primitive's blocked layout through a
// cached buffer. Primitives are cached per shape.
#pragma once

#include "core/tensor.h"
#include "ops/conv2d_params.h"

namespace mpq::cpu {

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& prm,
                    const Tensor& y);
void conv2d_backward_data(const Tensor& dy, const Tensor& w, const Conv2dParams& prm,
                          const Tensor& dx);
// Inference convolution with bias, optionally adding y's previous contents
// (accumulate: oneDNN's sum post-op) and a ReLU, as one primitive
// (prop_kind forward_inference); b must be defined.
void conv2d_forward_inference(const Tensor& x, const Tensor& w, const Tensor& b,
                              const Conv2dParams& prm, bool relu, bool accumulate, const Tensor& y);
// db may be undefined.
void conv2d_backward_weights(const Tensor& x, const Tensor& dy, const Conv2dParams& prm,
                             const Tensor& dw, const Tensor& db);

}  // namespace mpq::cpu
