// The model zoo by name: resnet20, resnet32, resnet56 (CIFAR, 32x32),
// resnet18 and mobilenet_v2 (ImageNet, 224x224), lenet5 (28x28).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/quantized.h"
#include "models/resnet_cifar.h"

namespace mpq::models {

struct ModelOptions {
  std::int64_t in_channels = 0;  // 0: the model's usual (1 for LeNet-5, 3 otherwise)
  std::int64_t num_classes = 0;  // 0: the model's usual (10 for CIFAR/LeNet, 1000 for ImageNet)
  Shortcut shortcut = Shortcut::A;
  QuantConfig quant;
  std::uint64_t seed = 0;
};

std::vector<std::string> model_names();
// Errors list the known names.
std::shared_ptr<Module> make_model(const std::string& name, const ModelOptions& options);
// The input shape [1, C, H, W] a model expects (in_channels 0: its usual).
Shape model_input_shape(const std::string& name, std::int64_t in_channels = 0);

}  // namespace mpq::models
