// Quantized layers (docs/method.md section 6: quantize every conv, the FC weights and bias,
// and every ReLU's output; inputs, pooled features and logits stay float).
//
//   QConv2d / QLinear: the weight and the bias each pass through their own
//                      (signed) quantizer before the float op.
//   ActQuant:          an unsigned quantizer in place of ReLU (or ReLU6): it
//                      clips below at 0 and above at q_max itself.
// Each quantizer is chosen per network and per layer: float (none), learned
// with any of U1..P3, fixed bitwidth, or "learn q_max only".
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "models/layers.h"

namespace mpq::models {

enum class QuantMode { none, learned, fixed, learn_qmax };

struct QuantChoice {
  QuantMode mode = QuantMode::none;
  quant::Parametrization param = quant::Parametrization::U3;
  double bits = 4;  // initial bits (learned) or the bitwidth (fixed, learn q_max only)
};

struct QuantConfig {
  QuantChoice weights, activations;
  // Per-layer choices, keyed by the layer's name (e.g. "layer1.0.conv1", "layer1.0.act1").
  std::map<std::string, QuantChoice> overrides;
  QuantChoice weight_choice(const std::string& layer) const;
  QuantChoice activation_choice(const std::string& layer) const;

  static QuantConfig float_network() { return {}; }
  // Every weight and activation learned with `param` from `bits`.
  static QuantConfig learned(quant::Parametrization param, double wbits = 4, double abits = 4);
  static QuantConfig fixed(double wbits, double abits, bool power_of_two = false);
};

// The quantizer for one choice (null for QuantMode::none). Weight quantizers
// are signed and initialised from `w` by the paper's rule; activation
// quantizers are unsigned with the zero level.
std::shared_ptr<quant::Quantizer> make_quantizer(const QuantChoice& c, bool activation,
                                                 const Tensor& w);

// A Conv2d (same parameter names) whose weight and bias are quantized.
class QConv2d : public Conv2d {
 public:
  QConv2d(const Conv2dOptions& o, const QuantChoice& q, Generator& gen);
  Tensor effective_weight() const override;
  Tensor effective_bias() const override;
  // Re-initialises the weight and bias quantizers from the current weights
  // (the paper's start from a trained float network).
  void init_quantizers_from_weights();
  std::shared_ptr<quant::Quantizer> weight_q, bias_q;
  QuantChoice choice;
  bool enabled = true;

 protected:
  std::vector<QuantSite> own_quant_sites(const std::string& prefix) const override;
};

class QLinear : public Linear {
 public:
  QLinear(std::int64_t in, std::int64_t out, bool bias, const QuantChoice& q, Generator& gen);
  Tensor forward(const Tensor& x) override;
  void init_quantizers_from_weights();
  std::shared_ptr<quant::Quantizer> weight_q, bias_q;
  QuantChoice choice;
  bool enabled = true;

 protected:
  std::vector<QuantSite> own_quant_sites(const std::string& prefix) const override;
};

class ActQuant : public Module {
 public:
  // relu6: the float fallback is ReLU6 instead of ReLU.
  ActQuant(const QuantChoice& q, bool relu6 = false);
  Tensor forward(const Tensor& x) override;
  // True when forward is a plain ReLU (no quantizer active, not ReLU6).
  bool is_relu() const { return !(q && enabled) && !relu6; }
  std::shared_ptr<quant::Quantizer> q;
  bool relu6;
  bool enabled = true;
  std::int64_t per_sample = 0;  // C*H*W of the last input
  // Called with every quantized output (not the float fallback): lets a
  // program look at the activations, e.g. `mpq infer --compare` against the
  // integer engine.
  std::function<void(const Tensor&)> observer;

 protected:
  std::vector<QuantSite> own_quant_sites(const std::string& prefix) const override;
};

// Re-initialises every weight quantizer of the network from its weights.
void init_quantizers_from_weights(Module& m);
// Turns every quantizer of the network off (float weights, ReLU/ReLU6) or back on.
void set_quantization_enabled(Module& m, bool enabled);

}  // namespace mpq::models
