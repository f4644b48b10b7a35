#include "models/module.h"

#include <set>
#include <sstream>

namespace mpq::models {

Module* Module::find(const std::string& path) const {
  const Module* m = this;
  std::size_t at = 0;
  for (;;) {
    const std::size_t dot = path.find('.', at);
    const std::string part = path.substr(at, dot == std::string::npos ? dot : dot - at);
    const Module* next = nullptr;
    for (const auto& [name, child] : m->children_)
      if (name == part) next = child.get();
    if (!next) return nullptr;
    m = next;
    if (dot == std::string::npos) return const_cast<Module*>(m);
    at = dot + 1;
  }
}

std::string join_name(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

Tensor Module::register_parameter(const std::string& name, Tensor t, bool trainable) {
  if (trainable) t.set_requires_grad(true);
  params_.emplace_back(name, t);
  trainable_.push_back(trainable);
  return params_.back().second;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  buffers_.emplace_back(name, t);
  return buffers_.back().second;
}

void Module::set_quantizer(const std::string& name, std::shared_ptr<quant::Quantizer> q) {
  for (auto it = quantizers_.begin(); it != quantizers_.end(); ++it)
    if (it->first == name) {
      if (q)
        it->second = std::move(q);
      else
        quantizers_.erase(it);
      return;
    }
  if (q) quantizers_.emplace_back(name, std::move(q));
}

std::vector<QuantSite> Module::own_quant_sites(const std::string&) const {
  return {};
}

NamedTensors Module::named_parameters(const std::string& prefix) const {
  NamedTensors out;
  for (std::size_t i = 0; i < params_.size(); ++i)
    if (trainable_[i]) out.emplace_back(join_name(prefix, params_[i].first), params_[i].second);
  for (const auto& [qname, q] : quantizers_)
    for (const auto& t : q->parameters()) {
      for (auto n : quant::raw_parameter_names(q->spec().param))
        if (q->raw(n).impl_ptr() == t.impl_ptr())
          out.emplace_back(join_name(prefix, qname + "." + std::string(n)), t);
    }
  for (const auto& [cname, c] : children_) {
    auto sub = c->named_parameters(join_name(prefix, cname));
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers(const std::string& prefix) const {
  NamedTensors out;
  for (const auto& [n, t] : buffers_) out.emplace_back(join_name(prefix, n), t);
  for (const auto& [cname, c] : children_) {
    auto sub = c->named_buffers(join_name(prefix, cname));
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

std::vector<QuantSite> Module::quant_sites(const std::string& prefix) const {
  std::vector<QuantSite> out = own_quant_sites(prefix);
  for (const auto& [cname, c] : children_) {
    auto sub = c->quant_sites(join_name(prefix, cname));
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

std::vector<std::shared_ptr<quant::Quantizer>> Module::quantizers() const {
  std::vector<std::shared_ptr<quant::Quantizer>> out;
  for (const auto& [n, q] : quantizers_) out.push_back(q);
  for (const auto& [cname, c] : children_) {
    auto sub = c->quantizers();
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

std::vector<Tensor> Module::quantizer_parameters() const {
  std::vector<Tensor> out;
  for (const auto& q : quantizers())
    for (const auto& t : q->parameters()) out.push_back(t);
  return out;
}

std::vector<Tensor> Module::model_parameters() const {
  std::set<const TensorImpl*> quant;
  for (const auto& t : quantizer_parameters()) quant.insert(t.impl_ptr().get());
  std::vector<Tensor> out;
  for (const auto& t : parameters())
    if (!quant.count(t.impl_ptr().get())) out.push_back(t);
  return out;
}

std::int64_t Module::num_parameters() const {
  std::int64_t n = 0;
  for (const auto& t : model_parameters()) n += t.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::collect_state(const std::string& prefix, NamedTensors& out) const {
  for (const auto& [n, t] : params_) out.emplace_back(join_name(prefix, n), t);
  for (const auto& [n, t] : buffers_) out.emplace_back(join_name(prefix, n), t);
  for (const auto& [qname, q] : quantizers_)
    for (auto n : quant::raw_parameter_names(q->spec().param))
      out.emplace_back(join_name(prefix, qname + "." + std::string(n)), q->raw(n));
  for (const auto& [cname, c] : children_) c->collect_state(join_name(prefix, cname), out);
}

NamedTensors Module::state_dict() const {
  NamedTensors out;
  collect_state("", out);
  return out;
}

void Module::to(Device device) {
  for (auto& [name, t] : params_) t.move_to_(device);
  for (auto& [name, t] : buffers_) t.move_to_(device);
  for (auto& [name, q] : quantizers_)
    if (q) q->to(device);  // frozen raw parameters (fixed bitwidths) move too
  for (auto& [name, child] : children_) child->to(device);
}

Device Module::device() const {
  if (!params_.empty()) return params_.front().second.device();
  if (!buffers_.empty()) return buffers_.front().second.device();
  for (const auto& [name, child] : children_) {
    const NamedTensors s = child->state_dict();
    if (!s.empty()) return s.front().second.device();
  }
  return Device::cpu();
}

void Module::load_state_dict(const NamedTensors& state) {
  const NamedTensors mine = state_dict();
  std::map<std::string, Tensor> given(state.begin(), state.end());
  std::ostringstream problems;
  for (const auto& [name, dst] : mine) {
    auto it = given.find(name);
    if (it == given.end()) {
      problems << "\n  missing: " << name << " " << shape_str(dst.shape());
      continue;
    }
    const Tensor& src = it->second;
    if (src.shape() != dst.shape() || src.dtype() != dst.dtype())
      problems << "\n  mismatch: " << name << " is " << shape_str(src.shape()) << " "
               << dtype_name(src.dtype()) << " in the state, " << shape_str(dst.shape()) << " "
               << dtype_name(dst.dtype()) << " in the model";
    given.erase(it);
  }
  for (const auto& [name, t] : given)
    problems << "\n  unexpected: " << name << " " << shape_str(t.shape());
  MPQ_CHECK(problems.str().empty(),
            "load_state_dict: the state does not fit the model:", problems.str());
  std::map<std::string, Tensor> src(state.begin(), state.end());
  for (const auto& [name, dst] : mine) {
    Tensor d = dst;
    d.copy_(src.at(name).detach());
  }
}

}  // namespace mpq::models
