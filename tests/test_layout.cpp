// Dense layouts (core/layout.h) and the ops that keep them: conv2d writes
// channels-last activations, and batch norm, the quantizers and elementwise
// ops must give the same values and gradients in that layout as in row-major,
// keep the layout, and (batch norm) stay deterministic across thread counts.
#include "test_util.h"

#include "core/layout.h"
#include "core/parallel.h"
#include "ops/batch_norm.h"
#include "ops/conv2d.h"
#include "quant/quantize_pow2.h"
#include "quant/quantize_uniform.h"

using namespace mpq;
using test::check_gradients;
using test::rand_f32;
using test::rand_f64;

namespace {
// Largest |a - b| over all elements (layouts may differ).
double max_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  double m = 0;
  for (std::size_t i = 0; i < va.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
  return m;
}
}  // namespace

TEST_CASE("layout: dense, channels-last and layout order", "[layout]") {
  const Tensor x = rand_f32({2, 3, 4, 5}, 1);
  CHECK(is_dense(x));
  CHECK_FALSE(is_channels_last(x));
  CHECK(layout_order(x) == std::vector<std::int64_t>{0, 1, 2, 3});

  const Tensor cl = to_channels_last(x);
  CHECK(cl.strides() == Strides{60, 1, 15, 3});
  CHECK(is_channels_last(cl));
  CHECK(is_dense(cl));
  CHECK_FALSE(cl.is_contiguous());
  CHECK(layout_order(cl) == std::vector<std::int64_t>{0, 2, 3, 1});
  CHECK(max_diff(cl, x) == 0.0);
  CHECK(to_channels_last(cl).impl_ptr() == cl.impl_ptr());  // no copy when already there

  // A narrowed view is not dense; a transposed matrix is.
  CHECK_FALSE(is_dense(x.narrow(3, 1, 3)));
  CHECK(is_dense(rand_f32({3, 4}, 2).t()));

  // Size-1 dims carry no layout: [N, C, 1, 1] is both row-major and channels-last.
  const Tensor pooled = to_channels_last(rand_f32({2, 3, 1, 1}, 3));
  CHECK(pooled.is_contiguous());
  CHECK(is_channels_last(pooled));

  // empty_dense_like / in_layout_of keep a dense layout and copy otherwise.
  CHECK(same_layout(empty_dense_like(cl), cl));
  CHECK(empty_dense_like(x.narrow(3, 1, 3)).is_contiguous());
  const Tensor back = in_layout_of(x, cl);
  CHECK(same_layout(back, cl));
  CHECK(max_diff(back, x) == 0.0);
  CHECK(in_layout_of(cl, cl).impl_ptr() == cl.impl_ptr());
  CHECK_THROWS_WITH(in_layout_of(x, rand_f32({2, 3}, 4)), Catch::Matchers::Contains("shapes"));
  CHECK_THROWS_WITH(to_channels_last(rand_f32({2, 3}, 4)), Catch::Matchers::Contains("4-D"));
  // A same-shape reshape is the tensor itself (no copy to row-major).
  CHECK(cl.reshape(cl.shape()).impl_ptr() == cl.impl_ptr());
}

TEST_CASE("layout: elementwise results follow a dense operand's layout", "[layout]") {
  const Tensor a = rand_f32({2, 8, 3, 5}, 5), b = rand_f32({2, 8, 3, 5}, 6);
  const Tensor acl = to_channels_last(a), bcl = to_channels_last(b);
  const Tensor expect = add(a, b);
  const Tensor both = add(acl, bcl);
  CHECK(is_channels_last(both));
  CHECK(max_diff(both, expect) == 0.0);
  const Tensor mixed = add(acl, b);  // first operand decides
  CHECK(is_channels_last(mixed));
  CHECK(max_diff(mixed, expect) == 0.0);
  CHECK(add(a, bcl).is_contiguous());
  CHECK(max_diff(add(a, bcl), expect) == 0.0);
  CHECK(is_channels_last(relu(acl)));
  CHECK(max_diff(relu(acl), relu(a)) == 0.0);
  // Broadcasting a per-channel tensor over a channels-last one.
  const Tensor bias = rand_f32({1, 8, 1, 1}, 7);
  CHECK(is_channels_last(mul(acl, bias)));
  CHECK(max_diff(mul(acl, bias), mul(a, bias)) == 0.0);
  // A strided (non-dense) operand gives a row-major result with the right values.
  const Tensor view = acl.narrow(3, 1, 3);
  CHECK(max_diff(add(view, view), add(a.narrow(3, 1, 3), a.narrow(3, 1, 3))) == 0.0);
}

