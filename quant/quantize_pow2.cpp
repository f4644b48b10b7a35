#include "quant/quantize_pow2.h"

#include "core/autograd.h"
#include "core/backend.h"
#include "core/layout.h"

namespace mpq::quant {

Tensor quantize_pow2(const Tensor& x_in, const Tensor& qmin_t, const Tensor& qmax_t, bool is_signed,
                     bool with_zero) {
  MPQ_CHECK(is_floating(x_in.dtype()), "quantize_pow2: expected a floating input, got ",
            dtype_name(x_in.dtype()));
  for (const Tensor* t : {&qmin_t, &qmax_t})
    MPQ_CHECK(t->numel() == 1 && t->dtype() == x_in.dtype(),
              "quantize_pow2: q_min and q_max must be ", dtype_name(x_in.dtype()),
              " scalar tensors, got ", shape_str(t->shape()), " ", dtype_name(t->dtype()));
  check_same_device("quantize_pow2", {&x_in, &qmin_t, &qmax_t});
  // Elementwise over a dense tensor of any layout (channels-last activations
  // included): q, dL/dq and dL/dx share x's layout. q_min and q_max stay
  // tensors on x's device, so a GPU never waits for the host; a backend that
  // reads them on the host checks 0 < q_min <= q_max (quant/cpu/quantize_pow2.cpp).
  const Tensor x = dense(x_in.detach()), qmin = qmin_t.detach(), qmax = qmax_t.detach();
  Tensor q = empty_dense_like(x);
  MPQ_KERNEL(x.device(), quantize_pow2_forward)(x, qmin, qmax, is_signed, with_zero, q);
  if (!any_requires_grad({&x_in, &qmin_t, &qmax_t})) return q;
  const bool need_x = x_in.requires_grad();
  return record("quantize_pow2", q, {&x_in, &qmin_t, &qmax_t}, [=](const Tensor& g) {
    Tensor dx = need_x ? empty_dense_like(x) : Tensor();
    Tensor gmin = empty(qmin.shape(), x.dtype(), x.device()),
           gmax = empty(qmax.shape(), x.dtype(), x.device());
    MPQ_KERNEL(x.device(), quantize_pow2_backward)
    (in_layout_of(g, x), x, qmin, qmax, is_signed, with_zero, dx, gmin, gmax);
    return std::vector<Tensor>{dx, gmin, gmax};
  });
}

}  // namespace mpq::quant
