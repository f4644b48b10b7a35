#include "core/layout.h"

#include <algorithm>
#include <numeric>

#include "core/autograd.h"

namespace mpq {

std::vector<std::int64_t> layout_order(const Tensor& t) {
  // Dims of size > 1, from the largest stride to the smallest (ties in axis
  // order); size-1 dims carry no layout information and go last, in axis
  // order (their place does not change any offset). Sorting them together
  // would need a comparator that is not a strict weak order.
  std::vector<std::int64_t> order, ones;
  for (std::int64_t i = 0; i < t.dim(); ++i) (t.shape()[i] == 1 ? ones : order).push_back(i);
  const Strides& st = t.strides();
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int64_t a, std::int64_t b) { return st[a] > st[b]; });
  order.insert(order.end(), ones.begin(), ones.end());
  return order;
}

Strides dense_strides(const Shape& shape, const std::vector<std::int64_t>& order) {
  Strides st(shape.size(), 1);
  std::int64_t step = 1;
  for (std::size_t i = order.size(); i-- > 0;) {
    st[order[i]] = step;
    step *= std::max<std::int64_t>(shape[order[i]], 1);
  }
  return st;
}

namespace {
// t's strides equal `want` on every dim of size > 1 (the others address nothing).
bool strides_match(const Tensor& t, const Strides& want) {
  for (std::int64_t i = 0; i < t.dim(); ++i)
    if (t.shape()[i] > 1 && t.strides()[i] != want[i]) return false;
  return true;
}
}  // namespace

bool is_dense(const Tensor& t) {
  return t.is_contiguous() || strides_match(t, dense_strides(t.shape(), layout_order(t)));
}

bool same_layout(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && strides_match(a, b.strides());
}

Strides channels_last_strides(const Shape& shape) {
  MPQ_CHECK(shape.size() == 4, "channels-last layout needs a 4-D shape, got ", shape_str(shape));
  return dense_strides(shape, {0, 2, 3, 1});
}

bool is_channels_last(const Tensor& t) {
  return t.dim() == 4 && strides_match(t, channels_last_strides(t.shape()));
}

Tensor empty_strided(const Shape& shape, const Strides& strides, DType dtype, Device device) {
  Tensor flat = empty({numel_of(shape)}, dtype, device);
  return as_strided(flat, shape, strides, 0);
}

Tensor empty_channels_last(const Shape& shape, DType dtype, Device device) {
  return empty_strided(shape, channels_last_strides(shape), dtype, device);
}

Tensor empty_dense_like(const Tensor& t, DType dtype) {
  if (t.is_contiguous() || !is_dense(t)) return empty(t.shape(), dtype, t.device());
  return empty_strided(t.shape(), dense_strides(t.shape(), layout_order(t)), dtype, t.device());
}

Tensor empty_dense_like(const Tensor& t) {
  return empty_dense_like(t, t.dtype());
}

Tensor empty_result_like(const Shape& s, DType dtype,
                         std::initializer_list<const Tensor*> operands) {
  for (const Tensor* t : operands)
    if (t->shape() == s && is_dense(*t)) return empty_dense_like(*t, dtype);
  return empty(s, dtype, operands.begin()[0]->device());
}

Tensor dense(const Tensor& t) {
  if (is_dense(t)) return t;
  Tensor out = empty(t.shape(), t.dtype(), t.device());
  out.copy_(t);
  return out;
}

Tensor in_layout_of(const Tensor& t, const Tensor& like) {
  MPQ_CHECK(t.shape() == like.shape(), "in_layout_of: shapes ", shape_str(t.shape()), " and ",
            shape_str(like.shape()), " differ");
  if (same_layout(t, like)) return t;
  Tensor out = empty_dense_like(like, t.dtype());
  out.copy_(t);
  return out;
}

Tensor to_channels_last(const Tensor& t) {
  MPQ_CHECK(t.dim() == 4, "to_channels_last: expected a 4-D tensor, got ", shape_str(t.shape()));
  if (is_channels_last(t)) return t;
  Tensor out = empty_channels_last(t.shape(), t.dtype(), t.device());
  out.copy_(t.detach());
  return record("to_channels_last", out, {&t},
                [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

}  // namespace mpq