TEST_CASE("layout: float32 conv2d runs channels-last whatever the input layout",
          "[layout][conv2d]") {
  const Tensor x = rand_f32({2, 5, 7, 6}, 8), w = rand_f32({4, 5, 3, 3}, 9), b = rand_f32({4}, 10);
  Conv2dParams p;
  p.padding = {1, 1};
  const Tensor y = conv2d(x, w, b, p);
  CHECK(is_channels_last(y));
  const Tensor ycl = conv2d(to_channels_last(x), w, b, p);
  CHECK(max_diff(y, ycl) == 0.0);
  // Against float64 (row-major reference loops).
  const Tensor y64 = conv2d(x.to(DType::f64), w.to(DType::f64), b.to(DType::f64), p);
  CHECK(y64.is_contiguous());
  CHECK(max_diff(y, y64) < 1e-5);

  // Gradients for an upstream gradient in either layout equal the float64 ones.
  for (bool cl_grad : {false, true}) {
    Tensor xs = x.clone().detach().set_requires_grad(true);
    Tensor ws = w.clone().detach().set_requires_grad(true);
    Tensor x64 = x.to(DType::f64).detach().set_requires_grad(true);
    Tensor w64 = w.to(DType::f64).detach().set_requires_grad(true);
    const Tensor gy = rand_f32(y.shape(), 11);
    conv2d(xs, ws, Tensor(), p).backward(cl_grad ? to_channels_last(gy) : gy);
    conv2d(x64, w64, Tensor(), p).backward(gy.to(DType::f64));
    CHECK(xs.grad().is_contiguous());  // a gradient takes its leaf's layout
    CHECK(max_diff(xs.grad(), x64.grad()) < 1e-5);
    CHECK(max_diff(ws.grad(), w64.grad()) < 1e-4);
  }
}

TEST_CASE("layout: channels-last batch norm equals row-major, values and gradients",
          "[layout][batch_norm]") {
  const Tensor x = rand_f64({3, 6, 4, 5}, 12, -2, 3), gamma = rand_f64({6}, 13),
               beta = rand_f64({6}, 14);
  for (bool training : {true, false}) {
    INFO("training " << training);
    Tensor rm = rand_f64({6}, 15), rv = rand_f64({6}, 16, 0.5, 2.0);
    Tensor rm2 = rm.clone(), rv2 = rv.clone();
    const Tensor y = batch_norm2d(x, gamma, beta, rm, rv, training, 0.1, 1e-5);
    const Tensor ycl =
        batch_norm2d(to_channels_last(x), gamma, beta, rm2, rv2, training, 0.1, 1e-5);
    CHECK(is_channels_last(ycl));
    CHECK(max_diff(y, ycl) < 1e-12);
    CHECK(max_diff(rm, rm2) < 1e-12);
    CHECK(max_diff(rv, rv2) < 1e-12);
    Tensor rm3 = rm.clone(), rv3 = rv.clone();
    check_gradients(
        [&](const std::vector<Tensor>& in) {
          return batch_norm2d(to_channels_last(in[0]), in[1], in[2], rm3, rv3, training, 0.0, 1e-5);
        },
        {x.clone(), gamma.clone(), beta.clone()});
  }
}

TEST_CASE("layout: size-1 dims: H == 1 or W == 1 channels-last tensors stay dense and correct",
          "[layout][batch_norm]") {
  for (const Shape& s :
       {Shape{2, 3, 1, 4}, Shape{1, 3, 1, 4}, Shape{2, 3, 4, 1}, Shape{2, 3, 1, 1}}) {
    INFO("shape " << shape_str(s));
    const Tensor x = rand_f64(s, 50, -2, 3);
    const Tensor xcl = to_channels_last(x);
    CHECK(is_dense(xcl));
    CHECK(is_channels_last(xcl));
    CHECK(same_layout(empty_dense_like(xcl), xcl));
    // Batch norm in both layouts, forward and backward, in training.
    const Tensor gamma = rand_f64({3}, 51), beta = rand_f64({3}, 52), gy = rand_f64(s, 53);
    std::vector<Tensor> outs;
    for (bool cl : {false, true}) {
      Tensor xs = cl ? to_channels_last(x).detach() : x.clone().detach();
      xs.set_requires_grad(true);
      Tensor g = gamma.clone().set_requires_grad(true);
      const Tensor y = batch_norm2d(xs, g, beta, Tensor(), Tensor(), true, 0.1, 1e-5);
      y.backward(gy);
      outs.push_back(y);
      outs.push_back(xs.grad());
      outs.push_back(g.grad());
    }
    CHECK(max_diff(outs[0], outs[3]) < 1e-12);
    CHECK(max_diff(outs[1], outs[4]) < 1e-12);
    CHECK(max_diff(outs[2], outs[5]) < 1e-12);
  }
}

