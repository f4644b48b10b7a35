// Differentiable views and copies: the Tensor member functions declared in
// core/tensor.h. A view shares storage; its backward maps the gradient back
// to the input's geometry (reshape back, inverse permutation, zero-padded
// narrow, summed expand).
#include <algorithm>
#include <numeric>

#include "core/autograd.h"
#include "core/backend.h"
#include "core/copy.h"

namespace mpq {

namespace {

// g summed over the axes that expand() broadcast, down to `shape`: the kept
// axes first and the summed ones last as [outer, inner] rows for the backend's
// row sum (as ops::sum_to does; core calls the kernel directly). Runs in the
// backward pass, which records nothing.
Tensor sum_to_shape(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  const std::vector<std::int64_t> summed = reduced_axes(g.shape(), shape, "expand backward");
  std::vector<std::int64_t> kept;
  std::int64_t outer = 1, inner = 1;
  for (std::int64_t i = 0; i < g.dim(); ++i) {
    const bool sum = std::find(summed.begin(), summed.end(), i) != summed.end();
    if (!sum) kept.push_back(i);
    (sum ? inner : outer) *= g.shape()[static_cast<std::size_t>(i)];
  }
  if (summed.empty()) return g.reshape(shape);
  std::vector<std::int64_t> perm = kept;
  perm.insert(perm.end(), summed.begin(), summed.end());
  const Tensor rows = g.detach().permute(perm).contiguous();
  Tensor out = empty(shape, g.dtype(), g.device());
  MPQ_KERNEL(g.device(), sum_rows)(rows, outer, inner, 1.0, out);
  return out;
}

}  // namespace

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  Tensor out = empty(shape(), dtype(), device());
  copy_elements(out, *this);
  return record("contiguous", out, {this}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), device());
  copy_elements(out, *this);
  return record("clone", out, {this}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor out = empty(shape(), target, device());
  copy_elements(out, *this);
  if (!is_floating(target) || !is_floating(dtype())) return out;
  const DType source = dtype();
  return record("to", out, {this},
                [source](const Tensor& g) { return std::vector<Tensor>{g.to(source)}; });
}

Tensor Tensor::reshape(const Shape& requested) const {
  Shape target = requested;
  std::int64_t known = 1;
  int infer = -1;
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] == -1) {
      MPQ_CHECK(infer < 0, "reshape: more than one -1 in ", shape_str(requested));
      infer = static_cast<int>(i);
    } else {
      MPQ_CHECK(target[i] >= 0, "reshape: negative dimension in ", shape_str(requested));
      known *= target[i];
    }
  }
  if (infer >= 0) {
    MPQ_CHECK(known > 0 && numel() % known == 0, "reshape: cannot reshape ", shape_str(shape()),
              " (", numel(), " elements) into ", shape_str(requested));
    target[infer] = numel() / known;
  }
  MPQ_CHECK(numel_of(target) == numel(), "reshape: cannot reshape ", shape_str(shape()), " (",
            numel(), " elements) into ", shape_str(requested), " (", numel_of(target),
            " elements)");
  if (target == shape()) return *this;  // keeps the layout of a channels-last tensor
  const Tensor src = contiguous();
  Tensor out = as_strided(src, target, contiguous_strides(target), src.offset());
  const Shape in_shape = shape();
  return record("reshape", out, {&src},
                [in_shape](const Tensor& g) { return std::vector<Tensor>{g.reshape(in_shape)}; });
}

Tensor Tensor::permute(const std::vector<std::int64_t>& dims) const {
  MPQ_CHECK(static_cast<std::int64_t>(dims.size()) == dim(), "permute: ", dims.size(),
            " axes given for a tensor of shape ", shape_str(shape()));
  Shape s(dims.size());
  Strides st(dims.size());
  std::vector<std::int64_t> inverse(dims.size(), -1);
  for (std::size_t i = 0; i < dims.size(); ++i) {
    const std::int64_t d = normalize_axis(dims[i], dim(), "permute");
    MPQ_CHECK(inverse[d] < 0, "permute: axis ", d, " repeated in the permutation");
    inverse[d] = static_cast<std::int64_t>(i);
    s[i] = shape()[d];
    st[i] = strides()[d];
  }
  Tensor out = as_strided(*this, s, st, offset());
  return record("permute", out, {this},
                [inverse](const Tensor& g) { return std::vector<Tensor>{g.permute(inverse)}; });
}

