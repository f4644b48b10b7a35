// conv2d kernels (ops/cpu/conv2d.cpp: oneDNN forward, backward-data,
// backward-weights) at every distinct convolution of ResNet-20 on 32x32
// CIFAR images, batch 128, 3x3 kernels, padding 1, no bias.
//
// Names: conv2d_{fwd,bwd_data,bwd_weights}/C<in>_O<out>_H<in size>_s<stride>.
//
// Legend: N batch, C input channels, O output channels, H x W input, P x Q
// output, s stride, p = 1 padding, 3x3 taps (i, j).
//   forward:          y[n,o,p,q]  = sum_{c,i,j} x[n,c,p s-1+i,q s-1+j] w[o,c,i,j]
//   backward-data:    dx[n,c,h,w] = sum_{o,i,j: h = p s-1+i, w = q s-1+j} dy[n,o,p,q] w[o,c,i,j]
//   backward-weights: dw[o,c,i,j] = sum_{n,p,q} dy[n,o,p,q] x[n,c,p s-1+i,q s-1+j]
// (taps that fall into the zero padding contribute nothing). Each pass makes
// N O P Q C 3 3 multiply-adds: flops = 2 N O P Q C KH KW for all three.
//
// Check: before timing, the kernel runs once on the benchmark's inputs and
// 256 output elements (the first, the last and 254 random ones) are compared
// with the formulas above summed in float64 directly from the inputs, to
// rtol 1e-4 of sum |terms| (bench/check.h). The output is filled with NaN
// first, so an element the kernel never writes fails.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/check.h"
#include "bench/harness.h"
#include "bench/tensor_access.h"
#include "core/backend.h"
#include "core/rng.h"
#include "ops/conv2d_params.h"

