// Memory accounting on a small made-up network with known counts and bits.
#include <numbers>

#include "quant/memory.h"
#include "quant_util.h"

using namespace mpq;
using namespace mpq::quant;
using Catch::Matchers::Contains;

TEST_CASE("memory: weight and activation kB, their gradients and the penalty", "[quant][memory]") {
  // Weights: conv 3x3x16x16 (2304) at 4 bits (U3 d = 0.25, q_max = 1.75: 7 levels -> 3 + 1),
  // bias 16 at 8 bits (U1 b = 8), fc 640 at 2 bits (U2 b = 2).
  Quantizer conv(QuantizerSpec::weights(Parametrization::U3), 0.25, 1.75, DType::f64);
  Quantizer bias(QuantizerSpec::weights(Parametrization::U1), 8.0, 0.01, DType::f64);
  Quantizer fc(QuantizerSpec::weights(Parametrization::U2), 2.0, 0.5, DType::f64);
  REQUIRE(conv.bitwidth().item() == 4);
  const std::vector<QuantizedTensor> w{{&conv, 2304}, {&bias, 16}, {&fc, 640}};
  const double expect_w = (2304 * 4 + 16 * 8 + 640 * 2) / 8.0 / 1024.0;
  Tensor kb = weight_memory_kb(w);
  CHECK(kb.item() == Approx(expect_w));
  // d kB / d q_max of the conv quantizer = 2304/8192 * db/dq_max (STE), b ~ log2(q_max/d + 1) + 1
  kb.backward();
  CHECK(conv.raw("qmax").grad().item() == Approx(2304 / 8192.0 / (0.25 * 8 * std::numbers::ln2)));
  CHECK(bias.raw("b").grad().item() == Approx(16 / 8192.0));
  // b = 2 sits on its lower bound: not clipped, so the gradient still flows.
  CHECK(fc.raw("b").grad().item() == Approx(640 / 8192.0));
  // Activations: 16x32x32 at 4 bits (unsigned U3 d = 0.125, q_max = 1.875) and 32x16x16 at 3 bits.
  Quantizer a1(QuantizerSpec::activations(Parametrization::U3), 0.125, 1.875, DType::f64);
  Quantizer a2(QuantizerSpec::activations(Parametrization::U3), 0.125, 0.875, DType::f64);
  REQUIRE(a1.bitwidth().item() == 4);
  REQUIRE(a2.bitwidth().item() == 3);
  const std::vector<QuantizedTensor> acts{{&a1, 16 * 32 * 32}, {&a2, 32 * 16 * 16}};
  CHECK(activation_memory_kb(acts, ActivationMemory::max).item() == Approx(8.0));  // 16384 * 4 bits
  CHECK(activation_memory_kb(acts, ActivationMemory::sum).item() == Approx(8.0 + 3.0));
  // The max passes its gradient to the largest activation only.
  activation_memory_kb(acts, ActivationMemory::max).backward();
  CHECK(a1.raw("qmax").grad().item() > 0);
  CHECK(a2.raw("qmax").grad().item() == 0.0);
  // Penalty: lambda relu(kB - target)^2, zero below the target.
  CHECK(memory_penalty(scalar_tensor(10.0, DType::f64), 8.0, 0.1).item() == Approx(0.4));
  CHECK(memory_penalty(scalar_tensor(7.0, DType::f64), 8.0, 0.1).item() == 0.0);
  Tensor k = scalar_tensor(10.0, DType::f64);
  k.set_requires_grad(true);
  memory_penalty(k, 8.0, 0.1).backward();
  CHECK(k.grad().item() == Approx(2 * 0.1 * 2.0));
  CHECK_THROWS_WITH(weight_memory_kb({}), Contains("no quantized tensors"));
}

TEST_CASE("memory: the one kB formula, bits * count / 8 / 1024", "[quant][memory]") {
  CHECK(quant::memory_kb(4.0, 16384) == 8.0);  // a 16x32x32 activation at 4 bits
  CHECK(quant::memory_kb(32.0, 1000) == 3.90625);
  Tensor b = scalar_tensor(3.0, DType::f64);
  b.set_requires_grad(true);
  const Tensor kb = quant::memory_kb(b, 8192);
  CHECK(kb.item() == 3.0);
  kb.backward();
  CHECK(b.grad().item() == 1.0);  // d kB / d bits = count / 8192
}
