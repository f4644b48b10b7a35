#include "models/quantized.h"

#include "core/autograd.h"
#include "ops/conv2d.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"

namespace mpq::models {

using quant::Quantizer;
using quant::QuantizerSpec;

QuantChoice QuantConfig::weight_choice(const std::string& layer) const {
  auto it = overrides.find(layer);
  return it != overrides.end() ? it->second : weights;
}

QuantChoice QuantConfig::activation_choice(const std::string& layer) const {
  auto it = overrides.find(layer);
  return it != overrides.end() ? it->second : activations;
}

QuantConfig QuantConfig::learned(quant::Parametrization p, double wbits, double abits) {
  QuantConfig c;
  c.weights = {QuantMode::learned, p, wbits};
  c.activations = {QuantMode::learned, p, abits};
  return c;
}

QuantConfig QuantConfig::fixed(double wbits, double abits, bool power_of_two) {
  const auto p = power_of_two ? quant::Parametrization::P1 : quant::Parametrization::U1;
  QuantConfig c;
  c.weights = {QuantMode::fixed, p, wbits};
  c.activations = {QuantMode::fixed, p, abits};
  return c;
}

std::shared_ptr<Quantizer> make_quantizer(const QuantChoice& c, bool activation, const Tensor& w) {
  if (c.mode == QuantMode::none) return nullptr;
  const QuantizerSpec spec =
      activation ? QuantizerSpec::activations(c.param) : QuantizerSpec::weights(c.param);
  const Tensor src = activation ? Tensor() : w;
  switch (c.mode) {
    case QuantMode::learned:
      return std::make_shared<Quantizer>(activation ? Quantizer::for_activations(spec, c.bits)
                                                    : Quantizer::for_weights(spec, w, c.bits));
    case QuantMode::fixed:
      return std::make_shared<Quantizer>(quant::make_fixed_quantizer(spec, c.bits, src));
    case QuantMode::learn_qmax:
      return std::make_shared<Quantizer>(quant::make_learn_qmax_quantizer(spec, c.bits, src));
    case QuantMode::none:
      break;
  }
  return nullptr;
}

namespace {
// Moves a fresh quantizer's raw values into the existing one, so that
// optimizers holding its parameters keep updating the live quantizer.
void reinitialize(std::shared_ptr<Quantizer>& current, const std::shared_ptr<Quantizer>& fresh) {
  if (!current || !fresh) {
    current = fresh;
    return;
  }
  NoGradGuard ng;
  for (auto n : quant::raw_parameter_names(current->spec().param)) {
    Tensor raw = current->raw(n);
    raw.copy_(fresh->raw(n).detach());
  }
}

// Weight and bias sites of a conv or linear layer.
std::vector<QuantSite> weight_sites(const std::string& prefix, const Tensor& w, const Quantizer* wq,
                                    const Tensor& b, const Quantizer* bq) {
  std::vector<QuantSite> s{{join_name(prefix, "weight"), QuantSite::Kind::weight, wq, w.numel()}};
  if (b.defined()) s.push_back({join_name(prefix, "bias"), QuantSite::Kind::bias, bq, b.numel()});
  return s;
}
}  // namespace

QConv2d::QConv2d(const Conv2dOptions& o, const QuantChoice& q, Generator& gen)
    : Conv2d(o, gen), choice(q) {
  init_quantizers_from_weights();
}

void QConv2d::init_quantizers_from_weights() {
  reinitialize(weight_q, make_quantizer(choice, false, weight.detach()));
  if (bias.defined()) reinitialize(bias_q, make_quantizer(choice, false, bias.detach()));
  set_quantizer("weight_q", weight_q);
  set_quantizer("bias_q", bias_q);
}

Tensor QConv2d::effective_weight() const {
  return weight_q && enabled ? weight_q->forward(weight) : weight;
}

Tensor QConv2d::effective_bias() const {
  return bias_q && enabled ? bias_q->forward(bias) : bias;
}

std::vector<QuantSite> QConv2d::own_quant_sites(const std::string& prefix) const {
  return weight_sites(prefix, weight, weight_q.get(), bias, bias_q.get());
}

QLinear::QLinear(std::int64_t in, std::int64_t out, bool with_bias, const QuantChoice& q,
                 Generator& gen)
    : Linear(in, out, with_bias, gen), choice(q) {
  init_quantizers_from_weights();
}

void QLinear::init_quantizers_from_weights() {
  reinitialize(weight_q, make_quantizer(choice, false, weight.detach()));
  if (bias.defined()) reinitialize(bias_q, make_quantizer(choice, false, bias.detach()));
  set_quantizer("weight_q", weight_q);
  set_quantizer("bias_q", bias_q);
}

Tensor QLinear::forward(const Tensor& x) {
  const Tensor w = weight_q && enabled ? weight_q->forward(weight) : weight;
  const Tensor b = bias_q && enabled ? bias_q->forward(bias) : bias;
  return linear(x, w, b);
}

std::vector<QuantSite> QLinear::own_quant_sites(const std::string& prefix) const {
  return weight_sites(prefix, weight, weight_q.get(), bias, bias_q.get());
}

ActQuant::ActQuant(const QuantChoice& c, bool six)
    : q(make_quantizer(c, true, Tensor())), relu6(six) {
  set_quantizer("q", q);
}

Tensor ActQuant::forward(const Tensor& x) {
  per_sample = x.dim() > 0 && x.shape()[0] > 0 ? x.numel() / x.shape()[0] : 0;
  if (q && enabled) {
    Tensor y = q->forward(x);
    if (observer) observer(y);
    return y;
  }
  return relu6 ? clamp(x, 0.0, 6.0) : relu(x);
}

std::vector<QuantSite> ActQuant::own_quant_sites(const std::string& prefix) const {
  return {{prefix, QuantSite::Kind::activation, q.get(), per_sample}};
}

void set_quantization_enabled(Module& m, bool on) {
  if (auto* c = dynamic_cast<QConv2d*>(&m)) c->enabled = on;
  if (auto* l = dynamic_cast<QLinear*>(&m)) l->enabled = on;
  if (auto* a = dynamic_cast<ActQuant*>(&m)) a->enabled = on;
  for (auto& [name, child] : m.named_children()) set_quantization_enabled(*child, on);
}

void init_quantizers_from_weights(Module& m) {
  if (auto* c = dynamic_cast<QConv2d*>(&m)) c->init_quantizers_from_weights();
  if (auto* l = dynamic_cast<QLinear*>(&m)) l->init_quantizers_from_weights();
  for (auto& [name, child] : m.named_children()) init_quantizers_from_weights(*child);
}

}  // namespace mpq::models
