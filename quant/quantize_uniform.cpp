#include "quant/quantize_uniform.h"

#include <cmath>

#include "core/autograd.h"
#include "core/layout.h"
#include "quant/cpu/quantize.h"

namespace mpq::quant {

namespace {
void check_scalar(const char* op, const char* name, const Tensor& t, const Tensor& x) {
  MPQ_CHECK(t.numel() == 1, op, ": ", name, " must be a scalar tensor, got shape ",
            shape_str(t.shape()));
  MPQ_CHECK(t.dtype() == x.dtype(), op, ": ", name, " is ", dtype_name(t.dtype()),
            " but the input is ", dtype_name(x.dtype()));
}
}  // namespace

Tensor quantize_uniform(const Tensor& x_in, const Tensor& d_t, const Tensor& qmax_t,
                        bool is_signed) {
  MPQ_CHECK(is_floating(x_in.dtype()), "quantize_uniform: expected a floating input, got ",
            dtype_name(x_in.dtype()));
  check_scalar("quantize_uniform", "d", d_t, x_in);
  check_scalar("quantize_uniform", "q_max", qmax_t, x_in);
  check_same_device("quantize_uniform", {&x_in, &d_t, &qmax_t});
  const double d = d_t.item(), qmax = qmax_t.item();
  MPQ_CHECK(d > 0 && std::isfinite(d) && qmax > 0 && std::isfinite(qmax),
            "quantize_uniform: step size d = ", d, " and range q_max = ", qmax,
            " must be positive and finite");
  // Elementwise over a dense tensor of any layout (channels-last activations
  // included): q, dL/dq and dL/dx share x's layout.
  const Tensor x = dense(x_in.detach());
  Tensor q = empty_dense_like(x);
  cpu::quantize_uniform_forward(x, d, qmax, is_signed, q);
  if (!any_requires_grad({&x_in, &d_t, &qmax_t})) return q;
  const bool need_x = x_in.requires_grad();
  const Shape ds = d_t.shape(), qs = qmax_t.shape();
  return record("quantize_uniform", q, {&x_in, &d_t, &qmax_t}, [=](const Tensor& g) {
    Tensor dx = need_x ? empty_dense_like(x) : Tensor();
    const auto [gd, gq] =
        cpu::quantize_uniform_backward(in_layout_of(g, x), x, d, qmax, is_signed, dx);
    return std::vector<Tensor>{dx, full(ds, gd, x.dtype()), full(qs, gq, x.dtype())};
  });
}

}  // namespace mpq::quant
