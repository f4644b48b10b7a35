#include "ops/matmul.h"

#include "core/autograd.h"
#include "core/backend.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"

namespace mpq {

namespace {
// oneDNN wants each matrix dense along one axis; broadcast gradients (stride
// 0, e.g. from sum()) and other unusual strides are made contiguous first.
Tensor dense(const Tensor& t) {
  const auto& s = t.strides();
  const bool ok = (s[1] == 1 && s[0] >= t.shape()[1]) || (s[0] == 1 && s[1] >= t.shape()[0]);
  return ok ? t : t.contiguous();
}

Tensor matmul_forward(const Tensor& a_in, const Tensor& b_in) {
  const Tensor a = dense(a_in), b = dense(b_in);
  const std::int64_t M = a.shape()[0], K = a.shape()[1], N = b.shape()[1];
  Tensor c = empty({M, N}, a.dtype(), a.device());
  if (M == 0 || N == 0) return c;
  if (K == 0) {
    c.fill_(0.0);
    return c;
  }
  MPQ_KERNEL(c.device(), matmul)(a, b, c);
  return c;
}
}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_same_device("matmul", {&a, &b});
  MPQ_CHECK(a.dim() == 2 && b.dim() == 2, "matmul: expected two matrices, got ",
            shape_str(a.shape()), " and ", shape_str(b.shape()));
  MPQ_CHECK(a.shape()[1] == b.shape()[0], "matmul: inner dimensions differ: ", shape_str(a.shape()),
            " x ", shape_str(b.shape()), " (", a.shape()[1], " vs ", b.shape()[0], ")");
  MPQ_CHECK(a.dtype() == b.dtype() && is_floating(a.dtype()),
            "matmul: expected two float32 or two ", "float64 matrices, got ", dtype_name(a.dtype()),
            " and ", dtype_name(b.dtype()));
  Tensor c = matmul_forward(a, b);
  if (!any_requires_grad({&a, &b})) return c;
  const bool need_a = a.requires_grad(), need_b = b.requires_grad();
  const Tensor ad = a.detach(), bd = b.detach();
  return record("matmul", c, {&a, &b}, [ad, bd, need_a, need_b](const Tensor& g) {
    return std::vector<Tensor>{need_a ? matmul_forward(g, bd.t()) : Tensor(),
                               need_b ? matmul_forward(ad.t(), g) : Tensor()};
  });
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  MPQ_CHECK(x.dim() == 2 && weight.dim() == 2 && x.shape()[1] == weight.shape()[1],
            "linear: expected input [N, I] and weight [O, I], got ", shape_str(x.shape()), " and ",
            shape_str(weight.shape()));
  Tensor y = matmul(x, weight.t());
  if (!bias.defined()) return y;
  MPQ_CHECK(bias.dim() == 1 && bias.shape()[0] == weight.shape()[0], "linear: bias of shape ",
            shape_str(bias.shape()), " for ", weight.shape()[0], " outputs");
  return add(y, bias);
}

}  // namespace mpq
