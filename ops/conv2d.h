// 2-D convolution (cross-correlation, as in every DL framework).
//
//   x [N, C, H, W], weight [O, C/groups, KH, KW], bias [O] (optional)
//   y [N, O, P, Q] with P = (H + 2 pad - dil (KH - 1) - 1) / stride + 1
// Gradients: dx = conv2d_backward_data(dy, w), dw = conv2d_backward_weights(x, dy),
// db = sum over N, P, Q of dy. float32 runs on oneDNN, float64 on the
// plain-loop reference in ops/reference/conv2d.h.
#pragma once

#include "core/tensor.h"
#include "ops/conv2d_params.h"

namespace mpq {

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              const Conv2dParams& params = {});

}  // namespace mpq
