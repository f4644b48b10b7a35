#include "test_util.h"

#include "ops/conv2d.h"

using namespace mpq;
using Catch::Matchers::Contains;
using test::check_gradients;
using test::rand_f64;

namespace {
struct Case {
  Shape x, w;
  Conv2dParams p;
  bool bias;
};

Conv2dParams params(std::int64_t s, std::int64_t pad, std::int64_t d = 1, std::int64_t g = 1) {
  Conv2dParams p;
  p.stride = {s, s};
  p.padding = {pad, pad};
  p.dilation = {d, d};
  p.groups = g;
  return p;
}

const std::vector<Case> kCases = {
    {{2, 3, 7, 6}, {4, 3, 3, 3}, params(1, 1), true},         // same padding
    {{2, 4, 9, 9}, {6, 4, 3, 3}, params(2, 1), false},        // strided (ResNet downsampling)
    {{2, 4, 8, 8}, {6, 4, 1, 1}, params(2, 0), true},         // 1x1 stride 2: negative right pad
    {{1, 2, 9, 8}, {3, 2, 3, 2}, params(1, 2, 2), true},      // dilation, rectangular kernel
    {{2, 4, 6, 6}, {6, 2, 3, 3}, params(1, 1, 1, 2), true},   // groups
    {{2, 4, 7, 7}, {4, 1, 3, 3}, params(2, 1, 1, 4), false},  // depthwise, strided
    {{3, 1, 12, 12}, {5, 1, 5, 5}, params(1, 2), false},      // LeNet-like first layer
};
}  // namespace

TEST_CASE("conv2d: float64 reference gradients against finite differences", "[conv2d][grad]") {
  for (std::size_t i = 0; i < kCases.size(); ++i) {
    const Case& c = kCases[i];
    INFO("case " << i << ": x " << shape_str(c.x) << " w " << shape_str(c.w) << " " << c.p.str());
    Shape xs = c.x;
    xs[0] = std::min<std::int64_t>(xs[0], 2);
    std::vector<Tensor> in{rand_f64(xs, 10 + i), rand_f64(c.w, 20 + i)};
    if (c.bias) in.push_back(rand_f64({c.w[0]}, 30 + i));
    const Conv2dParams p = c.p;
    check_gradients(
        [p](const auto& t) { return conv2d(t[0], t[1], t.size() > 2 ? t[2] : Tensor(), p); }, in);
  }
}

TEST_CASE("conv2d: oneDNN float32 forward and both backward passes against the reference",
          "[conv2d]") {
  for (std::size_t i = 0; i < kCases.size(); ++i) {
    const Case& c = kCases[i];
    INFO("case " << i << ": x " << shape_str(c.x) << " w " << shape_str(c.w) << " " << c.p.str());
    const Tensor x64 = rand_f64(c.x, 40 + i), w64 = rand_f64(c.w, 50 + i);
    const Tensor b64 = c.bias ? rand_f64({c.w[0]}, 60 + i) : Tensor();
    // Reference in float64 (with autograd for the backward passes).
    Tensor xr = x64.clone().detach(), wr = w64.clone().detach(),
           br = c.bias ? b64.clone().detach() : Tensor();
    xr.set_requires_grad(true);
    wr.set_requires_grad(true);
    if (c.bias) br.set_requires_grad(true);
    Tensor yr = conv2d(xr, wr, br, c.p);
    const Tensor g64 = rand_f64(yr.shape(), 70 + i);
    yr.backward(g64);
    // oneDNN in float32.
    Tensor x = x64.to(DType::f32), w = w64.to(DType::f32),
           b = c.bias ? b64.to(DType::f32) : Tensor();
    x.set_requires_grad(true);
    w.set_requires_grad(true);
    if (c.bias) b.set_requires_grad(true);
    Tensor y = conv2d(x, w, b, c.p);
    y.backward(g64.to(DType::f32));
    CHECK_CLOSE(y, yr, 1e-4, 1e-4);
    CHECK_CLOSE(x.grad(), xr.grad(), 1e-4, 1e-4);
    CHECK_CLOSE(w.grad(), wr.grad(), 1e-4, 1e-4);
    if (c.bias) CHECK_CLOSE(b.grad(), br.grad(), 1e-4, 1e-4);
    // Run again: the cached primitives give the same result.
    CHECK_CLOSE(conv2d(x.detach(), w.detach(), b.defined() ? b.detach() : Tensor(), c.p), y, 0, 0);
  }
}

