#include "models/resnet_cifar.h"

#include <cmath>

#include "models/fused.h"
#include "ops/elementwise.h"
#include "ops/pool.h"
#include "ops/shape.h"

namespace mpq::models {

namespace {
// He initialisation for convs (fan_in, ReLU gain), as in the paper's code.
void kaiming(Tensor w, Generator& gen) {
  kaiming_normal_(w, std::sqrt(2.0), gen);
}
}  // namespace

BasicBlockCifar::BasicBlockCifar(const std::string& name, std::int64_t in, std::int64_t out,
                                 std::int64_t stride, Shortcut shortcut, const QuantConfig& q,
                                 Generator& gen)
    : in_(in), out_(out), stride_(stride) {
  auto conv = [&](const std::string& n, std::int64_t ci, std::int64_t co, std::int64_t k,
                  std::int64_t s) {
    auto c = std::make_shared<QConv2d>(Conv2dOptions{ci, co, k, s, k / 2},
                                       q.weight_choice(join_name(name, n)), gen);
    kaiming(c->weight, gen);
    c->init_quantizers_from_weights();
    return c;
  };
  conv1_ = register_module("conv1", conv("conv1", in, out, 3, stride));
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(out));
  act1_ = register_module("act1",
                          std::make_shared<ActQuant>(q.activation_choice(join_name(name, "act1"))));
  conv2_ = register_module("conv2", conv("conv2", out, out, 3, 1));
  bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(out));
  if (shortcut == Shortcut::B && (stride != 1 || in != out)) {
    projection_ = std::make_shared<Sequential>();
    projection_->push_back(conv("shortcut.0", in, out, 1, stride));
    projection_->push_back(std::make_shared<BatchNorm2d>(out));
    register_module("shortcut", projection_);
  }
  act2_ = register_module("act2",
                          std::make_shared<ActQuant>(q.activation_choice(join_name(name, "act2"))));
}

Tensor BasicBlockCifar::forward(const Tensor& x) {
  const Tensor h = conv_bn_act(*conv1_, *bn1_, act1_.get(), x);
  Tensor s = x;
  if (projection_) {
    s = projection_->forward(x);
  } else if (stride_ != 1 || in_ != out_) {
    // Option A: x[:, :, ::stride, ::stride], zero-padded to out channels.
    s = subsample(subsample(x, 2, stride_), 3, stride_);
    const std::int64_t extra = out_ - in_, before = extra / 2;
    s = pad(s, {{before, extra - before}, {0, 0}, {0, 0}});
  }
  return conv_bn_act(*conv2_, *bn2_, act2_.get(), h, s);  // act2(bn2(conv2(h)) + s)
}

ResNetCifar::ResNetCifar(const ResNetCifarOptions& o) {
  MPQ_CHECK(o.depth >= 8 && (o.depth - 2) % 6 == 0, "ResNetCifar: depth ", o.depth,
            " is not 6n + 2 (20, 32, 44, 56, 110, ...)");
  MPQ_CHECK(o.in_channels > 0 && o.num_classes > 0, "ResNetCifar: invalid channel or class count");
  Generator gen(o.seed);
  const int n = (o.depth - 2) / 6;
  conv1_ =
      register_module("conv1", std::make_shared<QConv2d>(Conv2dOptions{o.in_channels, 16, 3, 1, 1},
                                                         o.quant.weight_choice("conv1"), gen));
  kaiming(conv1_->weight, gen);
  conv1_->init_quantizers_from_weights();
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(16));
  act1_ = register_module("act1", std::make_shared<ActQuant>(o.quant.activation_choice("act1")));
  std::int64_t in = 16;
  const std::int64_t widths[3] = {16, 32, 64};
  for (int stage = 0; stage < 3; ++stage) {
    layers_[stage] = std::make_shared<Sequential>();
    const std::string lname = "layer" + std::to_string(stage + 1);
    for (int b = 0; b < n; ++b) {
      const std::int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
      layers_[stage]->push_back(std::make_shared<BasicBlockCifar>(
          lname + "." + std::to_string(b), in, widths[stage], stride, o.shortcut, o.quant, gen));
      in = widths[stage];
    }
    register_module(lname, layers_[stage]);
  }
  fc_ = register_module(
      "fc", std::make_shared<QLinear>(64, o.num_classes, true, o.quant.weight_choice("fc"), gen));
}

Tensor ResNetCifar::forward(const Tensor& x) {
  MPQ_CHECK(x.dim() == 4 && x.shape()[2] >= 8 && x.shape()[3] >= 8,
            "ResNetCifar: expected input [N, C, H, W] ", "with H, W >= 8, got ",
            shape_str(x.shape()));
  Tensor h = conv_bn_act(*conv1_, *bn1_, act1_.get(), x);
  for (auto& l : layers_) h = l->forward(h);
  return fc_->forward(global_avg_pool2d(h).flatten(1));
}

}  // namespace mpq::models
