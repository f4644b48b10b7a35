#include "train/mixed_precision.h"

#include <cstdio>

#include "core/autograd.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "ops/shape.h"
#include "quant/memory.h"

namespace mpq::train {

namespace {
// kB of one site (quant::memory_kb), bits from the quantizer or 32.
Tensor site_kb(const models::QuantSite& s, Device device) {
  if (s.quantizer)
    return quant::memory_kb(s.quantizer->bitwidth().to(DType::f32), s.count).reshape({1});
  return full({1}, quant::memory_kb(32.0, s.count), DType::f32, device);
}
}  // namespace

MemoryTerms memory_terms(const models::Module& net, const MemoryTargets& t) {
  std::vector<Tensor> weights, acts;
  const Device dev = net.device();  // the terms live where the quantizers do
  for (const auto& s : net.quant_sites()) {
    if (s.kind == models::QuantSite::Kind::activation) {
      MPQ_CHECK(s.count > 0, "memory_terms: activation '", s.name,
                "' has no size yet (run a forward pass before computing memory)");
      acts.push_back(site_kb(s, dev));
    } else {
      weights.push_back(site_kb(s, dev));
    }
  }
  MemoryTerms m;
  m.weight_kb = weights.empty() ? zeros({}, DType::f32, dev) : sum(concat(weights, 0));
  const Tensor a = acts.empty() ? zeros({1}, DType::f32, dev) : concat(acts, 0);
  m.act_max_kb = max(a);
  m.act_sum_kb = sum(a);
  m.penalty = zeros({}, DType::f32, dev);
  if (t.weight_kb)
    m.penalty = add(m.penalty, quant::memory_penalty(m.weight_kb, *t.weight_kb, t.lambda));
  if (t.act_max_kb)
    m.penalty = add(m.penalty, quant::memory_penalty(m.act_max_kb, *t.act_max_kb, t.lambda));
  if (t.act_sum_kb)
    m.penalty = add(m.penalty, quant::memory_penalty(m.act_sum_kb, *t.act_sum_kb, t.lambda));
  return m;
}

std::vector<TargetMiss> missed_targets(const models::Module& net, const MemoryTargets& t) {
  NoGradGuard ng;
  const MemoryTerms m = memory_terms(net, t);
  std::vector<TargetMiss> out;
  // A small tolerance for float32 rounding of the kB sums.
  auto check = [&out](const char* what, const Tensor& v, const std::optional<double>& target) {
    if (!target) return;
    const double kb = v.item();
    if (!(kb <= *target + 1e-6)) out.push_back({what, kb, *target});
  };
  check("weights", m.weight_kb, t.weight_kb);
  check("largest activation", m.act_max_kb, t.act_max_kb);
  check("sum of activations", m.act_sum_kb, t.act_sum_kb);
  return out;
}

bool constraints_met(const models::Module& net, const MemoryTargets& t) {
  return missed_targets(net, t).empty();
}

std::string describe_misses(const std::vector<TargetMiss>& misses) {
  std::string s;
  char buf[160];
  for (const TargetMiss& m : misses) {
    std::snprintf(buf, sizeof buf, "%s%s %.2f kB > %.2f kB (+%.2f kB)", s.empty() ? "" : "; ",
                  m.what.c_str(), m.kb, m.target_kb, m.kb - m.target_kb);
    s += buf;
  }
  return s;
}

void add_l2_to_gradients(const std::vector<Tensor>& params, double wd) {
  if (wd == 0) return;
  NoGradGuard ng;
  for (const Tensor& p : params) {
    const Tensor g = p.grad();
    if (g.defined()) add_(g, mul(p.detach(), wd));
  }
}

void clip_quantizer_gradients(const models::Module& net) {
  for (const auto& q : net.quantizers()) q->clip_gradients();
}

void clip_quantizer_parameters(const models::Module& net) {
  for (const auto& q : net.quantizers()) q->clip_parameters();
}

}  // namespace mpq::train