namespace {

using namespace mpq;
using namespace mpq::bench;

constexpr std::int64_t kBatch = 128, kTaps = 3, kPad = 1;
constexpr int kSamples = 256;
constexpr double kRtol = 1e-4;

// One distinct convolution of ResNet-20 (square input of side H).
struct ConvShape {
  std::int64_t C, O, H, stride;
};
// Stage 1 (32x32, 16 channels, the stem from 3 channels), the stride-2 entries
// of stages 2 and 3, and their 16x16 / 8x8 bodies.
constexpr ConvShape kShapes[] = {{3, 16, 32, 1},  {16, 16, 32, 1}, {16, 32, 32, 2},
                                 {32, 32, 16, 1}, {32, 64, 16, 2}, {64, 64, 8, 1}};

enum class Pass { forward, backward_data, backward_weights };

const char* pass_name(Pass pass) {
  switch (pass) {
    case Pass::forward:
      return "conv2d_fwd";
    case Pass::backward_data:
      return "conv2d_bwd_data";
    case Pass::backward_weights:
      return "conv2d_bwd_weights";
  }
  return "?";
}

// Every size of one problem.
struct Geometry {
  std::int64_t N, C, O, H, W, P, Q, s;
  Conv2dParams prm;
  Shape x_shape() const { return {N, C, H, W}; }
  Shape w_shape() const { return {O, C, kTaps, kTaps}; }
  Shape y_shape() const { return {N, O, P, Q}; }
  double flops() const {
    return 2.0 * static_cast<double>(N * O * P * Q) * static_cast<double>(C * kTaps * kTaps);
  }
};

Geometry geometry(const ConvShape& shape) {
  Geometry g{};
  g.N = kBatch;
  g.C = shape.C;
  g.O = shape.O;
  g.H = g.W = shape.H;
  g.s = shape.stride;
  g.prm.stride = {shape.stride, shape.stride};
  g.prm.padding = {kPad, kPad};
  g.P = g.prm.out_size(g.H, kTaps, 0);
  g.Q = g.prm.out_size(g.W, kTaps, 1);
  return g;
}

// Inputs and the preallocated output of one pass:
//   forward (a = x, b = w, out = y); backward-data (a = dy, b = w, out = dx);
//   backward-weights (a = x, b = dy, out = dw).
// Activations (x, y, dy, dx) are channels-last, the layout of the kernels'
// contract (ops/cpu/conv2d.cpp); weights are contiguous OIHW.
struct ConvCase : CheckedCase {
  Tensor a, b, out;
};

void run_kernel(Pass pass, const Geometry& g, const ConvCase& k) {
  switch (pass) {
    case Pass::forward:
      backend(Device::cpu()).conv2d_forward(k.a, k.b, Tensor(), g.prm, k.out);
      break;
    case Pass::backward_data:
      backend(Device::cpu()).conv2d_backward_data(k.a, k.b, g.prm, k.out);
      break;
    case Pass::backward_weights:
      backend(Device::cpu()).conv2d_backward_weights(k.a, k.b, g.prm, k.out, Tensor());
      break;
  }
}

// A float64 sum and the sum of its terms' magnitudes (the tolerance scale).
struct Sum {
  double value = 0, magnitude = 0;
  void add(double t) {
    value += t;
    magnitude += std::abs(t);
  }
};

// Input row/column under output row/column p and tap i: p s - pad + i.
std::int64_t input_pos(std::int64_t p, std::int64_t i, std::int64_t s) {
  return p * s - kPad + i;
}

Sum reference_forward(const Geometry& g, const Strided4& x, const Strided4& w, const Index4& y) {
  Sum sum;
  for (std::int64_t c = 0; c < g.C; ++c)
    for (std::int64_t i = 0; i < kTaps; ++i) {
      const std::int64_t h = input_pos(y.h, i, g.s);
      if (h < 0 || h >= g.H) continue;
      for (std::int64_t j = 0; j < kTaps; ++j) {
        const std::int64_t ww = input_pos(y.w, j, g.s);
        if (ww < 0 || ww >= g.W) continue;
        sum.add(x(y.n, c, h, ww) * w(y.c, c, i, j));
      }
    }
  return sum;
}

// dx[n,c,h,w] gathers the outputs (p, q) whose tap (i, j) lands on (h, w):
// p s - pad + i = h, i.e. p = (h + pad - i) / s when that division is exact.
Sum reference_backward_data(const Geometry& g, const Strided4& dy, const Strided4& w,
                            const Index4& dx) {
  Sum sum;
  for (std::int64_t o = 0; o < g.O; ++o)
    for (std::int64_t i = 0; i < kTaps; ++i) {
      const std::int64_t ph = dx.h + kPad - i;
      if (ph < 0 || ph % g.s != 0 || ph / g.s >= g.P) continue;
      for (std::int64_t j = 0; j < kTaps; ++j) {
        const std::int64_t qw = dx.w + kPad - j;
        if (qw < 0 || qw % g.s != 0 || qw / g.s >= g.Q) continue;
        sum.add(dy(dx.n, o, ph / g.s, qw / g.s) * w(o, dx.c, i, j));
      }
    }
  return sum;
}

// dw[o,c,i,j]: Index4's (n, c, h, w) fields hold (o, c, i, j) here.
Sum reference_backward_weights(const Geometry& g, const Strided4& x, const Strided4& dy,
                               const Index4& dw) {
  Sum sum;
  for (std::int64_t n = 0; n < g.N; ++n)
    for (std::int64_t p = 0; p < g.P; ++p) {
      const std::int64_t h = input_pos(p, dw.h, g.s);
      if (h < 0 || h >= g.H) continue;
      for (std::int64_t q = 0; q < g.Q; ++q) {
        const std::int64_t ww = input_pos(q, dw.w, g.s);
        if (ww < 0 || ww >= g.W) continue;
        sum.add(dy(n, dw.n, p, q) * x(n, dw.c, h, ww));
      }
    }
  return sum;
}

ConvCase make_case(Pass pass, const Geometry& g) {
  Generator gen(0xc0417);
  ConvCase k;
  // Kaiming-scaled weights (std sqrt(2 / fan_in)) and unit-variance
  // activations and gradients: the magnitudes of a real training step.
  const double w_std = std::sqrt(2.0 / static_cast<double>(g.C * kTaps * kTaps));
  const Tensor x = randn_in(g.x_shape(), Layout::nhwc, 0, 1, gen);
  const Tensor w = randn(g.w_shape(), 0, w_std, gen);
  const Tensor dy = randn_in(g.y_shape(), Layout::nhwc, 0, 1, gen);
  switch (pass) {
    case Pass::forward:
      k.a = x, k.b = w, k.out = empty_in(g.y_shape(), Layout::nhwc);
      break;
    case Pass::backward_data:
      k.a = dy, k.b = w, k.out = empty_in(g.x_shape(), Layout::nhwc);
      break;
    case Pass::backward_weights:
      k.a = x, k.b = dy, k.out = empty(g.w_shape());
      break;
  }
  k.out.fill_(NAN);
  run_kernel(pass, g, k);

  const Strided4 a(k.a), b(k.b), out(k.out);
  const Shape out_shape = k.out.shape();
  const std::int64_t numel = k.out.numel();
  std::vector<std::int64_t> samples{0, numel - 1};
  while (static_cast<int>(samples.size()) < kSamples)
    samples.push_back(static_cast<std::int64_t>(gen.below(static_cast<std::uint64_t>(numel))));
  Comparison cmp(std::string(pass_name(pass)) + " output", kRtol);
  for (const std::int64_t flat : samples) {
    const Index4 e = unflatten(flat, out_shape);
    const Sum ref = pass == Pass::forward         ? reference_forward(g, a, b, e)
                    : pass == Pass::backward_data ? reference_backward_data(g, a, b, e)
                                                  : reference_backward_weights(g, a, b, e);
    cmp.add(flat, out(e.n, e.c, e.h, e.w), ref.value, ref.magnitude);
  }
  k.check_error = cmp.message();
  return k;
}

void bm_conv(benchmark::State& state, const std::string& name, Pass pass, const ConvShape& shape) {
  const Geometry g = geometry(shape);
  ConvCase* k = prepare<ConvCase>(state, name, [&] { return make_case(pass, g); });
  if (!k) return;
  const Timing t = timed_loop(state, name, [&] { run_kernel(pass, g, *k); });
  set_flop_counters(state, t, g.flops());
}

const bool registered = [] {
  for (Pass pass : {Pass::forward, Pass::backward_data, Pass::backward_weights})
    for (const ConvShape& shape : kShapes) {
      const std::string name = std::string(pass_name(pass)) + "/C" + std::to_string(shape.C) +
                               "_O" + std::to_string(shape.O) + "_H" + std::to_string(shape.H) +
                               "_s" + std::to_string(shape.stride);
      benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) {
        bm_conv(state, name, pass, shape);
      })->Unit(benchmark::kMillisecond);
    }
  return true;
}();

}  // namespace
