#include "train/optimizer.h"

#include <cmath>
#include <map>
#include <set>

#include "core/backend.h"

namespace mpq::train {

namespace {
std::map<std::string, Tensor> by_name(const std::vector<std::pair<std::string, Tensor>>& state) {
  std::map<std::string, Tensor> out;
  for (const auto& [k, v] : state)
    MPQ_CHECK(out.emplace(k, v).second, "optimizer state: '", k, "' appears twice");
  return out;
}

// "p<k>.<name>", built by appending (GCC 12 warns falsely on "p" + std::string).
std::string state_key(std::size_t k, const char* name) {
  std::string key = "p";
  key += std::to_string(k);
  key += '.';
  key += name;
  return key;
}

// A copy of a checked state tensor on the parameter's device.
Tensor restore(const std::map<std::string, Tensor>& state, const std::string& key,
               const Tensor& like) {
  return state.at(key).to(like.device()).contiguous().clone().detach();
}
}  // namespace

Optimizer::Optimizer(std::vector<ParamGroup> groups) : groups_(std::move(groups)) {
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    MPQ_CHECK(groups_[g].weight_decay >= 0 && groups_[g].lr_scale >= 0, "optimizer: group ", g,
              " has a negative weight decay or lr scale");
    for (const Tensor& p : groups_[g].params) {
      MPQ_CHECK(p.is_leaf() && p.requires_grad() && p.is_contiguous(),
                "optimizer: parameters must be contiguous leaf tensors with requires_grad");
      flat_.push_back(&p);
      group_of_.push_back(g);
    }
  }
}

Tensor Optimizer::slots_tensor(const std::vector<bool>& has_state) const {
  std::vector<std::uint8_t> mask(has_state.begin(), has_state.end());
  return from_vector<std::uint8_t>(mask, {static_cast<std::int64_t>(mask.size())});
}

std::vector<bool> Optimizer::check_state(const StateMap& state,
                                         const std::vector<const char*>& like_param,
                                         const std::vector<const char*>& scalars) const {
  const auto p = static_cast<std::int64_t>(flat_.size());
  auto slots = state.find("slots");
  MPQ_CHECK(slots != state.end(),
            "optimizer state has no 'slots' mask (not written by this "
            "version of mpq's optimizers)");
  MPQ_CHECK(slots->second.dtype() == DType::u8 && slots->second.shape() == Shape{p},
            "optimizer state 'slots' is ", dtype_name(slots->second.dtype()), " ",
            shape_str(slots->second.shape()), ", expected uint8 [", p,
            "] (the state of another network or optimizer?)");
  const std::vector<std::uint8_t> mask = slots->second.to_vector<std::uint8_t>();
  std::vector<bool> has(flat_.size());
  std::set<std::string> expected{"slots"};
  // The entry `key` must be there; returns it.
  auto entry = [&](std::size_t k, const char* name) -> const Tensor& {
    const std::string key = state_key(k, name);
    auto it = state.find(key);
    MPQ_CHECK(it != state.end(), "optimizer state '", key, "' is missing");
    expected.insert(key);
    return it->second;
  };
  for (std::size_t k = 0; k < flat_.size(); ++k) {
    MPQ_CHECK(mask[k] <= 1, "optimizer state 'slots' holds ", int(mask[k]), " (expected 0 or 1)");
    has[k] = mask[k] == 1;
    if (!has[k]) continue;
    const Tensor& like = *flat_[k];
    for (const char* name : like_param) {
      const Tensor& t = entry(k, name);
      MPQ_CHECK(t.shape() == like.shape() && t.dtype() == like.dtype(), "optimizer state '",
                state_key(k, name), "' is ", dtype_name(t.dtype()), " ", shape_str(t.shape()),
                ", the parameter ", dtype_name(like.dtype()), " ", shape_str(like.shape()));
    }
    for (const char* name : scalars) {
      const Tensor& t = entry(k, name);
      MPQ_CHECK(t.dtype() == DType::f64 && t.dim() == 0, "optimizer state '", state_key(k, name),
                "' must be a float64 scalar");
    }
  }
  for (const auto& [key, t] : state)
    MPQ_CHECK(expected.count(key), "optimizer state has the unexpected '", key, "'");
  return has;
}

void Optimizer::zero_grad() {
  for (const Tensor* p : flat_) p->zero_grad();
}

Sgd::Sgd(std::vector<Tensor> params, SgdOptions o)
    : Sgd(std::vector<ParamGroup>{{std::move(params), o.weight_decay, 1.0}}, o) {}

Sgd::Sgd(std::vector<ParamGroup> groups, SgdOptions o)
    : Optimizer(std::move(groups)), options_(o), velocity_(flat_.size()) {
  MPQ_CHECK(o.lr >= 0, "Sgd: negative learning rate ", o.lr);
  MPQ_CHECK(o.momentum >= 0 && o.momentum < 1, "Sgd: momentum ", o.momentum, " outside [0, 1)");
  MPQ_CHECK(!o.nesterov || o.momentum > 0, "Sgd: Nesterov needs a positive momentum");
  lr_ = o.lr;
}

