// Dense memory layouts.
//
// A tensor is *dense* when its elements fill one gap-free block of memory in
// some order of its dimensions: row-major (NCHW, the default), channels-last
// (NHWC strides on an [N, C, H, W] tensor), or any other permutation. Dense
// tensors of one layout can be processed as flat arrays, so elementwise ops,
// quantizers and batch norm keep the layout of their input instead of copying
// to row-major. conv2d produces channels-last activations (oneDNN's nhwc, as
// fast as its blocked formats for ResNet-sized channel counts and readable by
// every mpq op without a reorder), and the layout then flows through the
// network; row-major users see no difference except in strides.
#pragma once

#include <initializer_list>

#include "core/tensor.h"

namespace mpq {

// Dimensions ordered from the largest stride to the smallest (ties keep their
// axis order; size-1 dims come last), i.e. the order in which memory is laid out.
std::vector<std::int64_t> layout_order(const Tensor& t);
// Dense strides for `shape` laid out in `order` (outermost first).
Strides dense_strides(const Shape& shape, const std::vector<std::int64_t>& order);
// True when t covers one gap-free block of memory (any dimension order).
bool is_dense(const Tensor& t);
// True when a and b have one shape and the same strides on every dim of size > 1.
bool same_layout(const Tensor& a, const Tensor& b);

// Channels-last: [N, C, H, W] with strides [H W C, 1, W C, C].
Strides channels_last_strides(const Shape& shape);
bool is_channels_last(const Tensor& t);

// An uninitialised tensor with the given (dense) strides.
Tensor empty_strided(const Shape& shape, const Strides& strides, DType dtype = DType::f32,
                     Device device = Device::cpu());
// An uninitialised channels-last tensor of a 4-D shape.
Tensor empty_channels_last(const Shape& shape, DType dtype = DType::f32,
                           Device device = Device::cpu());
// An uninitialised tensor like t: t's layout when t is dense, row-major otherwise.
Tensor empty_dense_like(const Tensor& t);
Tensor empty_dense_like(const Tensor& t, DType dtype);
// An uninitialised result of shape s for an elementwise computation on
// `operands` (on the first one's device): in the layout of the first operand
// of that shape that is dense, so channels-last activations stay
// channels-last; row-major otherwise.
Tensor empty_result_like(const Shape& s, DType dtype,
                         std::initializer_list<const Tensor*> operands);
// t when dense, otherwise a row-major copy (not recorded: use on detached tensors).
Tensor dense(const Tensor& t);
// t when it already has like's layout, otherwise a copy of t in like's layout
// (like must be dense and of t's shape; not recorded).
Tensor in_layout_of(const Tensor& t, const Tensor& like);
// A channels-last copy of a 4-D tensor (t itself when already channels-last).
// Differentiable: the gradient is returned in the layout it arrives in.
Tensor to_channels_last(const Tensor& t);

}  // namespace mpq
