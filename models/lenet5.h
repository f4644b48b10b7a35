// LeNet-5 for 28x28 inputs (LeCun et al. 1998, with max pooling and ReLU):
// conv 5x5 (6, pad 2), ReLU, max pool 2; conv 5x5 (16), ReLU, max pool 2;
// linear 400 -> 120, ReLU, 120 -> 84, ReLU, 84 -> classes. 61,706 parameters
// for 10 classes. Quantized: every conv and linear layer and the 4 ReLUs.
#pragma once

#include "models/quantized.h"

namespace mpq::models {

struct LeNet5Options {
  std::int64_t in_channels = 1, num_classes = 10;
  QuantConfig quant;
  std::uint64_t seed = 0;
};

class LeNet5 : public Module {
 public:
  explicit LeNet5(const LeNet5Options& o);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<QConv2d> conv1_, conv2_;
  std::shared_ptr<QLinear> fc1_, fc2_, fc3_;
  std::shared_ptr<ActQuant> act_[4];
};

}  // namespace mpq::models