TEST_CASE(
    "layout: channels-last batch norm keeps float32 precision and is thread-count independent",
    "[layout][batch_norm]") {
  // A large mean over a unit spread: a naive E[x^2] - E[x]^2 would lose it.
  const Tensor x = add(rand_f32({8, 16, 6, 6}, 17, -1.7, 1.7), 1e4);
  const Tensor xcl = to_channels_last(x);
  Tensor rm = zeros({16}), rv = ones({16});
  const Tensor y = batch_norm2d(xcl, Tensor(), Tensor(), rm, rv, true, 1.0, 1e-5);
  Tensor rm64 = zeros({16}, DType::f64), rv64 = ones({16}, DType::f64);
  const Tensor y64 =
      batch_norm2d(x.to(DType::f64), Tensor(), Tensor(), rm64, rv64, true, 1.0, 1e-5);
  CHECK(max_diff(y, y64) < 2e-3);  // float32 input quantisation at 1e4 is ~1e-3
  CHECK(max_diff(rm, rm64) < 1e-3);
  CHECK(max_diff(rv, rv64) < 1e-5);

  const int threads = num_threads();
  std::vector<std::vector<float>> runs;
  for (int t : {1, 2}) {
    set_num_threads(t);
    Tensor xs = xcl.clone().detach().set_requires_grad(true);
    Tensor g = ones({16}).set_requires_grad(true);
    const Tensor out = batch_norm2d(xs, g, Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5);
    out.backward(to_channels_last(rand_f32(x.shape(), 18)));
    std::vector<float> r = out.to_vector<float>();
    for (float v : xs.grad().to_vector<float>()) r.push_back(v);
    for (float v : g.grad().to_vector<float>()) r.push_back(v);
    runs.push_back(r);
  }
  set_num_threads(threads);
  CHECK(runs[0] == runs[1]);
}

TEST_CASE("layout: quantizers keep a channels-last layout with equal values and gradients",
          "[layout][quant]") {
  const Tensor x = rand_f32({4, 8, 5, 3}, 19, -2, 2);
  const Tensor gy = rand_f32(x.shape(), 20);
  auto run = [&](bool cl, bool pow2) {
    // A channels-last leaf (to_channels_last copies) gets a channels-last gradient.
    Tensor xs = cl ? to_channels_last(x).detach() : x.clone().detach();
    xs.set_requires_grad(true);
    Tensor a = scalar_tensor(pow2 ? 0.1 : 0.125).set_requires_grad(true);
    Tensor b = scalar_tensor(1.1).set_requires_grad(true);
    const Tensor q =
        pow2 ? quant::quantize_pow2(xs, a, b, true, true) : quant::quantize_uniform(xs, a, b, true);
    CHECK(is_channels_last(q) == cl);
    q.backward(cl ? to_channels_last(gy) : gy);
    CHECK(is_channels_last(xs.grad()) == cl);
    return std::vector<Tensor>{q, xs.grad(), a.grad(), b.grad()};
  };
  for (bool pow2 : {false, true}) {
    INFO("pow2 " << pow2);
    const auto r = run(false, pow2), c = run(true, pow2);
    CHECK(max_diff(r[0], c[0]) == 0.0);
    CHECK(max_diff(r[1], c[1]) == 0.0);
    // The parameter gradients are sums over the tensor, taken in memory order:
    // row-major and channels-last add the same terms in different orders, with
    // float partial sums (quant/cpu/block_reduce.h), so they agree to rounding.
    CHECK(r[2].item() == Approx(c[2].item()).epsilon(1e-4));
    CHECK(r[3].item() == Approx(c[3].item()).epsilon(1e-4));
  }
}
