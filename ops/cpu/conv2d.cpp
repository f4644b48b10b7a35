// CPU convolution: oneDNN for float32 (forward, backward-data,
// backward-weights, and a fused inference primitive), the reference loops for
// float64. float32:
// Activations (x, y, dy, dx) are channels-last tensors (core/layout.h: NHWC
// strides), which the primitives read and write in place; weights are
// contiguous OIHW and reordered into the primitive's blocked layout through a
// cached buffer. Primitives are cached per shape.
#include "core/backend.h"
#include "core/tensor.h"
#include "ops/conv2d_params.h"

#include "core/layout.h"
#include "ops/cpu/onednn.h"
#include "ops/reference/conv2d.h"

namespace mpq::cpu {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
constexpr auto f32 = memory::data_type::f32;

// oneDNN's description of one convolution's geometry.
struct Geometry {
  memory::desc src, dst, wei, bias, any_wei;  // activations channels-last (core/layout.h)
  memory::dims strides, dilates, pad_l, pad_r;
};

Geometry geometry(const Shape& xs, const Shape& ws, const Conv2dParams& prm) {
  const memory::dim N = xs[0], C = xs[1], H = xs[2], W = xs[3];
  const memory::dim O = ws[0], KH = ws[2], KW = ws[3], G = prm.groups;
  const memory::dim P = prm.out_size(H, KH, 0), Q = prm.out_size(W, KW, 1);
  const memory::dims wei_dims =
      G == 1 ? memory::dims{O, C, KH, KW} : memory::dims{G, O / G, C / G, KH, KW};
  Geometry g;
  // Activations are channels-last tensors and the primitives use that layout
  // directly, so only the weights are reordered.
  g.src = memory::desc({N, C, H, W}, f32, tag::nhwc);
  g.dst = memory::desc({N, O, P, Q}, f32, tag::nhwc);
  g.wei = memory::desc(wei_dims, f32, G == 1 ? tag::oihw : tag::goihw);
  g.bias = memory::desc({O}, f32, tag::x);
  g.any_wei = memory::desc(wei_dims, f32, tag::any);
  g.strides = {prm.stride[0], prm.stride[1]};
  // oneDNN counts dilation from 0 (no dilation), PyTorch from 1.
  g.dilates = {prm.dilation[0] - 1, prm.dilation[1] - 1};
  g.pad_l = {prm.padding[0], prm.padding[1]};
  // Right padding that makes oneDNN's output size equal PyTorch's floor rule;
  // negative when the last input rows are never reached.
  g.pad_r = {(P - 1) * prm.stride[0] + (KH - 1) * prm.dilation[0] + 1 - H - prm.padding[0],
             (Q - 1) * prm.stride[1] + (KW - 1) * prm.dilation[1] + 1 - W - prm.padding[1]};
  return g;
}

// Every primitive of one convolution configuration, with the buffers the
// weight reorders reuse from call to call. The activations are used in place.
struct ConvPrimitives {
  Geometry g;
  dnnl::convolution_forward::primitive_desc fwd_pd;
  dnnl::convolution_forward fwd;
  dnnl::convolution_backward_data::primitive_desc bwd_data_pd;
  dnnl::convolution_backward_data bwd_data;
  dnnl::convolution_backward_weights::primitive_desc bwd_wei_pd;
  dnnl::convolution_backward_weights bwd_wei;
  std::shared_ptr<Tensor> buf_wei, buf_dwei;
};

ConvPrimitives make_primitives(const Shape& xs, const Shape& ws, bool with_bias,
                               const Conv2dParams& prm) {
  using namespace onednn;
  ConvPrimitives c;
  const Geometry& g = c.g = geometry(xs, ws, prm);
  const memory::desc bias = with_bias ? g.bias : memory::desc();
  const auto algo = dnnl::algorithm::convolution_direct;

  dnnl::convolution_forward::desc fd(dnnl::prop_kind::forward_training, algo, g.src, g.any_wei,
                                     bias, g.dst, g.strides, g.dilates, g.pad_l, g.pad_r);
  c.fwd_pd = dnnl::convolution_forward::primitive_desc(fd, engine());
  c.fwd = dnnl::convolution_forward(c.fwd_pd);

  dnnl::convolution_backward_data::desc bd(algo, g.src, g.any_wei, g.dst, g.strides, g.dilates,
                                           g.pad_l, g.pad_r);
  c.bwd_data_pd = dnnl::convolution_backward_data::primitive_desc(bd, engine(), c.fwd_pd);
  c.bwd_data = dnnl::convolution_backward_data(c.bwd_data_pd);

  dnnl::convolution_backward_weights::desc wd(algo, g.src, g.any_wei, bias, g.dst, g.strides,
                                              g.dilates, g.pad_l, g.pad_r);
  c.bwd_wei_pd = dnnl::convolution_backward_weights::primitive_desc(wd, engine(), c.fwd_pd);
  c.bwd_wei = dnnl::convolution_backward_weights(c.bwd_wei_pd);
  return c;
}

// The cache key of one configuration; the layouts every kernel here relies on.
std::string config_key(const Tensor& x, const Tensor& w, const Conv2dParams& prm) {
  MPQ_CHECK(is_channels_last(x) && w.is_contiguous(),
            "cpu::conv2d: activations must be channels-last (core/layout.h) and weights "
            "contiguous OIHW");
  return shape_str(x.shape()) + shape_str(w.shape()) + prm.str();
}

ConvPrimitives& primitives(const Tensor& x, const Tensor& w, bool with_bias,
                           const Conv2dParams& prm) {
  static onednn::Cache<ConvPrimitives> cache;
  return cache.get(config_key(x, w, prm) + (with_bias ? "b" : "-"),
                   [&] { return make_primitives(x.shape(), w.shape(), with_bias, prm); });
}

// The inference primitive of one configuration: bias always; the residual sum
// and the ReLU as post-ops.
struct ConvInference {
  Geometry g;
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
  std::shared_ptr<Tensor> buf_wei;
};

ConvInference& inference_primitive(const Tensor& x, const Tensor& w, const Conv2dParams& prm,
                                   bool relu, bool accumulate) {
  static onednn::Cache<ConvInference> cache;
  const std::string key =
      config_key(x, w, prm) + (accumulate ? "sum" : "-") + (relu ? "relu" : "-");
  return cache.get(key, [&] {
    ConvInference c;
    const Geometry& g = c.g = geometry(x.shape(), w.shape(), prm);
    dnnl::post_ops ops;
    if (accumulate) ops.append_sum(1.0f);  // dst = conv + bias + dst (before the ReLU)
    if (relu) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    dnnl::convolution_forward::desc fd(dnnl::prop_kind::forward_inference,
                                       dnnl::algorithm::convolution_direct, g.src, g.any_wei,
                                       g.bias, g.dst, g.strides, g.dilates, g.pad_l, g.pad_r);
    c.pd = dnnl::convolution_forward::primitive_desc(fd, attr, onednn::engine());
    c.prim = dnnl::convolution_forward(c.pd);
    return c;
  });
}

// Writes `result` (in the primitive's layout) into the plain tensor `out`,
// going through `buf` when the layouts differ.
struct Output {
  memory mem;   // what the primitive writes
  memory user;  // the tensor
  bool needs_reorder;
};
Output output_memory(const memory::desc& prim_desc, const memory::desc& user_desc,
                     const Tensor& out, std::shared_ptr<Tensor>& buf) {
  using namespace onednn;
  memory user(user_desc, engine(), out.raw_data());
  if (prim_desc == user_desc) return {user, user, false};
  const std::int64_t floats = static_cast<std::int64_t>((prim_desc.get_size() + 3) / 4);
  if (!buf || buf->numel() < floats) buf = std::make_shared<Tensor>(empty({floats}));
  return {memory(prim_desc, engine(), buf->raw_data()), user, true};
}

void finish(const Output& o) {
  if (o.needs_reorder) onednn::reorder(o.mem, o.user);
}

void conv2d_forward_f32(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& prm,
                        const Tensor& y) {
  using namespace onednn;
  ConvPrimitives& c = primitives(x, w, b.defined(), prm);
  memory wei = to_layout(wrap(w, c.g.wei), c.fwd_pd.weights_desc(), c.buf_wei);
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, wrap(x, c.g.src)}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, wrap(y, c.g.dst)}};
  if (b.defined()) args.emplace(DNNL_ARG_BIAS, wrap(b, c.g.bias));
  c.fwd.execute(stream(), args);
  stream().wait();
}

