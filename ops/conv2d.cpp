#include "ops/conv2d.h"

#include <sstream>

#include "core/autograd.h"
#include "core/layout.h"
#include "ops/cpu/conv2d.h"
#include "ops/cuda/conv2d.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "ops/reference/conv2d.h"

namespace mpq {

std::string Conv2dParams::str() const {
  std::ostringstream os;
  os << "stride=" << stride[0] << "x" << stride[1] << " padding=" << padding[0] << "x" << padding[1]
     << " dilation=" << dilation[0] << "x" << dilation[1] << " groups=" << groups;
  return os.str();
}

namespace {

reference::Conv2dDims dims_of(const Shape& x, const Shape& w, const Conv2dParams& p) {
  return {x[0],
          x[1],
          x[2],
          x[3],
          w[0],
          w[2],
          w[3],
          p.out_size(x[2], w[2], 0),
          p.out_size(x[3], w[3], 1)};
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

namespace {

// The CUDA path: cuDNN on contiguous NCHW activations (ops/cuda/conv2d.h); the
// bias gradient is the deterministic sum of dy over N, H and W.
Tensor conv2d_cuda(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in,
                   const Conv2dParams& p) {
  const Tensor x = x_in.detach().contiguous(), w = w_in.detach().contiguous();
  const Tensor b = b_in.defined() ? b_in.detach().contiguous() : Tensor();
  const auto d = dims_of(x.shape(), w.shape(), p);
  Tensor y = empty({d.N, d.O, d.P, d.Q}, x.dtype(), x.device());
  cuda::conv2d_forward(x, w, b, p, y);
  if (!any_requires_grad({&x_in, &w_in, &b_in})) return y;
  const bool need_x = x_in.requires_grad();
  const bool need_w = w_in.requires_grad();
  const bool need_b = b_in.defined() && b_in.requires_grad();
  const Tensor xs = need_w ? x : Tensor(), ws = need_x ? w : Tensor();
  const Shape x_shape = x.shape(), w_shape = w.shape();
  return record("conv2d", y, {&x_in, &w_in, &b_in}, [=](const Tensor& gy) {
    const Tensor g = gy.contiguous();
    Tensor dx, dw, db;
    if (need_x) {
      dx = empty(x_shape, g.dtype(), g.device());
      cuda::conv2d_backward_data(g, ws, p, dx);
    }
    if (need_w) {
      dw = empty(w_shape, g.dtype(), g.device());
      cuda::conv2d_backward_weights(xs, g, p, dw);
    }
    if (need_b) db = sum(g, {0, 2, 3});
    return std::vector<Tensor>{dx, dw, db};
  });
}

}  // namespace

Tensor conv2d(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, const Conv2dParams& p) {
  check_conv(x_in, w_in, b_in, p);
  if (!x_in.device().is_cpu()) return conv2d_cuda(x_in, w_in, b_in, p);
  // float32 runs on oneDNN in channels-last (nhwc): activations arrive and
  // leave in that layout, so a network pays no reorder between layers; other
  // inputs are converted once. float64 (the reference) works on row-major.
  const bool f32 = x_in.dtype() == DType::f32;
  const Tensor x = f32 ? to_channels_last(x_in.detach()) : x_in.detach().contiguous();
  const Tensor w = w_in.detach().contiguous();
  const Tensor b = b_in.defined() ? b_in.detach().contiguous() : Tensor();
  const auto d = dims_of(x.shape(), w.shape(), p);
  const Shape y_shape{d.N, d.O, d.P, d.Q};
  Tensor y = f32 ? empty_channels_last(y_shape, x.dtype(), x.device())
                 : empty(y_shape, x.dtype(), x.device());
  if (f32) {
    cpu::conv2d_forward(x, w, b, p, y);
  } else {
    reference::conv2d_forward(d, p, x.data<double>(), w.data<double>(),
                              b.defined() ? b.data<double>() : nullptr, y.data<double>());
  }
  if (!any_requires_grad({&x_in, &w_in, &b_in})) return y;
  const bool need_x = x_in.requires_grad();
  const bool need_w = w_in.requires_grad() || (b_in.defined() && b_in.requires_grad());
  const bool has_b = b.defined();
  // Saved: x only when dw is needed, w only when dx is needed.
  const Tensor xs = need_w ? x : Tensor(), ws = need_x ? w : Tensor();
  const Shape x_shape = x.shape(), w_shape = w.shape();
  return record("conv2d", y, {&x_in, &w_in, &b_in}, [=](const Tensor& gy) {
    const Tensor g = f32 ? to_channels_last(gy) : gy.contiguous();
    Tensor dx, dw, db;
    if (need_x) {
      dx = f32 ? empty_channels_last(x_shape, g.dtype(), g.device())
               : empty(x_shape, g.dtype(), g.device());
      if (g.dtype() == DType::f32)
        cpu::conv2d_backward_data(g, ws, p, dx);
      else
        reference::conv2d_backward_data(d, p, g.data<double>(), ws.data<double>(),
                                        dx.data<double>());
    }
    if (need_w) {
      dw = empty(w_shape, g.dtype(), g.device());
      if (has_b) db = empty({w_shape[0]}, g.dtype(), g.device());
      if (g.dtype() == DType::f32)
        cpu::conv2d_backward_weights(xs, g, p, dw, db);
      else
        reference::conv2d_backward_weights(d, p, xs.data<double>(), g.data<double>(),
                                           dw.data<double>(), has_b ? db.data<double>() : nullptr);
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
  const auto d = dims_of(x.shape(), w.shape(), p);
  const Shape y_shape{d.N, d.O, d.P, d.Q};
  MPQ_CHECK(!residual.defined() || (residual.shape() == y_shape && residual.dtype() == x.dtype()),
            "conv2d_affine: residual ", shape_str(residual.shape()), " for an output of shape ",
            shape_str(y_shape));
  if (x.dtype() != DType::f32 || !x.device().is_cpu()) {  // the ops composed
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
  cpu::conv2d_forward_inference(xc, wf, bf, p, relu, residual.defined(), y);
  return y;
}

}  // namespace mpq
