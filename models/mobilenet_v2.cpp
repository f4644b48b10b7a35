#include "models/mobilenet_v2.h"

#include <cmath>

#include "ops/elementwise.h"
#include "ops/pool.h"

namespace mpq::models {

namespace {

// conv + BN (+ ReLU6 as an activation quantizer), names "<i>.0", "<i>.1", "<i>.2".
std::shared_ptr<Sequential> conv_bn(const std::string& name, Conv2dOptions o, bool act,
                                    const QuantConfig& q, Generator& gen) {
  auto s = std::make_shared<Sequential>();
  auto c = std::make_shared<QConv2d>(o, q.weight_choice(join_name(name, "0")), gen);
  kaiming_normal_(c->weight, std::sqrt(2.0), gen);
  c->init_quantizers_from_weights();
  s->push_back(c);
  s->push_back(std::make_shared<BatchNorm2d>(o.out));
  if (act)
    s->push_back(std::make_shared<ActQuant>(q.activation_choice(join_name(name, "2")), true));
  return s;
}

class InvertedResidual : public Module {
 public:
  InvertedResidual(const std::string& name, std::int64_t in, std::int64_t out, std::int64_t stride,
                   std::int64_t expand, const QuantConfig& q, Generator& gen)
      : residual_(stride == 1 && in == out) {
    const std::int64_t hidden = in * expand;
    auto body = std::make_shared<Sequential>();
    const std::string b = join_name(name, "conv");
    int i = 0;
    if (expand != 1)
      body->push_back(conv_bn(b + "." + std::to_string(i++), {in, hidden, 1}, true, q, gen));
    body->push_back(conv_bn(b + "." + std::to_string(i++), {hidden, hidden, 3, stride, 1, hidden},
                            true, q, gen));
    // The linear bottleneck: 1x1 projection + BN, no activation.
    auto proj = conv_bn(b + "." + std::to_string(i), {hidden, out, 1}, false, q, gen);
    body_ = register_module("conv", body);
    body_->push_back(proj);
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = body_->forward(x);
    return residual_ ? add(x, h) : h;
  }

 private:
  std::shared_ptr<Sequential> body_;
  bool residual_;
};

}  // namespace

MobileNetV2::MobileNetV2(const MobileNetV2Options& o) {
  Generator gen(o.seed);
  features_ = register_module("features", std::make_shared<Sequential>());
  features_->push_back(conv_bn("features.0", {o.in_channels, 32, 3, 2, 1}, true, o.quant, gen));
  // t (expansion), c (channels), n (repeats), s (first stride)
  const int settings[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                              {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  std::int64_t in = 32;
  int index = 1;
  for (const auto& st : settings)
    for (int r = 0; r < st[2]; ++r, ++index) {
      features_->push_back(std::make_shared<InvertedResidual>(
          "features." + std::to_string(index), in, st[1], r == 0 ? st[3] : 1, st[0], o.quant, gen));
      in = st[1];
    }
  features_->push_back(
      conv_bn("features." + std::to_string(index), {in, 1280, 1}, true, o.quant, gen));
  classifier_ = register_module("classifier", std::make_shared<Sequential>());
  classifier_->push_back(std::make_shared<Dropout>(0.2, o.seed + 1));
  classifier_->push_back(std::make_shared<QLinear>(1280, o.num_classes, true,
                                                   o.quant.weight_choice("classifier.1"), gen));
}

Tensor MobileNetV2::forward(const Tensor& x) {
  return classifier_->forward(global_avg_pool2d(features_->forward(x)).flatten(1));
}

}  // namespace mpq::models
