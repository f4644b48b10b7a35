#include "quant/quantize_uniform.h"

#include "core/autograd.h"
#include "core/backend.h"
#include "core/layout.h"

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
  // Elementwise over a dense tensor of any layout (channels-last activations
  // included): q, dL/dq and dL/dx share x's layout. d and q_max stay tensors
  // on x's device, so a GPU never waits for the host; a backend that reads
  // them on the host checks that they are positive and finite
  // (quant/cpu/quantize_uniform.cpp); the parametrizations keep them so.
  const Tensor x = dense(x_in.detach()), d = d_t.detach(), qmax = qmax_t.detach();
  Tensor q = empty_dense_like(x);
  MPQ_KERNEL(x.device(), quantize_uniform_forward)(x, d, qmax, is_signed, q);
  if (!any_requires_grad({&x_in, &d_t, &qmax_t})) return q;
  const bool need_x = x_in.requires_grad();
  return record("quantize_uniform", q, {&x_in, &d_t, &qmax_t}, [=](const Tensor& g) {
    Tensor dx = need_x ? empty_dense_like(x) : Tensor();
    Tensor gd = empty(d.shape(), x.dtype(), x.device()),
           gq = empty(qmax.shape(), x.dtype(), x.device());
    MPQ_KERNEL(x.device(), quantize_uniform_backward)
    (in_layout_of(g, x), x, d, qmax, is_signed, dx, gd, gq);
    return std::vector<Tensor>{dx, gd, gq};
  });
}

}  // namespace mpq::quant
