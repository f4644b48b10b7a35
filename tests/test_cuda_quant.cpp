// The fused quantizers on CUDA against the CPU kernels and the composed
// oracle (docs/method.md's formulas built from elementary ops): values, dL/dx and
// the parameter gradients, both dtypes, signed and unsigned, channels-last
// input, NaN, and bit-identical repeats (the deterministic reduction). Skipped
// (reported by ctest) without a GPU.
#include "cuda_util.h"

#include <cmath>

#include "core/layout.h"
#include "quant/composed.h"
#include "quant/quantize_pow2.h"
#include "quant/quantize_uniform.h"
#include "quant/quantizer.h"

using namespace mpq;
using namespace mpq::test;

namespace {

// x spread over and beyond the quantizer's range, with exact ties at d/2 steps.
Tensor quant_input(const Shape& s, std::uint64_t seed, DType dt) {
  Tensor x = mul(rand_f64(s, seed, -1.5, 1.5), 1.0);
  auto v = x.to_vector<double>();
  for (std::size_t i = 0; i < v.size(); i += 7) v[i] = 0.125 * std::round(v[i] * 8.0) + 0.0625;
  return from_vector<double>(v, s).to(dt);
}

}  // namespace

// Values and all gradients of both quantizers against the CPU (and, through
// it, the composed oracle), signed and unsigned, with and without zero, in
// float64 and float32, with exact repeats: the op case list
// (tests/cases/quantize.cpp) run on every backend by tests/test_op_cases.cpp.
TEST_CASE("cuda quant: the power-of-two rounding point rounds as on the CPU", "[cuda][quant]") {
  MPQ_REQUIRE_CUDA();
  // The sqrt(2) mantissa boundary rounds as on the CPU.
  const Tensor edge = from_vector<float>({0.70710677f, 0.70710683f, 1.4142135f, 1.4142137f}, {4});
  const Tensor lo = full({}, 1.0 / 256), hi = full({}, 4.0);
  CHECK(same_bits(quant::quantize_pow2(edge.to(kGpu), lo.to(kGpu), hi.to(kGpu), true, true),
                  quant::quantize_pow2(edge, lo, hi, true, true)));
}

TEST_CASE("cuda quant: layouts, NaN, large inputs and exact repeats", "[cuda][quant]") {
  MPQ_REQUIRE_CUDA();
  const Tensor d = full({}, 0.0625, DType::f32, kGpu), qmax = full({}, 1.0, DType::f32, kGpu);
  // Channels-last activations stay channels-last; values as on the CPU.
  const Tensor cl = to_channels_last(rand_f32({2, 8, 5, 5}, 3, -2, 2));
  const Tensor q = quant::quantize_uniform(cl.to(kGpu), d, qmax, false);
  CHECK(is_channels_last(q));
  CHECK(same_bits(q,
                  quant::quantize_uniform(cl, d.to(Device::cpu()), qmax.to(Device::cpu()), false)));
  // NaN stays NaN.
  const Tensor nan = from_vector<float>({NAN, 0.3f}, {2}).to(kGpu);
  const auto v = quant::quantize_uniform(nan, d, qmax, true).to_vector<float>();
  CHECK(std::isnan(v[0]));
  CHECK(v[1] == 0.3125f);
  // A tensor of many chunks: the parameter gradients repeat bit for bit and
  // match the CPU's to float rounding.
  const Tensor big = rand_f32({1 << 20}, 4, -2, 2);
  auto grads = [&](const Tensor& x) {
    Tensor dd = d.to(x.device()).detach().set_requires_grad(true);
    Tensor qq = qmax.to(x.device()).detach().set_requires_grad(true);
    sum(quant::quantize_uniform(x, dd, qq, true)).backward();
    return std::pair<Tensor, Tensor>{dd.grad(), qq.grad()};
  };
  const auto [g1d, g1q] = grads(big.to(kGpu));
  const auto [g2d, g2q] = grads(big.to(kGpu));
  CHECK(same_bits(g1d, g2d));
  CHECK(same_bits(g1q, g2q));
  const auto [gcd, gcq] = grads(big);
  CHECK_CLOSE(g1d.to(Device::cpu()), gcd, 1e-2, 1e-5);
  CHECK_CLOSE(g1q.to(Device::cpu()), gcq, 1e-2, 1e-5);
}

TEST_CASE("cuda quant: Quantizer::to moves trained and frozen parameters in place",
          "[cuda][quant]") {
  MPQ_REQUIRE_CUDA();
  const auto spec = quant::QuantizerSpec::activations(quant::Parametrization::U3);
  quant::Quantizer q = quant::Quantizer::for_activations(spec, 4);
  q.set_trainable("qmax", false);    // a frozen parameter must move too
  const Tensor handle = q.raw("d");  // shares storage with the quantizer's own
  const Tensor x = quant_input({2, 3, 4, 5}, 3, DType::f32);
  const Tensor on_cpu = q.forward(x);
  const double bits_cpu = q.bitwidth().item();
  q.to(kGpu);
  CHECK(q.device() == kGpu);
  CHECK(q.raw("qmax").device() == kGpu);
  CHECK(handle.device() == kGpu);  // the handle an optimizer holds sees the move
  CHECK(same_bits(q.forward(x.to(kGpu)).to(Device::cpu()), on_cpu));
  CHECK(q.bitwidth().to(Device::cpu()).item() == bits_cpu);
  q.to(Device::cpu());
  CHECK(q.device().is_cpu());
  CHECK(same_bits(q.forward(x), on_cpu));
}
