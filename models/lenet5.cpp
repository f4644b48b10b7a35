#include "models/lenet5.h"

#include "ops/pool.h"

namespace mpq::models {

LeNet5::LeNet5(const LeNet5Options& o) {
  Generator gen(o.seed);
  const QuantConfig& q = o.quant;
  conv1_ = register_module(
      "conv1", std::make_shared<QConv2d>(Conv2dOptions{o.in_channels, 6, 5, 1, 2, 1, true},
                                         q.weight_choice("conv1"), gen));
  act_[0] = register_module("act1", std::make_shared<ActQuant>(q.activation_choice("act1")));
  conv2_ =
      register_module("conv2", std::make_shared<QConv2d>(Conv2dOptions{6, 16, 5, 1, 0, 1, true},
                                                         q.weight_choice("conv2"), gen));
  act_[1] = register_module("act2", std::make_shared<ActQuant>(q.activation_choice("act2")));
  fc1_ = register_module("fc1",
                         std::make_shared<QLinear>(400, 120, true, q.weight_choice("fc1"), gen));
  act_[2] = register_module("act3", std::make_shared<ActQuant>(q.activation_choice("act3")));
  fc2_ =
      register_module("fc2", std::make_shared<QLinear>(120, 84, true, q.weight_choice("fc2"), gen));
  act_[3] = register_module("act4", std::make_shared<ActQuant>(q.activation_choice("act4")));
  fc3_ = register_module(
      "fc3", std::make_shared<QLinear>(84, o.num_classes, true, q.weight_choice("fc3"), gen));
}

Tensor LeNet5::forward(const Tensor& x) {
  MPQ_CHECK(x.dim() == 4 && x.shape()[2] == 28 && x.shape()[3] == 28,
            "LeNet5: expected input [N, C, 28, 28], got ", shape_str(x.shape()));
  const Pool2dParams pool{};
  Tensor h = max_pool2d(act_[0]->forward(conv1_->forward(x)), pool);
  h = max_pool2d(act_[1]->forward(conv2_->forward(h)), pool);
  h = act_[2]->forward(fc1_->forward(h.flatten(1)));
  h = act_[3]->forward(fc2_->forward(h));
  return fc3_->forward(h);
}

}  // namespace mpq::models
