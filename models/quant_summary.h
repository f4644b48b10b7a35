// The network-level view of all quantizers: one row per quantized (or
// quantizable) tensor with its parametrization, effective parameters,
// bitwidth (32 for float tensors), element count and kB, and the totals the
// paper reports: weight kB, the largest activation and the sum of all
// activations (per sample). Activation counts come from the last forward.
#pragma once

#include <string>
#include <vector>

#include "models/module.h"

namespace mpq::models {

struct QuantRow {
  std::string name, kind, param;  // param: "U3", ..., or "float"
  double d, qmax, qmin, bits;     // NaN where they do not apply
  std::int64_t count;
  double kb;
};

struct QuantSummary {
  std::vector<QuantRow> rows;
  std::int64_t weight_count = 0, activation_count = 0, max_activation_count = 0;
  int activation_layers = 0;
  double weight_kb = 0, max_activation_kb = 0, sum_activation_kb = 0, mean_weight_bits = 0;
};

QuantSummary quant_summary(const Module& m);
std::string format_quant_summary(const QuantSummary& s, bool per_layer = true);

}  // namespace mpq::models
