#include "quant/quantize_uniform.h"

#include <cmath>

#include "core/autograd.h"
#include "core/layout.h"
#include "quant/cpu/quantize.h"
#include "quant/cuda/quantize.h"

namespace mpq::quant {

namespace {

// The CUDA path: the kernels read d and q_max on the device and write the
// parameter gradients there, so nothing waits for the host (and the host-side
// range check of the CPU path is left out: the quantizer's parametrization
// keeps d and q_max positive).
Tensor quantize_uniform_cuda(const Tensor& x_in, const Tensor& d_t, const Tensor& qmax_t,
                             bool is_signed) {
  const Tensor x = dense(x_in.detach()), d = d_t.detach(), qmax = qmax_t.detach();
  Tensor q = empty_dense_like(x);
  cuda::quantize_uniform_forward(x, d, qmax, is_signed, q);
  if (!any_requires_grad({&x_in, &d_t, &qmax_t})) return q;
  const bool need_x = x_in.requires_grad();
  return record("quantize_uniform", q, {&x_in, &d_t, &qmax_t}, [=](const Tensor& g) {
    Tensor dx = need_x ? empty_dense_like(x) : Tensor();
    Tensor gd = empty(d.shape(), x.dtype(), x.device()), gq = empty(qmax.shape(), x.dtype(), x.device());
    cuda::quantize_uniform_backward(in_layout_of(g, x), x, d, qmax, is_signed, dx, gd, gq);
    return std::vector<Tensor>{dx, gd, gq};
  });
}

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
  if (!x_in.device().is_cpu()) return quantize_uniform_cuda(x_in, d_t, qmax_t, is_signed);
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
