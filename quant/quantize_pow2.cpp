#include "quant/quantize_pow2.h"

#include <cmath>

#include "core/autograd.h"
#include "core/layout.h"
#include "quant/cpu/quantize.h"
#include "quant/cuda/quantize.h"

namespace mpq::quant {

namespace {

// The CUDA path: parameters read and their gradients written on the device
// (see quantize_uniform.cpp).
Tensor quantize_pow2_cuda(const Tensor& x_in, const Tensor& qmin_t, const Tensor& qmax_t,
                          bool is_signed, bool with_zero) {
  const Tensor x = dense(x_in.detach()), qmin = qmin_t.detach(), qmax = qmax_t.detach();
  Tensor q = empty_dense_like(x);
  cuda::quantize_pow2_forward(x, qmin, qmax, is_signed, with_zero, q);
  if (!any_requires_grad({&x_in, &qmin_t, &qmax_t})) return q;
  const bool need_x = x_in.requires_grad();
  return record("quantize_pow2", q, {&x_in, &qmin_t, &qmax_t}, [=](const Tensor& g) {
    Tensor dx = need_x ? empty_dense_like(x) : Tensor();
    Tensor gmin = empty(qmin.shape(), x.dtype(), x.device()),
           gmax = empty(qmax.shape(), x.dtype(), x.device());
    cuda::quantize_pow2_backward(in_layout_of(g, x), x, qmin, qmax, is_signed, with_zero, dx, gmin,
                                 gmax);
    return std::vector<Tensor>{dx, gmin, gmax};
  });
}

}  // namespace

Tensor quantize_pow2(const Tensor& x_in, const Tensor& qmin_t, const Tensor& qmax_t, bool is_signed,
                     bool with_zero) {
  MPQ_CHECK(is_floating(x_in.dtype()), "quantize_pow2: expected a floating input, got ",
            dtype_name(x_in.dtype()));
  for (const Tensor* t : {&qmin_t, &qmax_t})
    MPQ_CHECK(t->numel() == 1 && t->dtype() == x_in.dtype(),
              "quantize_pow2: q_min and q_max must be ", dtype_name(x_in.dtype()),
              " scalar tensors, got ", shape_str(t->shape()), " ", dtype_name(t->dtype()));
  check_same_device("quantize_pow2", {&x_in, &qmin_t, &qmax_t});
  if (!x_in.device().is_cpu()) return quantize_pow2_cuda(x_in, qmin_t, qmax_t, is_signed, with_zero);
  const double qmin = qmin_t.item(), qmax = qmax_t.item();
  MPQ_CHECK(qmin > 0 && std::isfinite(qmax) && qmin <= qmax,
            "quantize_pow2: need 0 < q_min <= q_max, got q_min = ", qmin, ", q_max = ", qmax);
  // Elementwise over a dense tensor of any layout (channels-last activations
  // included): q, dL/dq and dL/dx share x's layout.
  const Tensor x = dense(x_in.detach());
  Tensor q = empty_dense_like(x);
  cpu::quantize_pow2_forward(x, qmin, qmax, is_signed, with_zero, q);
  if (!any_requires_grad({&x_in, &qmin_t, &qmax_t})) return q;
  const bool need_x = x_in.requires_grad();
  const Shape s0 = qmin_t.shape(), s1 = qmax_t.shape();
  return record("quantize_pow2", q, {&x_in, &qmin_t, &qmax_t}, [=](const Tensor& g) {
    Tensor dx = need_x ? empty_dense_like(x) : Tensor();
    const auto [gmin, gmax] =
        cpu::quantize_pow2_backward(in_layout_of(g, x), x, qmin, qmax, is_signed, with_zero, dx);
    return std::vector<Tensor>{dx, full(s0, gmin, x.dtype()), full(s1, gmax, x.dtype())};
  });
}

}  // namespace mpq::quant
