// A finished (or interrupted) training run's quantized network, rebuilt from
// its folder: config.json gives the model and its quantizers (read by the
// same parser the training programs use), a checkpoint of the quantized
// phase gives every weight, batch-norm statistic and quantizer parameter.
// `mpq export` and `mpq infer --compare` read runs through it.
#pragma once

#include <memory>
#include <string>

#include "examples/experiment_config.h"
#include "models/module.h"
#include "models/zoo.h"

namespace mpq::examples {

struct RunNetwork {
  std::string program;  // resnet_cifar or imagenet
  ExperimentConfig config;
  std::string data;        // the run's --data ("": Fashion-MNIST for resnet_cifar)
  std::string checkpoint;  // the file the weights came from
  std::int64_t in_channels = 0, num_classes = 0;
  std::int64_t image_size = 32;         // the square input training used (imagenet: --image-size)
  std::shared_ptr<models::Module> net;  // in eval mode
};

// The input channels and classes of `model` as a checkpoint's state has
// them: from its first 4-D and its last 2-D weight (the stem and the
// classifier); left as they are where the state lacks them.
void fit_to_state(const std::string& model, const models::NamedTensors& state,
                  models::ModelOptions& options);

// `which`: "last" (RUN_DIR/last.safetensors, the network summary.json
// describes), "best" (best.safetensors) or "float" (float.safetensors, the
// float network of the first phase, built without quantizers). Errors name
// the folder and file.
RunNetwork load_run_network(const std::string& run_dir, const std::string& which);

}  // namespace mpq::examples
