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

TEST_CASE("cuda quant: uniform quantizer matches the CPU and the oracle", "[cuda][quant]") {
  MPQ_REQUIRE_CUDA();
  using V = std::vector<Tensor>;
  for (DType dt : {DType::f64, DType::f32}) {
    const double tol = dt == DType::f64 ? 1e-12 : 1e-5;
    for (bool is_signed : {true, false}) {
      INFO("dtype " << dtype_name(dt) << ", signed " << is_signed);
      const Tensor x = quant_input({4, 3, 5, 7}, 1, dt);
      const Tensor d = full({}, 0.125, dt), qmax = full({}, 0.875, dt);
      // Against the CPU kernel: values, dL/dx, dL/dd, dL/dq_max.
      check_against_cpu(
          [is_signed](const V& v) { return quant::quantize_uniform(v[0], v[1], v[2], is_signed); },
          {x, d, qmax}, tol, tol);
      // Against the oracle, on the GPU.
      check_against_cpu(
          [is_signed](const V& v) {
            return v[0].device().is_cpu()
                       ? quant::quantize_uniform_composed(v[0], v[1], v[2], is_signed)
                       : quant::quantize_uniform(v[0], v[1], v[2], is_signed);
          },
          {x, d, qmax}, tol, tol);
    }
  }
}

TEST_CASE("cuda quant: power-of-two quantizer matches the CPU and the oracle", "[cuda][quant]") {
  MPQ_REQUIRE_CUDA();
  using V = std::vector<Tensor>;
  for (DType dt : {DType::f64, DType::f32}) {
    const double tol = dt == DType::f64 ? 1e-12 : 1e-5;
    for (bool is_signed : {true, false})
      for (bool with_zero : {true, false}) {
        INFO("dtype " << dtype_name(dt) << ", signed " << is_signed << ", zero " << with_zero);
        const Tensor x = quant_input({6, 50}, 2, dt);
        const Tensor qmin = full({}, 1.0 / 64, dt), qmax = full({}, 0.5, dt);
        check_against_cpu(
            [=](const V& v) { return quant::quantize_pow2(v[0], v[1], v[2], is_signed, with_zero); },
            {x, qmin, qmax}, tol, tol);
        check_against_cpu(
            [=](const V& v) {
              return v[0].device().is_cpu()
                         ? quant::quantize_pow2_composed(v[0], v[1], v[2], is_signed, with_zero)
                         : quant::quantize_pow2(v[0], v[1], v[2], is_signed, with_zero);
            },
            {x, qmin, qmax}, tol, tol);
      }
  }
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
  CHECK(same_bits(q, quant::quantize_uniform(cl, d.to(Device::cpu()), qmax.to(Device::cpu()), false)));
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
