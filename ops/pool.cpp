#include "ops/pool.h"

#include "core/autograd.h"
#include "core/backend.h"
#include "ops/reduce.h"

namespace mpq {

namespace {
Shape pooled_shape(const Tensor& x, const Pool2dParams& p, const char* op) {
  MPQ_CHECK(x.dim() == 4, op, ": expected input [N, C, H, W], got ", shape_str(x.shape()));
  MPQ_CHECK(is_floating(x.dtype()), op, ": expected a floating input, got ", dtype_name(x.dtype()));
  Shape s = x.shape();
  for (int a = 0; a < 2; ++a) {
    MPQ_CHECK(p.kernel[a] >= 1 && p.stride[a] >= 1 && p.padding[a] >= 0 &&
                  2 * p.padding[a] <= p.kernel[a],
              op, ": invalid window (kernel ", p.kernel[0], "x", p.kernel[1], ", stride ",
              p.stride[0], "x", p.stride[1], ", padding ", p.padding[0], "x", p.padding[1],
              "; padding may be at most half the kernel)");
    const std::int64_t span = x.shape()[2 + a] + 2 * p.padding[a] - p.kernel[a];
    MPQ_CHECK(span >= 0, op, ": window ", p.kernel[0], "x", p.kernel[1], " does not fit input ",
              shape_str(x.shape()));
    s[2 + a] = span / p.stride[a] + 1;
  }
  return s;
}
}  // namespace

Tensor max_pool2d(const Tensor& x_in, const Pool2dParams& p) {
  const Shape s = pooled_shape(x_in, p, "max_pool2d");
  const Tensor x = x_in.detach().contiguous();
  Tensor y = empty(s, x.dtype(), x.device());
  Tensor index = empty(s, DType::i32, x.device());
  MPQ_KERNEL(x.device(), max_pool2d_forward)(x, p, y, index);
  const Shape xs = x.shape();
  return record("max_pool2d", y, {&x_in}, [index, xs, p](const Tensor& g) {
    Tensor dx = empty(xs, g.dtype(), g.device());
    MPQ_KERNEL(g.device(), max_pool2d_backward)(g.contiguous(), index, p, dx);
    return std::vector<Tensor>{dx};
  });
}

Tensor avg_pool2d(const Tensor& x_in, const Pool2dParams& p) {
  const Shape s = pooled_shape(x_in, p, "avg_pool2d");
  const Tensor x = x_in.detach().contiguous();
  Tensor y = empty(s, x.dtype(), x.device());
  MPQ_KERNEL(x.device(), avg_pool2d_forward)(x, p, y);
  const Shape xs = x.shape();
  return record("avg_pool2d", y, {&x_in}, [p, xs](const Tensor& g) {
    Tensor dx = empty(xs, g.dtype(), g.device());
    MPQ_KERNEL(g.device(), avg_pool2d_backward)(g.contiguous(), p, dx);
    return std::vector<Tensor>{dx};
  });
}

Tensor global_avg_pool2d(const Tensor& x) {
  MPQ_CHECK(x.dim() == 4, "global_avg_pool2d: expected input [N, C, H, W], got ",
            shape_str(x.shape()));
  return mean(x, {2, 3}, true);
}

}  // namespace mpq
