// 2-D pooling over NCHW tensors (PyTorch semantics: padding is -inf for max
// and zeros for average, counted in the divisor: count_include_pad = true).
//
//   max:  y[n,c,p,q] = max over the window;  dx gets dy at the (first) argmax
//   avg:  y[n,c,p,q] = sum over the window / (KH KW);  dx gets dy/(KH KW) at each tap
//   global_avg_pool2d: mean over H and W, output [N, C, 1, 1]
#pragma once

#include <array>

#include "core/tensor.h"

namespace mpq {

struct Pool2dParams {
  std::array<std::int64_t, 2> kernel{2, 2};
  std::array<std::int64_t, 2> stride{2, 2};
  std::array<std::int64_t, 2> padding{0, 0};
};

Tensor max_pool2d(const Tensor& x, const Pool2dParams& params);
Tensor avg_pool2d(const Tensor& x, const Pool2dParams& params);
Tensor global_avg_pool2d(const Tensor& x);

}  // namespace mpq
