// Batch-norm cases: training (batch statistics, affine) on NCHW and
// channels-last inputs, inference with fixed running statistics, and
// ResNet-20's widest activation for the benchmark. The running statistics are
// made inside the case (they are state, not differentiable inputs).
#include "ops/batch_norm.h"
#include "core/layout.h"
#include "tests/cases/op_case.h"

namespace mpq::cases {

namespace {

OpCase bn(Shape x, bool training, bool channels_last, bool perf = false) {
  OpCase c;
  c.op = "batch_norm2d";
  c.name = cat("x", shape_str(x), (training ? " training" : " inference"),
               (channels_last ? " channels-last" : ""));
  const std::int64_t C = x[1];
  c.make_inputs = [=](std::uint64_t s) {
    return Inputs{uniform(x, s, -2, 2), uniform({C}, s + 1, 0.5, 1.5), uniform({C}, s + 2)};
  };
  c.run = [=](const Inputs& in) {
    const Tensor& xin = in[0];
    const Tensor xl = channels_last ? to_channels_last(xin) : xin;
    Tensor rm = full({C}, 0.1, xin.dtype(), xin.device());
    Tensor rv = full({C}, 1.3, xin.dtype(), xin.device());
    return batch_norm2d(xl, in[1], in[2], rm, rv, training);
  };
  c.perf = perf;
  c.flops = 8.0 * static_cast<double>(numel_of(x));  // statistics, normalise, affine
  c.bytes = 4.0 * 2 * static_cast<double>(numel_of(x));
  if (perf) c.f32_atol = 1e-4;
  return c;
}

}  // namespace

std::vector<OpCase> batch_norm_cases() {
  return {bn({3, 2, 3, 4}, true, false), bn({3, 2, 3, 4}, true, true),
          bn({2, 3, 2, 2}, false, false), bn({128, 16, 32, 32}, true, true, true)};
}

}  // namespace mpq::cases
