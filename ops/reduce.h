// Reductions over any set of axes, with keepdim.
//
//   sum:  y = sum_R x            dx = broadcast(g)
//   mean: y = sum_R x / |R|      dx = broadcast(g) / |R|
//   max:  y = max_R x            dx = g at the first maximum of each slice, 0 elsewhere
// An empty axes list reduces over every axis. Sums accumulate in double.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace mpq {

Tensor sum(const Tensor& x, const std::vector<std::int64_t>& axes = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<std::int64_t>& axes = {}, bool keepdim = false);
Tensor max(const Tensor& x, const std::vector<std::int64_t>& axes = {}, bool keepdim = false);
// Index (int32) of the first maximum along one axis.
Tensor argmax(const Tensor& x, std::int64_t axis, bool keepdim = false);

// Sums a broadcast gradient back to `shape` (the inverse of expand).
Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace mpq
