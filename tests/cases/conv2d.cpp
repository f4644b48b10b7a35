// Convolution cases: the geometry (stride, padding, dilation, groups, bias,
// a kernel larger than 1x1 on an odd input, a 1x1 stride-2 shortcut) on small
// shapes, and ResNet-20's convolutions at batch 128 for the benchmark.
#include "ops/conv2d.h"
#include "tests/cases/op_case.h"

namespace mpq::cases {

namespace {

OpCase conv(Shape x, Shape w, Conv2dParams p, bool bias, bool perf = false) {
  OpCase c;
  c.op = "conv2d";
  c.name = cat("x", shape_str(x), " w", shape_str(w), " ", p.str(), (bias ? " bias" : ""));
  c.make_inputs = [=](std::uint64_t s) {
    Inputs in{uniform(x, s), uniform(w, s + 1, -0.5, 0.5)};
    if (bias) in.push_back(uniform({w[0]}, s + 2));
    return in;
  };
  c.run = [p](const Inputs& in) {
    return conv2d(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), p);
  };
  const std::int64_t P = p.out_size(x[2], w[2], 0), Q = p.out_size(x[3], w[3], 1);
  c.flops = 2.0 * static_cast<double>(x[0] * w[0] * P * Q * w[1] * w[2] * w[3]);
  c.bytes = 4.0 * static_cast<double>(numel_of(x) + numel_of(w) + x[0] * w[0] * P * Q);
  c.perf = perf;
  // The weight gradient sums N*P*Q products (131072 in stage 1): float32
  // rounding of that order leaves absolute errors near 1e-4 on values that
  // cancel to about 1.
  if (perf) c.f32_atol = c.backend_atol = 1e-3;
  return c;
}

Conv2dParams geometry(std::int64_t stride, std::int64_t pad, std::int64_t dilation = 1,
                      std::int64_t groups = 1) {
  Conv2dParams p;
  p.stride = {stride, stride};
  p.padding = {pad, pad};
  p.dilation = {dilation, dilation};
  p.groups = groups;
  return p;
}

}  // namespace

std::vector<OpCase> conv2d_cases() {
  return {
      conv({2, 3, 6, 6}, {4, 3, 3, 3}, geometry(1, 1), true),
      conv({1, 2, 7, 7}, {3, 2, 3, 3}, geometry(2, 1), false),
      conv({1, 2, 7, 6}, {2, 2, 3, 2}, geometry(1, 2, 2), true),      // dilation, odd shapes
      conv({2, 4, 5, 5}, {6, 2, 3, 3}, geometry(1, 1, 1, 2), true),   // groups
      conv({2, 4, 5, 5}, {4, 1, 3, 3}, geometry(1, 1, 1, 4), false),  // depthwise
      conv({2, 3, 6, 6}, {5, 3, 1, 1}, geometry(2, 0), false),        // 1x1 stride-2 shortcut
      conv({128, 16, 32, 32}, {16, 16, 3, 3}, geometry(1, 1), false, true),  // ResNet-20 stage 1
      conv({128, 16, 32, 32}, {32, 16, 3, 3}, geometry(2, 1), false, true),  // to stage 2
      conv({128, 32, 16, 16}, {32, 32, 3, 3}, geometry(1, 1), false, true),
      conv({128, 64, 8, 8}, {64, 64, 3, 3}, geometry(1, 1), false, true),
  };
}

}  // namespace mpq::cases
