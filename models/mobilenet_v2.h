// MobileNetV2 (Sandler et al. 2018; torchvision's layout, width 1.0):
// conv 3x3/2 (32) + BN + ReLU6, 17 inverted residual blocks (expand 1x1 +
// BN + ReLU6 when t > 1, depthwise 3x3 + BN + ReLU6, linear 1x1 projection +
// BN; a residual where stride is 1 and channels match), conv 1x1 to 1280 +
// BN + ReLU6, global average pooling, dropout 0.2, linear 1280 -> classes.
// 3,504,872 parameters for 1000 classes. Quantized: every conv, the FC, and
// the ReLU6 outputs (an unsigned quantizer in their place).
#pragma once

#include "models/quantized.h"

namespace mpq::models {

struct MobileNetV2Options {
  std::int64_t in_channels = 3, num_classes = 1000;
  QuantConfig quant;
  std::uint64_t seed = 0;
};

class MobileNetV2 : public Module {
 public:
  explicit MobileNetV2(const MobileNetV2Options& o);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<Sequential> features_, classifier_;
};

}  // namespace mpq::models
