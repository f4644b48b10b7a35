// The conv -> batch norm [-> activation] pattern of the zoo's networks, with an
// inference fast path: when the batch norm is in eval mode and gradients are
// off, the batch norm is folded into the convolution and a plain ReLU runs
// inside the same oneDNN primitive (ops/conv2d.h, conv2d_affine), as does a
// residual addition before it, so a layer is one pass over memory instead of
// three or four. In training, or with gradients on,
// the modules simply run one after the other.
#pragma once

#include <cstdint>

#include "models/quantized.h"

namespace mpq::models {

// act(bn(conv(x)) + residual); act may be null (no activation), residual
// undefined (none).
Tensor conv_bn_act(Conv2d& conv, BatchNorm2d& bn, ActQuant* act, const Tensor& x,
                   const Tensor& residual = Tensor());

// How many conv_bn_act calls took the folded path since the process started
// (a diagnostic: tests use it to see that a model's inference is fused).
std::uint64_t conv_bn_act_folded_calls();

}  // namespace mpq::models