TEST_CASE("conv2d: a non-contiguous input is handled", "[conv2d]") {
  const Tensor x =
      test::rand_f32({2, 5, 5, 3}, 1).permute({0, 3, 1, 2});  // NHWC data viewed as NCHW
  const Tensor w = test::rand_f32({4, 3, 3, 3}, 2);
  CHECK_CLOSE(conv2d(x, w, Tensor(), params(1, 1)),
              conv2d(x.contiguous(), w, Tensor(), params(1, 1)), 0, 0);
}

TEST_CASE("conv2d: errors name the shapes", "[conv2d]") {
  CHECK_THROWS_WITH(conv2d(zeros({1, 3, 8, 8}), zeros({4, 2, 3, 3})),
                    Contains("[1, 3, 8, 8]") && Contains("3 channels") && Contains("[4, 2, 3, 3]"));
  CHECK_THROWS_WITH(conv2d(zeros({3, 8, 8}), zeros({4, 3, 3, 3})), Contains("[N, C, H, W]"));
  CHECK_THROWS_WITH(conv2d(zeros({1, 3, 2, 2}), zeros({4, 3, 3, 3})), Contains("does not fit"));
  CHECK_THROWS_WITH(conv2d(zeros({1, 3, 8, 8}), zeros({4, 3, 3, 3}), zeros({5})), Contains("bias"));
  CHECK_THROWS_WITH(conv2d(zeros({1, 3, 8, 8}), zeros({4, 1, 3, 3}), Tensor(), params(1, 1, 1, 2)),
                    Contains("groups=2"));
}

TEST_CASE("conv2d: a strided kernel larger than the input is refused", "[conv2d]") {
  Conv2dParams p;
  p.stride = {2, 2};
  CHECK_THROWS_WITH(conv2d(zeros({1, 1, 3, 3}), zeros({1, 1, 4, 4}), Tensor(), p),
                    Contains("does not fit"));
}

TEST_CASE("conv2d_affine: the folded float32 primitive equals conv, affine and ReLU composed",
          "[conv2d]") {
  NoGradGuard ng;
  for (bool with_bias : {false, true})
    for (bool relu : {false, true})
      for (bool with_residual : {false, true}) {
        INFO("bias " << with_bias << " relu " << relu << " residual " << with_residual);
        const Tensor x = rand_f64({3, 4, 7, 6}, 31), w = rand_f64({5, 4, 3, 3}, 32);
        const Tensor b = with_bias ? rand_f64({5}, 33) : Tensor();
        const Tensor scale = rand_f64({5}, 34, 0.5, 2.0), shift = rand_f64({5}, 35);
        Conv2dParams p;
        p.stride = {2, 1};
        p.padding = {1, 1};
        // float64: the reference composition; float32: the fused oneDNN primitive.
        // A row-major residual: the float32 path copies it into its channels-last output.
        const Tensor res = with_residual ? rand_f64({3, 5, 4, 6}, 41) : Tensor();
        const Tensor y64 = conv2d_affine(x, w, b, scale, shift, p, relu, res);
        Tensor expect =
            add(mul(conv2d(x, w, b, p), scale.reshape({1, 5, 1, 1})), shift.reshape({1, 5, 1, 1}));
        if (with_residual) expect = add(expect, res);
        if (relu) expect = mpq::relu(expect);
        CHECK_CLOSE(y64, expect, 1e-12, 1e-12);
        const auto f32 = [](const Tensor& t) { return t.defined() ? t.to(DType::f32) : t; };
        const Tensor y32 =
            conv2d_affine(f32(x), f32(w), f32(b), f32(scale), f32(shift), p, relu, f32(res));
        CHECK_CLOSE(y32.to(DType::f64), expect, 1e-5, 1e-5);
        if (relu) CHECK(max(neg(y32)).item() <= 0.0);  // no negative output
      }
}

TEST_CASE("conv2d_affine: refuses gradients and mismatched affine shapes", "[conv2d]") {
  const Tensor x = rand_f64({1, 2, 5, 5}, 36), w = rand_f64({3, 2, 3, 3}, 37);
  Tensor scale = rand_f64({3}, 38), shift = rand_f64({3}, 39);
  {
    NoGradGuard ng;
    CHECK_THROWS_WITH(conv2d_affine(x, w, Tensor(), rand_f64({4}, 40), shift, {}, false),
                      Contains("scale and shift must be [3]"));
    CHECK_THROWS_WITH(
        conv2d_affine(x, w, Tensor(), scale, shift, {}, false, rand_f64({1, 3, 2, 2}, 41)),
        Contains("residual [1, 3, 2, 2]"));
  }
  Tensor xg = x.clone().set_requires_grad(true);
  CHECK_THROWS_WITH(conv2d_affine(xg, w, Tensor(), scale, shift, {}, false),
                    Contains("inference only"));
}