void Sgd::step() {
  const double mom = options_.momentum;
  const bool nesterov = options_.nesterov, decoupled = options_.decay == WeightDecay::decoupled;
  for (std::size_t k = 0; k < flat_.size(); ++k) {
    const Tensor& p = *flat_[k];
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    const ParamGroup& group = groups_[group_of_[k]];
    const double lr = lr_ * group.lr_scale, wd = group.weight_decay;
    const bool first = mom > 0 && !velocity_[k].defined();
    if (first) velocity_[k] = zeros_like(p);
    if (mom > 0) velocity_[k].move_to_(p.device());  // state follows a moved parameter
    check_same_device("Sgd::step", {&p, &g, &velocity_[k]});
    MPQ_KERNEL(p.device(), sgd_update)
    (p, g, mom > 0 ? velocity_[k] : Tensor(), first, lr, mom, decoupled ? 0 : wd,
     decoupled ? 1 - lr * wd : 1, nesterov);
  }
}

std::vector<std::pair<std::string, Tensor>> Sgd::state() const {
  std::vector<std::pair<std::string, Tensor>> out;
  std::vector<bool> has(velocity_.size());
  for (std::size_t k = 0; k < velocity_.size(); ++k) {
    has[k] = velocity_[k].defined();
    if (has[k]) out.emplace_back(state_key(k, "momentum"), velocity_[k]);
  }
  out.emplace_back("slots", slots_tensor(has));
  return out;
}

void Sgd::load_state(const std::vector<std::pair<std::string, Tensor>>& state) {
  const auto s = by_name(state);
  const std::vector<bool> has = check_state(s, {"momentum"}, {});
  for (std::size_t k = 0; k < flat_.size(); ++k)
    velocity_[k] = has[k] ? restore(s, state_key(k, "momentum"), *flat_[k]) : Tensor();
}

Adam::Adam(std::vector<Tensor> params, AdamOptions o)
    : Adam(std::vector<ParamGroup>{{std::move(params), o.weight_decay, 1.0}}, o) {}

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions o)
    : Optimizer(std::move(groups)),
      options_(o),
      m_(flat_.size()),
      v_(flat_.size()),
      steps_(flat_.size(), 0) {
  MPQ_CHECK(o.lr >= 0 && o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1 && o.eps > 0,
            "Adam: invalid options (lr ", o.lr, ", betas ", o.beta1, ", ", o.beta2, ", eps ", o.eps,
            ")");
  lr_ = o.lr;
}

void Adam::step() {
  const double b1 = options_.beta1, b2 = options_.beta2, eps = options_.eps;
  const bool decoupled = options_.decay == WeightDecay::decoupled;
  for (std::size_t k = 0; k < flat_.size(); ++k) {
    const Tensor& p = *flat_[k];
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    const double t = static_cast<double>(++steps_[k]);
    const double c1 = 1 - std::pow(b1, t), c2 = 1 - std::pow(b2, t);
    const ParamGroup& group = groups_[group_of_[k]];
    const double lr = lr_ * group.lr_scale, wd = group.weight_decay;
    if (!m_[k].defined()) {
      m_[k] = zeros_like(p);
      v_[k] = zeros_like(p);
    }
    m_[k].move_to_(p.device());  // state follows a moved parameter
    v_[k].move_to_(p.device());
    check_same_device("Adam::step", {&p, &g, &m_[k], &v_[k]});
    MPQ_KERNEL(p.device(), adam_update)
    (p, g, m_[k], v_[k], b1, b2, eps, c1, c2, lr, decoupled ? 0.0 : wd,
     decoupled ? 1 - lr * wd : 1.0);
  }
}

std::vector<std::pair<std::string, Tensor>> Adam::state() const {
  std::vector<std::pair<std::string, Tensor>> out;
  std::vector<bool> has(m_.size());
  for (std::size_t k = 0; k < m_.size(); ++k) {
    // The moments are created by a parameter's first step, with its count.
    has[k] = m_[k].defined();
    if (!has[k]) continue;
    out.emplace_back(state_key(k, "exp_avg"), m_[k]);
    out.emplace_back(state_key(k, "exp_avg_sq"), v_[k]);
    out.emplace_back(state_key(k, "step"),
                     scalar_tensor(static_cast<double>(steps_[k]), DType::f64));
  }
  out.emplace_back("slots", slots_tensor(has));
  return out;
}

void Adam::load_state(const std::vector<std::pair<std::string, Tensor>>& state) {
  const auto s = by_name(state);
  const std::vector<bool> has = check_state(s, {"exp_avg", "exp_avg_sq"}, {"step"});
  // Every count is checked before anything is restored: a refused state leaves this one as it was.
  std::vector<std::int64_t> steps(flat_.size(), 0);
  for (std::size_t k = 0; k < flat_.size(); ++k) {
    if (!has[k]) continue;
    const double step = s.at(state_key(k, "step")).item();
    MPQ_CHECK(step >= 1 && step <= 9.0e15 && step == std::floor(step), "optimizer state '",
              state_key(k, "step"), "' is ", step, ", not a step count");
    steps[k] = static_cast<std::int64_t>(step);
  }
  for (std::size_t k = 0; k < flat_.size(); ++k) {
    m_[k] = has[k] ? restore(s, state_key(k, "exp_avg"), *flat_[k]) : Tensor();
    v_[k] = has[k] ? restore(s, state_key(k, "exp_avg_sq"), *flat_[k]) : Tensor();
  }
  steps_ = std::move(steps);
}

}  // namespace mpq::train
