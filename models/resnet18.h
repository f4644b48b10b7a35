// ResNet-18 for ImageNet (He et al. 2016; torchvision's layout and names):
// conv 7x7/2 (64) + BN + ReLU, max pool 3x3/2, four stages of two basic
// blocks (64, 128, 256, 512; stride 2 from the second stage, with a 1x1 conv +
// BN "downsample" projection), global average pooling, linear 512 -> classes.
// 11,689,512 parameters for 1000 classes (BN and FC included).
#pragma once

#include "models/quantized.h"

namespace mpq::models {

struct ResNet18Options {
  std::int64_t in_channels = 3, num_classes = 1000;
  QuantConfig quant;
  std::uint64_t seed = 0;
};

class ResNet18 : public Module {
 public:
  explicit ResNet18(const ResNet18Options& o);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<Sequential> stem_, layers_[4];
  std::shared_ptr<QLinear> fc_;
};

}  // namespace mpq::models
