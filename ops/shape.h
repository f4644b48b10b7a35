// Shape ops built from views and copies: constant padding and concatenation.
//
//   pad:    y = x placed at offset `before` inside a tensor of `value`;  dx = narrow(dy)
//   concat: y = [x_0 | x_1 | ...] along an axis;  dx_i = narrow(dy) of x_i's slice
// flatten and reshape are Tensor members (core/tensor.h).
#pragma once

#include <utility>
#include <vector>

#include "core/tensor.h"

namespace mpq {

// pads[i] = (before, after) for the last pads.size() axes, e.g. {{1,1},{2,2}}
// pads H by 1 and W by 2 on each side of an NCHW tensor.
Tensor pad(const Tensor& x, const std::vector<std::pair<std::int64_t, std::int64_t>>& pads,
           double value = 0.0);
Tensor concat(const std::vector<Tensor>& tensors, std::int64_t axis);
// Every step-th element along axis, starting at 0 (x[..., ::step, ...]): a
// view; its backward scatters the gradient into zeros.
Tensor subsample(const Tensor& x, std::int64_t axis, std::int64_t step);

}  // namespace mpq