void conv2d_forward_inference(const Tensor& x, const Tensor& w, const Tensor& b,
                              const Conv2dParams& prm, bool relu, bool accumulate,
                              const Tensor& y) {
  using namespace onednn;
  ConvInference& c = inference_primitive(x, w, prm, relu, accumulate);
  MPQ_CHECK(is_channels_last(y), "cpu::conv2d: the output must be channels-last");
  memory wei = to_layout(wrap(w, c.g.wei), c.pd.weights_desc(), c.buf_wei);
  c.prim.execute(stream(), {{DNNL_ARG_SRC, wrap(x, c.g.src)},
                            {DNNL_ARG_WEIGHTS, wei},
                            {DNNL_ARG_BIAS, wrap(b, c.g.bias)},
                            {DNNL_ARG_DST, wrap(y, c.g.dst)}});
  stream().wait();
}

void conv2d_backward_data_f32(const Tensor& dy, const Tensor& w, const Conv2dParams& prm,
                              const Tensor& dx) {
  using namespace onednn;
  ConvPrimitives& c = primitives(dx, w, false, prm);
  memory wei = to_layout(wrap(w, c.g.wei), c.bwd_data_pd.weights_desc(), c.buf_wei);
  c.bwd_data.execute(stream(), {{DNNL_ARG_DIFF_DST, wrap(dy, c.g.dst)},
                                {DNNL_ARG_WEIGHTS, wei},
                                {DNNL_ARG_DIFF_SRC, wrap(dx, c.g.src)}});
  stream().wait();
}

