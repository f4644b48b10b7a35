#include "ops/shape.h"

#include "core/autograd.h"
#include "core/layout.h"

namespace mpq {

Tensor pad(const Tensor& x, const std::vector<std::pair<std::int64_t, std::int64_t>>& pads,
           double value) {
  MPQ_CHECK(static_cast<std::int64_t>(pads.size()) <= x.dim(), "pad: ", pads.size(),
            " padded axes for a tensor of shape ", shape_str(x.shape()));
  const std::size_t first = x.shape().size() - pads.size();
  Shape s = x.shape();
  for (std::size_t i = 0; i < pads.size(); ++i) {
    MPQ_CHECK(pads[i].first >= 0 && pads[i].second >= 0, "pad: negative padding (", pads[i].first,
              ", ", pads[i].second, ") on axis ", first + i);
    s[first + i] += pads[i].first + pads[i].second;
  }
  // The result keeps x's memory order (a channels-last input gives a
  // channels-last result), so that what follows runs on one dense layout.
  Tensor y = empty_strided(s, dense_strides(s, layout_order(x)), x.dtype(), x.device());
  y.fill_(value);
  Tensor inner = y;
  for (std::size_t i = 0; i < pads.size(); ++i)
    inner = inner.narrow(static_cast<std::int64_t>(first + i), pads[i].first, x.shape()[first + i]);
  inner.copy_(x.detach());
  const Shape xs = x.shape();
  return record("pad", y, {&x}, [pads, first, xs](const Tensor& g) {
    Tensor gi = g;
    for (std::size_t i = 0; i < pads.size(); ++i)
      gi = gi.narrow(static_cast<std::int64_t>(first + i), pads[i].first, xs[first + i]);
    return std::vector<Tensor>{gi};
  });
}

Tensor concat(const std::vector<Tensor>& tensors, std::int64_t axis) {
  MPQ_CHECK(!tensors.empty(), "concat: no tensors given");
  const Tensor& t0 = tensors[0];
  const std::int64_t ax = normalize_axis(axis, t0.dim(), "concat");
  Shape s = t0.shape();
  s[ax] = 0;
  std::vector<std::int64_t> sizes;
  for (const Tensor& t : tensors) {
    check_same_device("concat", {&t0, &t});
    bool same = t.dim() == t0.dim() && t.dtype() == t0.dtype();
    for (std::int64_t i = 0; same && i < t.dim(); ++i)
      same = i == ax || t.shape()[i] == t0.shape()[i];
    MPQ_CHECK(same, "concat: ", shape_str(t.shape()), " ", dtype_name(t.dtype()),
              " does not match ", shape_str(t0.shape()), " ", dtype_name(t0.dtype()),
              " outside axis ", ax);
    sizes.push_back(t.shape()[ax]);
    s[ax] += t.shape()[ax];
  }
  Tensor y = empty(s, t0.dtype(), t0.device());
  std::int64_t at = 0;
  for (const Tensor& t : tensors) {
    y.narrow(ax, at, t.shape()[ax]).copy_(t.detach());
    at += t.shape()[ax];
  }
  return record("concat", y, tensors, [sizes, ax](const Tensor& g) {
    std::vector<Tensor> grads;
    std::int64_t pos = 0;
    for (auto n : sizes) {
      grads.push_back(g.narrow(ax, pos, n));
      pos += n;
    }
    return grads;
  });
}

Tensor subsample(const Tensor& x, std::int64_t axis, std::int64_t step) {
  const std::int64_t ax = normalize_axis(axis, x.dim(), "subsample");
  MPQ_CHECK(step >= 1, "subsample: step ", step, " must be positive");
  Shape s = x.shape();
  Strides st = x.strides();
  s[ax] = (x.shape()[ax] + step - 1) / step;
  st[ax] *= step;
  Tensor y = as_strided(x, s, st, x.offset());
  const Shape xs = x.shape();
  const auto order = layout_order(x);
  return record("subsample", y, {&x}, [xs, s, ax, step, order](const Tensor& g) {
    // The gradient is laid out like x (channels-last stays channels-last).
    const Strides dense = dense_strides(xs, order);
    Tensor gi = empty_strided(xs, dense, g.dtype(), g.device());
    gi.fill_(0.0);
    Strides view = dense;
    view[ax] *= step;
    as_strided(gi, s, view, 0).copy_(g);
    return std::vector<Tensor>{gi};
  });
}

}  // namespace mpq
