#include "ops/conv2d.h"

#include <sstream>

#include "core/autograd.h"
#include "core/backend.h"
#include "core/layout.h"
#include "ops/elementwise.h"

namespace mpq {

std::string Conv2dParams::str() const {
  std::ostringstream os;
  os << "stride=" << stride[0] << "x" << stride[1] << " padding=" << padding[0] << "x" << padding[1]
     << " dilation=" << dilation[0] << "x" << dilation[1] << " groups=" << groups;
  return os.str();
}

namespace {

Shape output_shape(const Shape& x, const Shape& w, const Conv2dParams& p) {
  return {x[0], w[0], p.out_size(x[2], w[2], 0), p.out_size(x[3], w[3], 1)};
}

void check_conv(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p) {
  check_same_device("conv2d", {&x, &w, &b});
  MPQ_CHECK(x.dim() == 4, "conv2d: expected input [N, C, H, W], got ", shape_str(x.shape()));
  MPQ_CHECK(w.dim() == 4, "conv2d: expected weight [O, C/groups, KH, KW], got ",
            shape_str(w.shape()));
  MPQ_CHECK(
      x.dtype() == w.dtype() && is_floating(x.dtype()) && (!b.defined() || b.dtype() == x.dtype()),
      "conv2d: input, weight and bias must share one floating dtype");
  MPQ_CHECK(p.groups >= 1 && x.shape()[1] % p.groups == 0 && w.shape()[0] % p.groups == 0,
            "conv2d: groups=", p.groups, " must divide input channels ", x.shape()[1],
            " and output channels ", w.shape()[0]);
  MPQ_CHECK(w.shape()[1] * p.groups == x.shape()[1], "conv2d: input ", shape_str(x.shape()),
            " has ", x.shape()[1], " channels but weight ", shape_str(w.shape()), " expects ",
            w.shape()[1] * p.groups, " (", w.shape()[1], " x groups=", p.groups, ")");
  for (int a = 0; a < 2; ++a)
    MPQ_CHECK(p.stride[a] >= 1 && p.dilation[a] >= 1 && p.padding[a] >= 0,
              "conv2d: invalid geometry ", p.str());
  MPQ_CHECK(!b.defined() || (b.dim() == 1 && b.shape()[0] == w.shape()[0]),
            "conv2d: bias of shape ", shape_str(b.shape()), " for ", w.shape()[0],
            " output channels");
  MPQ_CHECK(w.shape()[2] >= 1 && w.shape()[3] >= 1, "conv2d: empty kernel ", shape_str(w.shape()));
  bool fits = true;  // the dilated kernel must fit inside the padded input
  for (int a = 0; a < 2; ++a)
    fits = fits &&
           x.shape()[2 + a] + 2 * p.padding[a] - p.dilation[a] * (w.shape()[2 + a] - 1) - 1 >= 0;
  MPQ_CHECK(fits, "conv2d: kernel ", w.shape()[2], "x", w.shape()[3], " with ", p.str(),
            " does not fit input ", shape_str(x.shape()));
}

}  // namespace

Tensor conv2d(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, const Conv2dParams& p) {
  check_conv(x_in, w_in, b_in, p);
  const Backend& k = backend(x_in.device());
  // Activations in the layout the backend's kernels read and write: the CPU
  // runs float32 on oneDNN in channels-last (nhwc), so a network pays no
  // reorder between layers and other inputs are converted once; float64 (the
  // reference loops) and the CUDA backend (cuDNN) take contiguous NCHW.
  const bool nhwc = k.channels_last && x_in.dtype() == DType::f32;
  auto in_layout = [nhwc](const Tensor& t) { return nhwc ? to_channels_last(t) : t.contiguous(); };
  auto empty_act = [nhwc](const Shape& s, const Tensor& like) {
    return nhwc ? empty_channels_last(s, like.dtype(), like.device())
                : empty(s, like.dtype(), like.device());
  };
  const Tensor x = in_layout(x_in.detach());
  const Tensor w = w_in.detach().contiguous();
  const Tensor b = b_in.defined() ? b_in.detach().contiguous() : Tensor();
  Tensor y = empty_act(output_shape(x.shape(), w.shape(), p), x);
  MPQ_KERNEL(x.device(), conv2d_forward)(x, w, b, p, y);
  if (!any_requires_grad({&x_in, &w_in, &b_in})) return y;
  const bool need_x = x_in.requires_grad();
  const bool need_w = w_in.requires_grad() || (b_in.defined() && b_in.requires_grad());
  const bool has_b = b.defined();
  // Saved: x only when dw is needed, w only when dx is needed.
  const Tensor xs = need_w ? x : Tensor(), ws = need_x ? w : Tensor();
  const Shape x_shape = x.shape(), w_shape = w.shape();
  return record("conv2d", y, {&x_in, &w_in, &b_in}, [=](const Tensor& gy) {
    const Tensor g = in_layout(gy);
    Tensor dx, dw, db;
    if (need_x) {
      dx = empty_act(x_shape, g);
      MPQ_KERNEL(g.device(), conv2d_backward_data)(g, ws, p, dx);
    }
    if (need_w) {
      dw = empty(w_shape, g.dtype(), g.device());
      if (has_b) db = empty({w_shape[0]}, g.dtype(), g.device());
      MPQ_KERNEL(g.device(), conv2d_backward_weights)(xs, g, p, dw, db);
    }
    return std::vector<Tensor>{dx, dw, db};
  });
}

Tensor conv2d_affine(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& scale,
                     const Tensor& shift, const Conv2dParams& p, bool relu,
                     const Tensor& residual) {
  check_conv(x, w, b, p);
  MPQ_CHECK(!any_requires_grad({&x, &w, &b, &scale, &shift}),
            "conv2d_affine is inference only: call it under NoGradGuard (use conv2d for training)");
  const std::int64_t O = w.shape()[0];
  for (const Tensor* t : {&scale, &shift})
    MPQ_CHECK(t->dim() == 1 && t->shape()[0] == O && t->dtype() == x.dtype(),
              "conv2d_affine: scale and shift must be [", O, "] ", dtype_name(x.dtype()), ", got ",
              shape_str(t->shape()), " ", dtype_name(t->dtype()));
  const Shape y_shape = output_shape(x.shape(), w.shape(), p);
  MPQ_CHECK(!residual.defined() || (residual.shape() == y_shape && residual.dtype() == x.dtype()),
            "conv2d_affine: residual ", shape_str(residual.shape()), " for an output of shape ",
            shape_str(y_shape));
  // The fused kernel where the backend has one (float32 only); the ops composed otherwise.
  const auto fused = backend(x.device()).conv2d_forward_inference;
  if (x.dtype() != DType::f32 || fused == nullptr) {
    const Tensor y = conv2d(x, w, b, p);
    Tensor z = add(mul(y, scale.reshape({1, O, 1, 1})), shift.reshape({1, O, 1, 1}));
    if (residual.defined()) z = add(z, residual);
    return relu ? mpq::relu(z) : z;
  }
  // Folded: w' = scale[o] w[o], b' = scale b + shift.
  const Tensor wf = mul(w, scale.reshape({O, 1, 1, 1})).contiguous();
  const Tensor bf = b.defined() ? add(mul(b, scale), shift).contiguous() : shift.contiguous();
  const Tensor xc = to_channels_last(x);
  Tensor y = empty_channels_last(y_shape, x.dtype(), x.device());
  // The sum post-op adds what the output holds: start it as the residual.
  if (residual.defined()) y.copy_(residual);
  fused(xc, wf, bf, p, relu, residual.defined(), y);
  return y;
}

}  // namespace mpq
