// The paper's memory-constrained objective on a network (docs/method.md
// section 5, "Memory and the constrained objective"):
//
//   loss = CE + lambda sum_k relu(kB_k - target_k)^2
//   k in {weights, largest activation, sum of activations} (the targets set)
//
// kB_k come from the network's quantization sites (models::QuantSite):
// quantized tensors through their differentiable bitwidths, float tensors at
// a constant 32 bits. Activation sizes are those of the last forward pass.
// Also the two clipping rules: quantizer gradients to [-d, d] (U3) or
// [-q_min, q_min] (P3) before the update when a target is set, and raw
// parameters into their bounds after it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "models/module.h"

namespace mpq::train {

struct MemoryTargets {
  std::optional<double> weight_kb, act_max_kb, act_sum_kb;
  double lambda = 0.1;
  bool any() const { return weight_kb || act_max_kb || act_sum_kb; }
};

struct MemoryTerms {
  Tensor weight_kb, act_max_kb, act_sum_kb;  // differentiable scalars
  Tensor penalty;                            // sum of the active penalty terms (0 without targets)
};

MemoryTerms memory_terms(const models::Module& net, const MemoryTargets& targets);

// A set target that the current bitwidths exceed: which ("weights",
// "largest activation", "sum of activations"), the size and the target in kB.
struct TargetMiss {
  std::string what;
  double kb = 0, target_kb = 0;
};
// The set targets the current bitwidths exceed (empty: all met), in the order
// weights, largest activation, sum of activations.
std::vector<TargetMiss> missed_targets(const models::Module& net, const MemoryTargets& targets);
// True when every set target is met by the current bitwidths.
bool constraints_met(const models::Module& net, const MemoryTargets& targets);
// "weights 75.6 kB > 70.04 kB (+5.56 kB)", missed targets joined by "; ".
std::string describe_misses(const std::vector<TargetMiss>& misses);

// g <- g + wd p for each parameter with a gradient: L2 weight decay applied
// before the quantizer gradients are clipped, the order the paper gives (docs/method.md section 4)
// ("after weight decay and before the update"); the optimizer then runs
// these parameters with no decay of its own.
void add_l2_to_gradients(const std::vector<Tensor>& params, double weight_decay);
void clip_quantizer_gradients(const models::Module& net);
void clip_quantizer_parameters(const models::Module& net);

}  // namespace mpq::train
