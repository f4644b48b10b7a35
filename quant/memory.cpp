#include "quant/memory.h"

#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "ops/shape.h"

namespace mpq::quant {

Tensor memory_kb(const Tensor& bits, std::int64_t count) {
  return mul(bits, memory_kb(1.0, count));
}

namespace {
// kB of each tensor, as a [n] vector.
Tensor sizes_kb(const std::vector<QuantizedTensor>& tensors, const char* op) {
  MPQ_CHECK(!tensors.empty(), op, ": no quantized tensors given");
  std::vector<Tensor> kb;
  for (const auto& t : tensors) {
    MPQ_CHECK(t.quantizer != nullptr && t.count >= 0, op,
              ": invalid entry (null quantizer or negative count)");
    kb.push_back(memory_kb(t.quantizer->bitwidth(), t.count).reshape({1}));
  }
  return concat(kb, 0);
}
}  // namespace

Tensor weight_memory_kb(const std::vector<QuantizedTensor>& tensors) {
  return sum(sizes_kb(tensors, "weight_memory_kb"));
}

Tensor activation_memory_kb(const std::vector<QuantizedTensor>& activations,
                            ActivationMemory reduction) {
  const Tensor kb = sizes_kb(activations, "activation_memory_kb");
  return reduction == ActivationMemory::max ? max(kb) : sum(kb);
}

Tensor memory_penalty(const Tensor& kb, double target_kb, double lambda) {
  MPQ_CHECK(target_kb >= 0 && lambda >= 0, "memory_penalty: target ", target_kb, " kB and lambda ",
            lambda, " must be non-negative");
  return mul(pow(relu(add(kb, -target_kb)), 2.0), lambda);
}

}  // namespace mpq::quant
