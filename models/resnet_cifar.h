// ResNet-20/32/56 for CIFAR (He et al. 2016, section 4.2), as in docs/method.md section 6:
// a 3x3 conv to 16 channels, three stages of n basic blocks (16, 32, 64
// channels; depth = 6n + 2), global average pooling and a linear classifier.
// Convs have no bias and are followed by BN. Shortcut option A (the paper's):
// identity, subsampled by 2 and zero-padded in channels where the shape
// changes; option B: 1x1 conv + BN projection there.
//
// Quantization (when configured): every conv, the FC weight and bias, and the
// 19 activations (stem + two per block) in place of the ReLUs.
// Layer names: conv1, bn1, act1, layer{1,2,3}.{i}.{conv1,bn1,act1,conv2,bn2,act2,shortcut}, fc.
#pragma once

#include "models/quantized.h"

namespace mpq::models {

enum class Shortcut { A, B };

struct ResNetCifarOptions {
  int depth = 20;
  std::int64_t in_channels = 3, num_classes = 10;
  Shortcut shortcut = Shortcut::A;
  QuantConfig quant;
  std::uint64_t seed = 0;
};

class BasicBlockCifar : public Module {
 public:
  BasicBlockCifar(const std::string& name, std::int64_t in, std::int64_t out, std::int64_t stride,
                  Shortcut shortcut, const QuantConfig& q, Generator& gen);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<QConv2d> conv1_, conv2_;
  std::shared_ptr<BatchNorm2d> bn1_, bn2_;
  std::shared_ptr<ActQuant> act1_, act2_;
  std::shared_ptr<Sequential> projection_;  // option B only
  std::int64_t in_, out_, stride_;
};

class ResNetCifar : public Module {
 public:
  explicit ResNetCifar(const ResNetCifarOptions& o);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<QConv2d> conv1_;
  std::shared_ptr<BatchNorm2d> bn1_;
  std::shared_ptr<ActQuant> act1_;
  std::shared_ptr<Sequential> layers_[3];
  std::shared_ptr<QLinear> fc_;
};

}  // namespace mpq::models
