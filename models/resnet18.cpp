#include "models/resnet18.h"

#include <cmath>

#include "models/fused.h"
#include "ops/elementwise.h"
#include "ops/pool.h"

namespace mpq::models {

namespace {

class BasicBlock : public Module {
 public:
  BasicBlock(const std::string& name, std::int64_t in, std::int64_t out, std::int64_t stride,
             const QuantConfig& q, Generator& gen) {
    conv1_ = register_module("conv1", conv(name, "conv1", {in, out, 3, stride, 1}, q, gen));
    bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(out));
    act1_ = register_module(
        "act1", std::make_shared<ActQuant>(q.activation_choice(join_name(name, "act1"))));
    conv2_ = register_module("conv2", conv(name, "conv2", {out, out, 3, 1, 1}, q, gen));
    bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(out));
    if (stride != 1 || in != out) {
      downsample_ = std::make_shared<Sequential>();
      downsample_->push_back(conv(name, "downsample.0", {in, out, 1, stride, 0}, q, gen));
      downsample_->push_back(std::make_shared<BatchNorm2d>(out));
      register_module("downsample", downsample_);
    }
    act2_ = register_module(
        "act2", std::make_shared<ActQuant>(q.activation_choice(join_name(name, "act2"))));
  }
  Tensor forward(const Tensor& x) override {
    const Tensor h = conv_bn_act(*conv1_, *bn1_, act1_.get(), x);
    return conv_bn_act(*conv2_, *bn2_, act2_.get(), h, downsample_ ? downsample_->forward(x) : x);
  }
  static std::shared_ptr<QConv2d> conv(const std::string& block, const std::string& n,
                                       Conv2dOptions o, const QuantConfig& q, Generator& gen) {
    auto c = std::make_shared<QConv2d>(o, q.weight_choice(join_name(block, n)), gen);
    kaiming_normal_(c->weight, std::sqrt(2.0), gen);  // fan_in here; torchvision uses fan_out
    c->init_quantizers_from_weights();
    return c;
  }

 private:
  std::shared_ptr<QConv2d> conv1_, conv2_;
  std::shared_ptr<BatchNorm2d> bn1_, bn2_;
  std::shared_ptr<ActQuant> act1_, act2_;
  std::shared_ptr<Sequential> downsample_;
};

}  // namespace

ResNet18::ResNet18(const ResNet18Options& o) {
  Generator gen(o.seed);
  // The stem keeps torchvision's flat names: conv1, bn1, act1, maxpool.
  auto conv1 = register_module(
      "conv1", BasicBlock::conv("", "conv1", {o.in_channels, 64, 7, 2, 3}, o.quant, gen));
  auto bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(64));
  auto act1 =
      register_module("act1", std::make_shared<ActQuant>(o.quant.activation_choice("act1")));
  auto pool =
      register_module("maxpool", std::make_shared<MaxPool2d>(Pool2dParams{{3, 3}, {2, 2}, {1, 1}}));
  stem_ = std::make_shared<Sequential>();  // not registered: its layers already are
  for (std::shared_ptr<Module> m :
       std::initializer_list<std::shared_ptr<Module>>{conv1, bn1, act1, pool})
    stem_->push_back(m);
  std::int64_t in = 64;
  for (int s = 0; s < 4; ++s) {
    const std::int64_t width = 64 << s;
    const std::string lname = "layer" + std::to_string(s + 1);
    layers_[s] = std::make_shared<Sequential>();
    for (int b = 0; b < 2; ++b) {
      layers_[s]->push_back(std::make_shared<BasicBlock>(lname + "." + std::to_string(b), in, width,
                                                         s > 0 && b == 0 ? 2 : 1, o.quant, gen));
      in = width;
    }
    register_module(lname, layers_[s]);
  }
  fc_ = register_module(
      "fc", std::make_shared<QLinear>(512, o.num_classes, true, o.quant.weight_choice("fc"), gen));
}

Tensor ResNet18::forward(const Tensor& x) {
  Tensor h = stem_->forward(x);
  for (auto& l : layers_) h = l->forward(h);
  return fc_->forward(global_avg_pool2d(h).flatten(1));
}

}  // namespace mpq::models