void conv2d_backward_weights_f32(const Tensor& x, const Tensor& dy, const Conv2dParams& prm,
                                 const Tensor& dw, const Tensor& db) {
  using namespace onednn;
  ConvPrimitives& c = primitives(x, dw, db.defined(), prm);
  // The weight gradient comes out in the primitive's (blocked) layout.
  Output dwei = output_memory(c.bwd_wei_pd.diff_weights_desc(), c.g.wei, dw, c.buf_dwei);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, wrap(x, c.g.src)},
                                       {DNNL_ARG_DIFF_DST, wrap(dy, c.g.dst)},
                                       {DNNL_ARG_DIFF_WEIGHTS, dwei.mem}};
  if (db.defined()) args.emplace(DNNL_ARG_DIFF_BIAS, wrap(db, c.g.bias));
  c.bwd_wei.execute(stream(), args);
  finish(dwei);
  stream().wait();
}

// float64 (gradient checks, the oracle) runs the plain loops of
// ops/reference/conv2d.h on contiguous NCHW tensors.
reference::Conv2dDims dims_of(const Tensor& x, const Tensor& w, const Tensor& y) {
  return {x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3], w.shape()[0],
          w.shape()[2], w.shape()[3], y.shape()[2], y.shape()[3]};
}

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& prm,
                    const Tensor& y) {
  if (x.dtype() == DType::f32) return conv2d_forward_f32(x, w, b, prm, y);
  reference::conv2d_forward(dims_of(x, w, y), prm, x.data<double>(), w.data<double>(),
                            b.defined() ? b.data<double>() : nullptr, y.data<double>());
}

void conv2d_backward_data(const Tensor& dy, const Tensor& w, const Conv2dParams& prm,
                          const Tensor& dx) {
  if (dy.dtype() == DType::f32) return conv2d_backward_data_f32(dy, w, prm, dx);
  reference::conv2d_backward_data(dims_of(dx, w, dy), prm, dy.data<double>(), w.data<double>(),
                                  dx.data<double>());
}

void conv2d_backward_weights(const Tensor& x, const Tensor& dy, const Conv2dParams& prm,
                             const Tensor& dw, const Tensor& db) {
  if (dy.dtype() == DType::f32) return conv2d_backward_weights_f32(x, dy, prm, dw, db);
  reference::conv2d_backward_weights(dims_of(x, dw, dy), prm, x.data<double>(), dy.data<double>(),
                                     dw.data<double>(), db.defined() ? db.data<double>() : nullptr);
}

const BackendRegistration registration(DeviceType::cpu, [](Backend& b) {
  b.channels_last = true;
  b.conv2d_forward = conv2d_forward;
  b.conv2d_backward_data = conv2d_backward_data;
  b.conv2d_backward_weights = conv2d_backward_weights;
  b.conv2d_forward_inference = conv2d_forward_inference;
});

}  // namespace
}  // namespace mpq::cpu
