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

// Inference only (no autograd): a convolution followed by a per-output-channel
// affine map, optionally a residual addition and a ReLU, as one pass:
//   y[n, o] = act(scale[o] (conv(x, w)[n, o] + bias[o]) + shift[o] + residual[n, o])
// which is conv(x, w') + b' with w'[o] = scale[o] w[o] and b' = scale bias + shift.
// This is how an inference-mode batch norm (scale = gamma / sqrt(var + eps),
// shift = beta - mean scale) is folded into the convolution before it; float32
// runs the folded convolution, the residual (oneDNN's sum post-op) and the ReLU
// in one primitive, float64 composes the reference ops. bias and residual may
// be undefined.
Tensor conv2d_affine(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& scale,
                     const Tensor& shift, const Conv2dParams& params, bool relu,
                     const Tensor& residual = Tensor());

}  // namespace mpq
