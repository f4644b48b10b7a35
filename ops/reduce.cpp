#include "ops/reduce.h"

#include <algorithm>

#include "core/autograd.h"
#include "core/backend.h"
#include "ops/elementwise.h"

namespace mpq {

namespace {

// The geometry of a reduction: the input permuted so that kept axes come
// first and reduced axes last, as an [outer, inner] matrix.
struct Plan {
  std::vector<std::int64_t> perm;
  std::vector<bool> reduced;
  std::int64_t outer = 1, inner = 1;
  Shape out_shape;      // without keepdim
  Shape keepdim_shape;  // reduced axes as 1
};

Plan make_plan(const Tensor& x, const std::vector<std::int64_t>& axes, const char* op) {
  Plan p;
  const std::int64_t nd = x.dim();
  p.reduced.assign(nd, axes.empty());
  for (auto a : axes) {
    const std::int64_t ax = normalize_axis(a, nd, op);
    MPQ_CHECK(!p.reduced[ax], op, ": axis ", ax, " listed twice");
    p.reduced[ax] = true;
  }
  for (std::int64_t i = 0; i < nd; ++i) {
    if (!p.reduced[i]) {
      p.perm.push_back(i);
      p.outer *= x.shape()[i];
      p.out_shape.push_back(x.shape()[i]);
      p.keepdim_shape.push_back(x.shape()[i]);
    } else {
      p.keepdim_shape.push_back(1);
    }
  }
  for (std::int64_t i = 0; i < nd; ++i)
    if (p.reduced[i]) {
      p.perm.push_back(i);
      p.inner *= x.shape()[i];
    }
  return p;
}

// x permuted to [kept..., reduced...] and made contiguous (no autograd).
void max_rows(const Tensor& x, std::int64_t outer, std::int64_t inner, const Tensor& out,
              const Tensor& index) {
  MPQ_KERNEL(x.device(), max_rows)(x, outer, inner, out, index);
}

Tensor arrange(const Tensor& x, const Plan& p) {
  NoGradGuard ng;
  return x.detach().permute(p.perm).contiguous();
}

Tensor sum_impl(const Tensor& x, const std::vector<std::int64_t>& axes, bool keepdim, bool average,
                const char* op) {
  MPQ_CHECK(is_floating(x.dtype()), op, ": expected a floating tensor, got ",
            dtype_name(x.dtype()));
  const Plan p = make_plan(x, axes, op);
  MPQ_CHECK(!average || p.inner > 0, op, ": mean over an empty set of elements");
  const double scale = average ? 1.0 / static_cast<double>(p.inner) : 1.0;
  Tensor out = empty(keepdim ? p.keepdim_shape : p.out_shape, x.dtype(), x.device());
  MPQ_KERNEL(x.device(), sum_rows)(arrange(x, p), p.outer, p.inner, scale, out);
  const Shape in_shape = x.shape(), kd = p.keepdim_shape;
  return record(op, out, {&x}, [in_shape, kd, scale](const Tensor& g) {
    Tensor gi = g.reshape(kd).expand(in_shape);
    return std::vector<Tensor>{scale == 1.0 ? gi : mul(gi, scale)};
  });
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<std::int64_t>& axes, bool keepdim) {
  return sum_impl(x, axes, keepdim, false, "sum");
}

Tensor mean(const Tensor& x, const std::vector<std::int64_t>& axes, bool keepdim) {
  return sum_impl(x, axes, keepdim, true, "mean");
}

Tensor max(const Tensor& x, const std::vector<std::int64_t>& axes, bool keepdim) {
  MPQ_CHECK(is_floating(x.dtype()), "max: expected a floating tensor, got ", dtype_name(x.dtype()));
  const Plan p = make_plan(x, axes, "max");
  MPQ_CHECK(p.inner > 0, "max: reduction over an empty set of elements (shape ",
            shape_str(x.shape()), ")");
  Tensor out = empty(keepdim ? p.keepdim_shape : p.out_shape, x.dtype(), x.device());
  const bool need_grad = any_requires_grad({&x});
  Tensor index = need_grad ? empty({p.outer}, DType::i32, x.device()) : Tensor();
  max_rows(arrange(x, p), p.outer, p.inner, out, index);
  if (!need_grad) return out;
  const Shape in_shape = x.shape();
  return record("max", out, {&x}, [p, index, in_shape](const Tensor& g) {
    // Scatter g into the argmax positions of the permuted [outer, inner] layout,
    // then undo the permutation.
    Tensor gp = zeros({p.outer, p.inner}, g.dtype(), g.device());
    const Tensor gc = g.contiguous();
    MPQ_KERNEL(g.device(), scatter_rows)(gc, index, p.outer, p.inner, gp);
    Shape permuted_shape;
    for (auto a : p.perm) permuted_shape.push_back(in_shape[a]);
    std::vector<std::int64_t> inverse(p.perm.size());
    for (std::size_t i = 0; i < p.perm.size(); ++i)
      inverse[p.perm[i]] = static_cast<std::int64_t>(i);
    return std::vector<Tensor>{gp.reshape(permuted_shape).permute(inverse)};
  });
}

Tensor argmax(const Tensor& x, std::int64_t axis, bool keepdim) {
  MPQ_CHECK(is_floating(x.dtype()), "argmax: expected a floating tensor, got ",
            dtype_name(x.dtype()));
  const Plan p = make_plan(x, {axis}, "argmax");
  MPQ_CHECK(p.inner > 0, "argmax: empty axis in shape ", shape_str(x.shape()));
  Tensor values = empty({p.outer}, x.dtype(), x.device());
  Tensor index = empty({p.outer}, DType::i32, x.device());
  max_rows(arrange(x, p), p.outer, p.inner, values, index);
  return index.reshape(keepdim ? p.keepdim_shape : p.out_shape);
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const std::vector<std::int64_t> axes = reduced_axes(x.shape(), shape, "sum_to");
  if (axes.empty()) return x.reshape(shape);
  return sum(x, axes, true).reshape(shape);
}

}  // namespace mpq
