// Stochastic gradient descent with momentum (PyTorch's formulation).
//
//   g <- grad + weight_decay * p            (L2 decay, added to the gradient)
//   v <- momentum * v + g                   (v starts as g on the first step)
//   p <- p - lr * (nesterov ? g + momentum * v : v)
// Parameters without a gradient are skipped. One fused pass per parameter,
// no allocation after the first step.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace mpq::train {

struct SgdOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

class Sgd {
 public:
  Sgd(std::vector<Tensor> params, SgdOptions options);
  void step();
  void zero_grad();
  void set_lr(double lr) { options_.lr = lr; }
  const SgdOptions& options() const { return options_; }
  const std::vector<Tensor>& momentum_buffers() const { return velocity_; }

 private:
  std::vector<Tensor> params_;
  std::vector<Tensor> velocity_;
  SgdOptions options_;
};

}  // namespace mpq::train
