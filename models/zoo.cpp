#include "models/zoo.h"

#include "models/lenet5.h"
#include "models/mobilenet_v2.h"
#include "models/resnet18.h"

namespace mpq::models {

std::vector<std::string> model_names() {
  return {"resnet20", "resnet32", "resnet56", "resnet18", "mobilenet_v2", "lenet5"};
}

namespace {
std::string known() {
  std::string s;
  for (const auto& n : model_names()) s += (s.empty() ? "" : ", ") + n;
  return s;
}
}  // namespace

std::shared_ptr<Module> make_model(const std::string& name, const ModelOptions& options) {
  ModelOptions o = options;
  if (o.in_channels == 0) o.in_channels = name == "lenet5" ? 1 : 3;
  if (name == "resnet20" || name == "resnet32" || name == "resnet56") {
    ResNetCifarOptions r;
    r.depth = std::stoi(name.substr(6));
    r.in_channels = o.in_channels;
    r.num_classes = o.num_classes ? o.num_classes : 10;
    r.shortcut = o.shortcut;
    r.quant = o.quant;
    r.seed = o.seed;
    return std::make_shared<ResNetCifar>(r);
  }
  if (name == "resnet18")
    return std::make_shared<ResNet18>(
        ResNet18Options{o.in_channels, o.num_classes ? o.num_classes : 1000, o.quant, o.seed});
  if (name == "mobilenet_v2")
    return std::make_shared<MobileNetV2>(
        MobileNetV2Options{o.in_channels, o.num_classes ? o.num_classes : 1000, o.quant, o.seed});
  if (name == "lenet5")
    return std::make_shared<LeNet5>(
        LeNet5Options{o.in_channels, o.num_classes ? o.num_classes : 10, o.quant, o.seed});
  MPQ_FAIL("unknown model '", name, "' (known: ", known(), ")");
}

Shape model_input_shape(const std::string& name, std::int64_t in_channels) {
  if (in_channels == 0) in_channels = name == "lenet5" ? 1 : 3;
  if (name == "resnet18" || name == "mobilenet_v2") return {1, in_channels, 224, 224};
  if (name == "lenet5") return {1, in_channels, 28, 28};
  for (const auto& n : model_names())
    if (n == name) return {1, in_channels, 32, 32};
  MPQ_FAIL("unknown model '", name, "' (known: ", known(), ")");
}

}  // namespace mpq::models