Tensor Tensor::transpose(std::int64_t a, std::int64_t b) const {
  std::vector<std::int64_t> dims(dim());
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[normalize_axis(a, dim(), "transpose")],
            dims[normalize_axis(b, dim(), "transpose")]);
  return permute(dims);
}

Tensor Tensor::narrow(std::int64_t axis, std::int64_t start, std::int64_t length) const {
  const std::int64_t ax = normalize_axis(axis, dim(), "narrow");
  MPQ_CHECK(start >= 0 && length >= 0 && start + length <= shape()[ax], "narrow: range [", start,
            ", ", start + length, ") is outside axis ", ax, " of size ", shape()[ax], " (shape ",
            shape_str(shape()), ")");
  Shape s = shape();
  s[ax] = length;
  Tensor out = as_strided(*this, s, strides(), offset() + start * strides()[ax]);
  const Shape in_shape = shape();
  const DType dt = dtype();
  return record("narrow", out, {this}, [in_shape, dt, ax, start, length](const Tensor& g) {
    Tensor gi = zeros(in_shape, dt, g.device());
    gi.narrow(ax, start, length).copy_(g);
    return std::vector<Tensor>{gi};
  });
}

Tensor Tensor::expand(const Shape& target) const {
  MPQ_CHECK(target.size() >= shape().size(), "expand: cannot expand ", shape_str(shape()), " to ",
            shape_str(target), " (fewer dimensions)");
  const std::size_t lead = target.size() - shape().size();
  Strides st(target.size(), 0);
  for (std::size_t i = 0; i < target.size(); ++i) {
    MPQ_CHECK(target[i] >= 0, "expand: negative size in ", shape_str(target));
    if (i < lead) continue;
    const std::int64_t d = shape()[i - lead];
    MPQ_CHECK(d == target[i] || d == 1, "expand: cannot expand ", shape_str(shape()), " to ",
              shape_str(target), " (dimension ", i, ": ", d, " vs ", target[i], ")");
    st[i] = d == 1 && target[i] != 1 ? 0 : strides()[i - lead];
  }
  if (target == shape()) return *this;
  Tensor out = as_strided(*this, target, st, offset());
  const Shape in_shape = shape();
  return record("expand", out, {this}, [in_shape](const Tensor& g) {
    return std::vector<Tensor>{sum_to_shape(g, in_shape)};
  });
}

Tensor Tensor::unsqueeze(std::int64_t axis) const {
  const std::int64_t ax = normalize_axis(axis, dim() + 1, "unsqueeze");
  Shape s = shape();
  s.insert(s.begin() + ax, 1);
  return reshape(s);
}

Tensor Tensor::squeeze(std::int64_t axis) const {
  const std::int64_t ax = normalize_axis(axis, dim(), "squeeze");
  MPQ_CHECK(shape()[ax] == 1, "squeeze: axis ", ax, " of shape ", shape_str(shape()), " has size ",
            shape()[ax], ", not 1");
  Shape s = shape();
  s.erase(s.begin() + ax);
  return reshape(s);
}

Tensor Tensor::flatten(std::int64_t start_axis, std::int64_t end_axis) const {
  if (dim() == 0) return reshape({1});
  const std::int64_t a = normalize_axis(start_axis, dim(), "flatten");
  const std::int64_t b = normalize_axis(end_axis, dim(), "flatten");
  MPQ_CHECK(a <= b, "flatten: start axis ", a, " after end axis ", b);
  Shape s(shape().begin(), shape().begin() + a);
  std::int64_t m = 1;
  for (std::int64_t i = a; i <= b; ++i) m *= shape()[i];
  s.push_back(m);
  s.insert(s.end(), shape().begin() + b + 1, shape().end());
  return reshape(s);
}

}  // namespace mpq
