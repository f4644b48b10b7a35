// Memory of a quantized network, differentiable in the raw quantizer
// parameters through the inferred bitwidths (docs/method.md section 5,
// "Memory and the constrained objective"). Sizes in kB = bits * count / 8 / 1024.
//
//   weights:     sum_i count_i * b_i                 (each weight and bias tensor)
//   activations: max_i or sum_i (C*H*W)_i * b_i      (per sample)
//   penalty:     lambda * relu(kB - target)^2
#pragma once

#include <vector>

#include "quant/quantizer.h"

namespace mpq::quant {

// The one kB formula of mpq (docs/method.md section 5): `count` values
// stored at `bits` bits take bits * count / 8 / 1024 kB. Training's penalty,
// the summaries and the 'auto' targets all use it.
inline double memory_kb(double bits, std::int64_t count) {
  return bits * (static_cast<double>(count) / 8192.0);
}
// The same, differentiable in a bitwidth tensor.
Tensor memory_kb(const Tensor& bits, std::int64_t count);

struct QuantizedTensor {
  const Quantizer* quantizer;
  std::int64_t count;  // elements (weights) or C*H*W (one sample's activation)
};

enum class ActivationMemory { max, sum };

Tensor weight_memory_kb(const std::vector<QuantizedTensor>& tensors);
Tensor activation_memory_kb(const std::vector<QuantizedTensor>& activations,
                            ActivationMemory reduction);
Tensor memory_penalty(const Tensor& kb, double target_kb, double lambda = 0.1);

}  // namespace mpq::quant
