// Optimizers over parameter groups.
//
// Each group has its own weight decay and a learning-rate scale (lr of the
// group = optimizer lr * lr_scale). Weight decay comes in two styles:
//   l2:        g <- g + wd p                  (added to the gradient; the paper's, PyTorch's SGD)
//   decoupled: p <- p - lr wd p               (applied to the weights; AdamW)
//
// SGD with momentum (PyTorch's formulation):
//   v <- momentum v + g   (v = g on the first step);  p <- p - lr (nesterov ? g + momentum v : v)
// Adam (Kingma & Ba), with bias correction:
//   m <- b1 m + (1 - b1) g,  v <- b2 v + (1 - b2) g^2,
//   p <- p - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
// where t counts the steps in which this parameter had a gradient.
// Parameters without a gradient are skipped. One fused pass per parameter;
// state tensors are allocated on the first step only.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace mpq::train {

enum class WeightDecay { l2, decoupled };

struct ParamGroup {
  std::vector<Tensor> params;
  double weight_decay = 0.0;
  double lr_scale = 1.0;
};

class Optimizer {
 public:
  explicit Optimizer(std::vector<ParamGroup> groups);
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  void zero_grad();
  void set_lr(double lr) { lr_ = lr; }
  double lr() const { return lr_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }
  // Named state tensors for checkpoints: "p<k>.<name>" (k = index over all
  // parameters in group order) and "slots", a uint8 [parameters] mask of the
  // parameters that have state (those that have had a gradient). load_state
  // restores them strictly: the mask must be there and of this optimizer's
  // size, every masked parameter's tensors present with the parameter's shape
  // and dtype, nothing else (a missing momentum would silently restart it,
  // a converted dtype or another optimizer's state hide a mismatched run).
  virtual std::vector<std::pair<std::string, Tensor>> state() const = 0;
  virtual void load_state(const std::vector<std::pair<std::string, Tensor>>& state) = 0;

 protected:
  using StateMap = std::map<std::string, Tensor>;
  // The "slots" mask of state().
  Tensor slots_tensor(const std::vector<bool>& has_state) const;
  // Checks `state` as load_state promises: each masked parameter k has
  // p<k>.<name> for every name in `like_param` (the parameter's shape and
  // dtype) and every name in `scalars` (a float64 scalar); returns the mask.
  std::vector<bool> check_state(const StateMap& state, const std::vector<const char*>& like_param,
                                const std::vector<const char*>& scalars) const;

  std::vector<ParamGroup> groups_;
  std::vector<const Tensor*> flat_;  // every parameter, in group order
  std::vector<std::size_t> group_of_;
  double lr_ = 0.0;
};

struct SgdOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double weight_decay = 0.0;  // used by the single-group constructor
  bool nesterov = false;
  WeightDecay decay = WeightDecay::l2;
};

class Sgd : public Optimizer {
 public:
  Sgd(std::vector<Tensor> params, SgdOptions options);
  Sgd(std::vector<ParamGroup> groups, SgdOptions options);
  void step() override;
  std::vector<std::pair<std::string, Tensor>> state() const override;
  void load_state(const std::vector<std::pair<std::string, Tensor>>& state) override;
  const SgdOptions& options() const { return options_; }

 private:
  SgdOptions options_;
  std::vector<Tensor> velocity_;
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.0;
  WeightDecay decay = WeightDecay::decoupled;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, AdamOptions options);
  Adam(std::vector<ParamGroup> groups, AdamOptions options);
  void step() override;
  std::vector<std::pair<std::string, Tensor>> state() const override;
  void load_state(const std::vector<std::pair<std::string, Tensor>>& state) override;

 private:
  AdamOptions options_;
  std::vector<Tensor> m_, v_;
  // Steps taken per parameter (PyTorch's state['step']): a parameter that
  // first gets a gradient late starts its bias correction at 1.
  std::vector<std::int64_t> steps_;
};

}  // namespace mpq::train
